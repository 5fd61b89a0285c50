"""The README's "First steps against the running service" block, run as written against a real
`takedown serve` (only the port is changed, to a free one): the commands work on this machine
(the venv's Python, not a bare ``python3``), the resized copy of a photo in the example bank is
blocked, and, since the example bank is one of the policy's child-abuse banks, the block opens
a case and a CyberTipline draft, as the README says."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy import select

from takedown.store.db import Database
from takedown.store.models import Case, CyberTipReport
from tests.browser_support import free_port

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def _block() -> str:
    text = README.read_text()
    section = text.split("### First steps against the running service", 1)[1]
    found = re.search(r"```sh\n(.*?)```", section, re.S)
    assert found is not None
    return found.group(1)


def test_the_first_steps_block_does_what_it_says(tmp_path: Path, shared_data: Path) -> None:
    # the README is run from a checkout beside ../shared, with the venv at .venv
    work = tmp_path / "checkout"
    work.mkdir()
    (tmp_path / "shared").symlink_to(shared_data.parent)
    (work / ".venv").symlink_to(Path(sys.prefix))
    port = free_port()
    home = work / "takedown-data"
    env = {**os.environ, "TAKEDOWN_HOME": str(home), "TAKEDOWN_PORT": str(port)}
    env.pop("TAKEDOWN_CONFIG", None)
    server = subprocess.Popen(
        [str(work / ".venv" / "bin" / "takedown"), "serve"],
        cwd=work,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            assert time.monotonic() < deadline, "takedown serve did not become ready"
            time.sleep(0.3)
        script = _block().replace("localhost:8000", f"localhost:{port}")
        ran = subprocess.run(
            ["bash", "-eu", "-c", script],
            cwd=work,
            env={k: v for k, v in env.items() if k != "TAKEDOWN_HOME"},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert ran.returncode == 0, ran.stderr
        # curl prints each answer without a newline: the upload's is the one with a verdict
        upload = ran.stdout
        assert '"verdict":"block"' in upload and '"bank":"ncmec-csam"' in upload, upload
        case_id = re.search(r'"case_id":"(\d+)"', upload)
        assert case_id is not None, upload
        assert '"secret":"whsec_' in upload  # the webhook line's answer
    finally:
        server.terminate()
        server.wait(timeout=30)
    db = Database(f"sqlite:///{home / 'takedown.db'}")
    try:
        with db.read() as session:
            case = session.get(Case, int(case_id.group(1)))
            assert case is not None and case.category == "child_sexual_abuse"
            drafts = session.execute(
                select(CyberTipReport).where(CyberTipReport.case_id == case.id)
            ).scalars()
            assert [tip.state for tip in drafts] == ["draft"]
    finally:
        db.dispose()
