"""Helpers shared by the benchmarks: where the media is, timing, and writing results."""

from __future__ import annotations

import json
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results"


def require_data() -> Path:
    if not SHARED_DATA.is_dir():
        raise SystemExit(f"the shared media folder {SHARED_DATA} is missing; check out shared/")
    return SHARED_DATA


def timed_rounds(fn: Callable[[], object], rounds: int) -> list[float]:
    """Wall time of ``rounds`` runs of ``fn``; the median of these is what gets reported."""
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return times


def median(values: list[float]) -> float:
    return statistics.median(values)


def write_results(name: str, payload: dict[str, Any], markdown: str) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {"machine": f"{platform.machine()} {platform.python_version()}", **payload}
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=2) + "\n")
    (RESULTS / f"{name}.md").write_text(markdown + "\n")
    print(f"\nwrote {RESULTS / (name + '.json')} and {RESULTS / (name + '.md')}")
