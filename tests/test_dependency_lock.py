"""The hash-pinned lock covers what pyproject.toml asks for, and ``make audit`` tells a found
vulnerability (fail), a clean audit (pass) and an advisory service it could not reach (NOT
AUDITED, never a silent pass) apart, from pip-audit's own JSON reports."""

from __future__ import annotations

import importlib.util
import re
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements" / "lock.txt"


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_names(lines: list[str]) -> set[str]:
    names = set()
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if line:
            names.add(_canonical(re.split(r"[\s<>=!~;\[]", line, maxsplit=1)[0]))
    return names


@pytest.fixture(scope="module")
def locked() -> dict[str, list[str]]:
    """Name -> hashes of every pin in the lock."""
    pins: dict[str, list[str]] = {}
    current = ""
    for line in LOCK.read_text().splitlines():
        if re.match(r"^[A-Za-z0-9]", line):
            name, version = line.split(" ", 1)[0].split("==")
            assert version, line
            current = _canonical(name)
            pins[current] = []
        elif "--hash=sha256:" in line:
            pins[current].append(line.split("--hash=sha256:", 1)[1].split()[0])
    return pins


@pytest.fixture(scope="module")
def audit() -> ModuleType:
    name = "requirements_audit"
    spec = importlib.util.spec_from_file_location(name, ROOT / "requirements" / "audit.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_the_lock_pins_every_dependency_with_hashes(locked: dict[str, list[str]]) -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = _requirement_names(project["dependencies"])
    for extra in ("dev", "bench", "docs"):
        wanted |= _requirement_names(project["optional-dependencies"][extra])
    wanted |= _requirement_names((ROOT / "requirements" / "build.in").read_text().splitlines())
    assert wanted - set(locked) == set(), "run make lock"
    assert all(len(hashes) >= 1 for hashes in locked.values()), "every pin has its hashes"
    assert "torch" not in locked, "nothing pulls in torch"


def _report(*dependencies: dict[str, object]) -> dict[str, object]:
    return {"dependencies": list(dependencies), "fixes": []}


def test_a_known_vulnerability_fails(audit: ModuleType) -> None:
    outcome = audit.classify(
        _report(
            {"name": "jinja2", "version": "3.1.2", "vulns": [{"id": "GHSA-h5c8-rqwp-cp95"}]},
            {"name": "numpy", "version": "2.4.6", "vulns": []},
        )
    )
    code, lines = audit.conclude("pypi", outcome)
    assert code == 1
    assert "jinja2==3.1.2: GHSA-h5c8-rqwp-cp95" in "\n".join(lines)


def test_a_clean_audit_passes(audit: ModuleType) -> None:
    outcome = audit.classify(_report({"name": "numpy", "version": "2.4.6", "vulns": []}))
    assert audit.conclude("pypi", outcome) == (
        0,
        ["audit (pypi): 1 locked packages, no known vulnerabilities"],
    )


def test_a_service_that_skips_everything_was_not_reached(audit: ModuleType) -> None:
    # what pip-audit writes here, where PyPI's per-release JSON API answers 404: it calls
    # each package "not found on PyPI" and, left alone, says "No known vulnerabilities found"
    reason = "Dependency not found on PyPI and could not be audited: numpy (2.4.6)"
    outcome = audit.classify(
        _report({"name": "numpy", "skip_reason": reason}, {"name": "rich", "skip_reason": reason})
    )
    assert outcome.unreachable
    assert audit.conclude("pypi", outcome) is None  # try the next service, then NOT AUDITED


def test_a_partial_audit_is_not_a_pass(audit: ModuleType) -> None:
    outcome = audit.classify(
        _report(
            {"name": "numpy", "version": "2.4.6", "vulns": []},
            {"name": "rich", "skip_reason": "Dependency not found on PyPI"},
        )
    )
    code, lines = audit.conclude("pypi", outcome)
    assert code == audit.NOT_AUDITED
    assert "rich" in "\n".join(lines)
