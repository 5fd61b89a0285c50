"""The CLI imports only what a command uses: what a start-up loads, checked in real processes.

Not a timing test: it checks which modules a fresh interpreter holds after a command, which is
what start-up time follows (NumPy, FastAPI, SQLAlchemy and PyAV each cost 0.1-0.5 s to import).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from takedown.cli.hashing import FILES_PER_WORKER, workers_for
from takedown.cli.main import app, lazy

HEAVY = ("numpy", "fastapi", "sqlalchemy", "av", "PIL", "starlette", "numba")

_PROBE = """
import json, sys
from takedown.cli.main import app
try:
    app(sys.argv[1:], prog_name="takedown")
except SystemExit as exc:
    code = exc.code
else:
    code = 0
print(json.dumps({"code": code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""


def _probe(*args: str) -> tuple[int, set[str], str]:
    """Run the CLI in a fresh interpreter; its exit code, loaded top-level modules and stdout."""
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    report = json.loads(proc.stderr.strip().splitlines()[-1])
    top = {name.split(".")[0] for name in report["modules"]}
    return int(report["code"] or 0), top, proc.stdout


def test_help_imports_no_heavy_library_and_lists_every_command() -> None:
    code, modules, out = _probe("--help")
    assert code == 0
    assert sorted(modules & set(HEAVY)) == []
    group = typer.main.get_group(app)
    names = group.list_commands(typer.Context(group))
    for name in ("hash", "match", "scan", "bank", "serve", "worker", "demo", "db", "keys"):
        assert name in names
    for name in names:  # every command, eager or lazy, is in the listing
        assert f" {name} " in out, name


def test_hashing_a_photo_loads_no_service_and_no_video_decoder(shared_data: Path) -> None:
    photo = sorted((shared_data / "photos").glob("*.jpg"))[0]
    code, modules, out = _probe("hash", "--json", str(photo))
    assert code == 0
    assert json.loads(out)["media"] == "image"
    assert sorted(modules & {"fastapi", "sqlalchemy", "av", "starlette", "numba"}) == []


def test_a_lazy_group_still_runs_and_shows_its_own_help() -> None:
    code, _, out = _probe("db", "--help")
    assert code == 0
    assert "upgrade" in out
    code, _, _ = _probe("no-such-command")
    assert code == 2


def _first_paragraph(text: str) -> str:
    return " ".join(text.split("\n\n")[0].split())


@pytest.mark.parametrize("name", sorted(lazy.entries))
def test_lazy_help_line_is_the_commands_own(name: str) -> None:
    """The listing shows the registry's line without importing the command; it must be the
    line the command itself would show."""
    entry = lazy.entries[name]
    loaded = entry.load()
    assert loaded.name == name
    assert _first_paragraph(loaded.help or "") == entry.help


def test_worker_processes_only_for_enough_files() -> None:
    assert workers_for(1, 8) == 1
    assert workers_for(FILES_PER_WORKER * 2 - 1, 2) == 1
    assert workers_for(FILES_PER_WORKER * 2, 2) == 2
    assert workers_for(1000, 2) == 2
    assert workers_for(1000, 1) == 1
