"""``make audit``: the locked dependencies against published advisories, with pip-audit.

pip-audit reports a package it could not look up as *skipped* and still exits 0 with "No
known vulnerabilities found", so a machine that cannot reach the advisory service would pass
silently. This script reads pip-audit's JSON report instead and ends with one of:

- 0: every locked package was looked up; none has a known vulnerability;
- 1: a known vulnerability (listed), or pip-audit failed for another reason;
- 3: NOT AUDITED: no advisory service answered for every package (the reason is printed).
  CI tolerates this one code, loudly; a developer running ``make audit`` sees it fail.

Services are tried in order: PyPI's advisory data (the JSON API per release), then OSV.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LOCK = Path(__file__).resolve().parent / "lock.txt"
SERVICES = ("pypi", "osv")
NOT_AUDITED = 3
TIMEOUT_S = 600
_NETWORK_SIGNS = (
    "ConnectionError",
    "NameResolutionError",
    "Max retries exceeded",
    "Temporary failure in name resolution",
    "timed out",
    "ServiceError",
)


@dataclass
class Outcome:
    """What one pip-audit run found: ``vulnerable`` (name, version, ids), ``skipped``
    (name, reason) and how many packages it looked at."""

    audited: int = 0
    vulnerable: list[tuple[str, str, list[str]]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    unreachable: str = ""


def classify(report: dict[str, Any]) -> Outcome:
    """Read pip-audit's ``--format json`` report."""
    outcome = Outcome()
    for dependency in report.get("dependencies", []):
        name = str(dependency.get("name", "?"))
        if "skip_reason" in dependency:
            outcome.skipped.append((name, str(dependency["skip_reason"])))
            continue
        outcome.audited += 1
        vulns = dependency.get("vulns") or []
        if vulns:
            ids = [str(v.get("id", "?")) for v in vulns]
            outcome.vulnerable.append((name, str(dependency.get("version", "?")), ids))
    if outcome.skipped and not outcome.audited:
        outcome.unreachable = f"every package was skipped, e.g. {outcome.skipped[0][1]}"
    return outcome


def locked(lock: Path) -> dict[str, str]:
    """Name -> version of every package pinned in ``lock``."""
    pins = (line.split(" ", 1)[0] for line in lock.read_text().splitlines())
    return dict(pin.split("==", 1) for pin in pins if "==" in pin and not pin.startswith("#"))


def release_json_status(name: str, version: str) -> str:
    """What PyPI's per-release JSON API (the one pip-audit asks) answers from here: pip-audit
    reads any failure there as "not on PyPI", which hides a network that blocks it."""
    url = f"https://pypi.org/pypi/{name}/{version}/json"
    try:
        with urllib.request.urlopen(url, timeout=30) as answer:
            return f"{url} answers {answer.status}"
    except urllib.error.HTTPError as exc:
        return f"{url} answers HTTP {exc.code}"
    except OSError as exc:
        return f"{url} cannot be reached: {exc}"


def run_pip_audit(service: str, lock: Path) -> Outcome:
    with tempfile.TemporaryDirectory() as folder:
        report_path = Path(folder) / "report.json"
        command = [
            sys.executable,
            "-m",
            "pip_audit",
            "--disable-pip",
            "--require-hashes",
            "--requirement",
            str(lock),
            "--vulnerability-service",
            service,
            "--format",
            "json",
            "--output",
            str(report_path),
            "--progress-spinner",
            "off",
        ]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=TIMEOUT_S, check=False
            )
        except subprocess.TimeoutExpired:
            return Outcome(unreachable=f"no answer within {TIMEOUT_S} s")
        if report_path.exists() and report_path.stat().st_size:
            outcome = classify(json.loads(report_path.read_text()))
            if outcome.unreachable and service == "pypi":
                name, version = next(iter(locked(lock).items()))
                outcome.unreachable += f" ({release_json_status(name, version)})"
            return outcome
        errors = done.stderr.strip()
        if any(sign in errors for sign in _NETWORK_SIGNS):
            last = errors.splitlines()[-1] if errors else "no output"
            return Outcome(unreachable=last[:300])
        raise RuntimeError(f"pip-audit failed (exit {done.returncode}):\n{errors[-3000:]}")


def conclude(service: str, outcome: Outcome) -> tuple[int, list[str]] | None:
    """The exit code and what to print for ``outcome``; ``None`` when ``service`` could not
    be reached, so that the next one is tried."""
    if outcome.vulnerable:
        lines = [f"audit ({service}): KNOWN VULNERABILITIES in the locked dependencies:"]
        for name, version, ids in outcome.vulnerable:
            lines.append(f"  {name}=={version}: {', '.join(ids)}")
        lines.append("raise their bounds (pyproject.toml, requirements/build.in), then make lock")
        return 1, lines
    if outcome.unreachable:
        return None
    if outcome.skipped:
        lines = [f"audit ({service}): {outcome.audited} packages checked, but NOT these:"]
        lines += [f"  {name}: {reason}" for name, reason in outcome.skipped]
        return NOT_AUDITED, lines
    return 0, [f"audit ({service}): {outcome.audited} locked packages, no known vulnerabilities"]


def main() -> int:
    lock = Path(sys.argv[1]) if len(sys.argv) > 1 else LOCK
    reasons = []
    for service in SERVICES:
        try:
            outcome = run_pip_audit(service, lock)
        except RuntimeError as exc:
            print(f"audit: {exc}", file=sys.stderr)
            return 1
        concluded = conclude(service, outcome)
        if concluded is not None:
            code, lines = concluded
            print("\n".join(lines))
            return code
        reasons.append(f"{service}: {outcome.unreachable}")
    print("audit: NOT AUDITED: no advisory service could be reached from this machine:")
    for reason in reasons:
        print(f"  {reason}")
    return NOT_AUDITED


if __name__ == "__main__":
    sys.exit(main())
