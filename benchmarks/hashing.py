"""Image hashing speed: takedown's PDQ path against python-threatexchange and plain pdqhash.

Run: ``make bench-hashing`` (or ``.venv/bin/python benchmarks/hashing.py``). One process, one
core; every method hashes the same files from memory-cached disk in the same run, several
rounds, and the median round is reported. Also reports how far the fast path's hash is from the
full-decode hash (the price of the speed).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np
import pdqhash
from PIL import Image
from threatexchange.signal_type.pdq.signal import PdqSignal

from _common import median, require_data, timed_rounds, write_results
from takedown.signals import HashOptions, Signal, hash_bytes
from takedown.signals.pdq import bits_to_hex, hamming

PDQ_ONLY = ("pdq",)


def threatexchange_pdq(path: Path) -> str:
    return str(PdqSignal.hash_from_file(path))


def pdqhash_full(path: Path) -> str:
    rgb = np.asarray(Image.open(path).convert("RGB"))
    return bits_to_hex(pdqhash.compute(rgb)[0])


def takedown_pdq(path: Path, options: HashOptions) -> str:
    signal = hash_bytes(path.read_bytes(), options, types=PDQ_ONLY).signals[0]
    assert isinstance(signal, Signal)
    return signal.value


WHOLE_PROCESS = "`takedown hash` as a command (start-up included)"


def whole_process(files: list[Path]) -> None:
    """The CLI as a script runs it: a fresh interpreter, its imports, its worker processes."""
    command = [sys.executable, "-m", "takedown", "hash", "--json", *map(str, files)]
    subprocess.run(command, check=True, capture_output=True)


def startup_s(rounds: int) -> float:
    """Median wall time of ``takedown --help`` (goal < 0.2 s): what every command pays first."""
    command = [sys.executable, "-m", "takedown", "--help"]
    return median(
        timed_rounds(lambda: subprocess.run(command, check=True, capture_output=True), rounds)
    )


def bench_folder(files: list[Path], rounds: int) -> dict[str, object]:
    fast = HashOptions(trim=False)
    everything = HashOptions()
    methods = {
        "threatexchange PdqSignal.hash_from_file": lambda: [threatexchange_pdq(f) for f in files],
        "pdqhash on a full decode": lambda: [pdqhash_full(f) for f in files],
        "takedown pdq (fast path)": lambda: [takedown_pdq(f, fast) for f in files],
        "takedown hash (pdq + trimmed + md5 + sha256)": lambda: [
            hash_bytes(f.read_bytes(), everything) for f in files
        ],
        WHOLE_PROCESS: lambda: whole_process(files),
    }
    for f in files:  # warm the page cache and every code path once
        threatexchange_pdq(f)
        takedown_pdq(f, fast)
    rates = {}
    for name, run in methods.items():
        seconds = median(timed_rounds(run, rounds))
        rates[name] = len(files) / seconds
    baseline = rates["threatexchange PdqSignal.hash_from_file"]
    distances = [
        hamming(takedown_pdq(f, fast), takedown_pdq(f, HashOptions(fast=False, trim=False)))
        for f in files
    ]
    return {
        "files": len(files),
        "images_per_s": rates,
        "ratio_vs_threatexchange": {k: v / baseline for k, v in rates.items()},
        "fast_vs_full_decode_bits": {
            "median": statistics.median(distances),
            "max": max(distances),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    data = require_data()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    results = {}
    for folder in ("photos-large", "photos"):
        files = sorted((data / folder).glob("*.jpg"))
        print(f"{folder}: {len(files)} files, {args.rounds} rounds ...", flush=True)
        results[folder] = bench_folder(files, args.rounds)
    help_s = startup_s(max(5, args.rounds))
    results["startup"] = {"help_s": help_s}
    lines = [
        f"`takedown --help`: {help_s:.3f} s (median of {max(5, args.rounds)}; goal < 0.2 s).",
        "",
        "| folder | method | images/s | x threatexchange |",
        "|---|---|---:|---:|",
    ]
    for folder, r in results.items():
        if folder == "startup":
            continue
        rates = r["images_per_s"]
        ratios = r["ratio_vs_threatexchange"]
        assert isinstance(rates, dict) and isinstance(ratios, dict)
        for name, rate in rates.items():
            lines.append(f"| {folder} | {name} | {rate:.1f} | x{ratios[name]:.1f} |")
    lines.append("")
    lines.append("| folder | fast path vs full decode: median bits | max bits |")
    lines.append("|---|---:|---:|")
    for folder, r in results.items():
        if folder == "startup":
            continue
        d = r["fast_vs_full_decode_bits"]
        assert isinstance(d, dict)
        lines.append(f"| {folder} | {d['median']} | {d['max']} |")
    markdown = "\n".join(lines)
    print(markdown)
    write_results("hashing", results, markdown)


if __name__ == "__main__":
    main()
