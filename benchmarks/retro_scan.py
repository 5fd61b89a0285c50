"""Retro-scan benchmark: new bank entries against the PDQ signals of the content already on the
platform, takedown's sweep (index the entries, stream the content through) against a brute-force
scan measured in the same run.

Run: ``.venv/bin/python benchmarks/retro_scan.py`` (defaults: 100,000 entries, 10,000,000
content signals; ``--entries 10000 --content 200000`` for a quick look). ``make bench-exchanges``
runs it when present.

Data (synthetic, seeded, clustered like real hashes): the content signals are near-duplicates
around centres (each a re-encoding 0-48 bits from its centre, about 20 per centre), with the
reference haystack's real PDQ hashes and the vPDQ reference frames at the front; the entries are
half random, half in clusters of ten (lists hold many near-identical hashes), and 1% planted 0-31
bits from a content signal (the known material already up). Every entry's threshold is 31.

Measured in one process, one thread unless ``--threads``: the entries' index build, the sweep of
all content (generated chunk by chunk: the stream), matches found; the brute-force scan (every
content signal against every entry, the same compiled distance) on a sample of the content, its
rate extrapolated to the whole; recall of the sweep against brute force on that sample and over
every planted pair (must be 1.0). Then, unless ``--no-service``, the service path on SQLite
(``scan_pending``: entries and content signals read from the database, cases written) at a
smaller size. Timings on a shared machine are noisy; the ratio within one run is what counts.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from _common import SHARED_DATA, write_results
from takedown.matching.pdq_index import format_hash
from takedown.matching.sweep import EntrySweep, SweepHits, brute_force

THRESHOLD = 31
SEED = 11


def _flip_masks(rng: np.random.Generator, count: int, max_bits: int) -> np.ndarray:
    """``count`` masks of 256 bits, each with about uniform(0, max_bits) bits set."""
    share = rng.uniform(0, max_bits / 256, (count, 1))
    bits = rng.random((count, 256)) < share
    return np.packbits(bits, axis=1).view(">u8").astype(np.uint64)


def _exact_flips(rng: np.random.Generator, count: int, max_bits: int) -> np.ndarray:
    """``count`` masks with exactly uniform(0, max_bits) bits set (planted neighbours)."""
    wanted = rng.integers(0, max_bits + 1, (count, 1))
    ranks = np.argsort(rng.random((count, 256)), axis=1)
    return np.packbits(ranks < wanted, axis=1).view(">u8").astype(np.uint64)


def real_or_none() -> np.ndarray:
    """The real, clustered hashes of ``benchmarks/index.py`` when the shared media is here
    (a machine without it runs on the synthetic clusters alone)."""
    if not SHARED_DATA.is_dir():
        return np.empty((0, 4), dtype=np.uint64)
    from index import real_hashes

    return real_hashes()


def _random(rng: np.random.Generator, count: int) -> np.ndarray:
    return rng.integers(0, 2**63, (count, 4), dtype=np.int64).astype(np.uint64) << np.uint64(
        1
    ) | rng.integers(0, 2, (count, 4)).astype(np.uint64)


def content_chunk(index: int, size: int, centres: np.ndarray, real: np.ndarray) -> np.ndarray:
    """Chunk ``index`` of the content signals: re-encodings around the centres (the first
    chunk starts with the real hashes). Deterministic per chunk, so the stream can be replayed."""
    rng = np.random.default_rng((SEED, index))
    picked = centres[rng.integers(0, len(centres), size)]
    chunk = picked ^ _flip_masks(rng, size, 48)
    if index == 0 and len(real):
        chunk[: min(size, len(real))] = real[:size]
    return chunk


def make_entries(
    count: int, centres: np.ndarray, first_chunk: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, int]:
    """Half random, half in clusters of ten, 1% planted near content of the first chunk;
    returns the entries and how many were planted (they come first)."""
    planted = max(1, count // 100)
    rows = first_chunk[rng.choice(len(first_chunk), planted, replace=False)]
    near = rows ^ _exact_flips(rng, planted, THRESHOLD)
    clustered = (count - planted) // 2
    cluster_centres = _random(rng, max(1, clustered // 10))
    around = cluster_centres[rng.integers(0, len(cluster_centres), clustered)]
    around ^= _flip_masks(rng, clustered, 40)
    rest = _random(rng, count - planted - clustered)
    return np.vstack([near, around, rest]), planted


def sweep_all(
    sweep: EntrySweep, content: np.ndarray, chunk: int, threads: int
) -> tuple[float, int]:
    """Stream the content through the sweep ``chunk`` rows at a time (``threads`` chunks at
    once); returns (seconds, matches)."""
    starts = range(0, len(content), chunk)

    def one(start: int) -> int:
        return len(sweep.match(content[start : start + chunk]))

    started = time.perf_counter()
    if threads <= 1:
        matched = sum(one(start) for start in starts)
    else:
        with ThreadPoolExecutor(threads) as pool:
            matched = sum(pool.map(one, starts))
    return time.perf_counter() - started, matched


def pairs(hits: SweepHits, limit_rows: int) -> set[tuple[int, int]]:
    keep = hits.queries < limit_rows
    return set(zip(hits.queries[keep].tolist(), hits.entries[keep].tolist(), strict=True))


def core(args: argparse.Namespace) -> dict[str, float]:
    rng = np.random.default_rng(SEED)
    real = real_or_none()
    centres = _random(rng, max(1, args.content // 20))
    chunk_size = min(args.chunk, args.content)
    chunks = max(1, args.content // chunk_size)
    started = time.perf_counter()
    content = np.vstack([content_chunk(i, chunk_size, centres, real) for i in range(chunks)])
    generated_s = time.perf_counter() - started
    first = content[:chunk_size]
    entries, planted = make_entries(args.entries, centres, first, rng)
    ids = np.arange(len(entries), dtype=np.int64)
    thresholds = np.full(len(entries), THRESHOLD, dtype=np.int32)
    EntrySweep(entries[:10], ids[:10], thresholds[:10]).match(first[:10])  # compile first
    brute_force(first[:2], entries[:10], thresholds[:10])

    started = time.perf_counter()
    sweep = EntrySweep(entries, ids, thresholds)
    build_s = time.perf_counter() - started

    sweep_s, matched = sweep_all(sweep, content, chunk_size, args.threads)

    sample = first[: args.sample]
    started = time.perf_counter()
    q, rows, _ = brute_force(sample, entries, thresholds)
    brute_sample_s = time.perf_counter() - started
    brute_full_s = brute_sample_s * (chunks * chunk_size) / len(sample)
    expected = set(zip(q.tolist(), ids[rows].tolist(), strict=True))
    got = pairs(sweep.match(sample), len(sample))
    recall_sample = len(got & expected) / len(expected) if expected else 1.0
    extra = len(got - expected)
    # every planted entry must find the content signal it was planted near
    found = sweep.match(first)
    planted_found = set(found.entries[found.entries < planted].tolist())
    recall_planted = len(planted_found) / planted
    total_s = build_s + sweep_s
    return {
        "entries": float(len(entries)),
        "content_signals": float(chunks * chunk_size),
        "threads": float(args.threads),
        "build_s": build_s,
        "sweep_s": sweep_s,
        "total_s": total_s,
        "generation_s_not_counted": generated_s,
        "matches": float(matched),
        "content_per_s": chunks * chunk_size / sweep_s,
        "brute_sample": float(len(sample)),
        "brute_sample_s": brute_sample_s,
        "brute_full_s_extrapolated": brute_full_s,
        "speedup": brute_full_s / total_s,
        "sample_pairs": float(len(expected)),
        "recall_sample": recall_sample,
        "extra_pairs": float(extra),
        "planted": float(planted),
        "recall_planted": recall_planted,
    }


def service_path(args: argparse.Namespace) -> dict[str, float]:
    """The worker's path on SQLite: ``scan_pending`` reading both sides from the database."""
    from sqlalchemy import insert

    from takedown.cases.policy import load_policy
    from takedown.service import retro_scan
    from takedown.store.db import Database
    from takedown.store.migrate import upgrade
    from takedown.store.models import Bank, BankEntry, Content, ContentSignal

    rng = np.random.default_rng(SEED + 1)
    content = _random(rng, args.service_content)
    entries = _random(rng, args.service_entries)
    planted = max(1, len(entries) // 100)
    entries[:planted] = content[:planted] ^ _exact_flips(rng, planted, THRESHOLD)
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        upgrade(url)
        db = Database(url)
        now = datetime.now(UTC)
        with db.write() as session:
            session.execute(
                insert(Content),
                [
                    {"content_id": f"c{i}", "verdict": "allow", "status": "live", "matches": []}
                    for i in range(len(content))
                ],
            )
            session.execute(
                insert(ContentSignal),
                [
                    {"content_pk": i + 1, "signal_type": "pdq", "value": format_hash(row)}
                    for i, row in enumerate(content)
                ],
            )
            bank = Bank(name="ncmec-csam", action="hold", created_by="bench")
            session.add(bank)
            session.flush()
            session.execute(
                insert(BankEntry),
                [
                    {
                        "bank_id": bank.id,
                        "signal_type": "pdq",
                        "value": format_hash(row),
                        "added_at": now,
                    }
                    for row in entries
                ],
            )
        policy = load_policy(None)
        started = time.perf_counter()
        reports = retro_scan.scan_pending(db, policy, batch=args.service_entries)
        seconds = time.perf_counter() - started
        db.dispose()
    cases = sum(len(r.cases) for r in reports)
    return {
        "entries": float(len(entries)),
        "content_signals": float(len(content)),
        "seconds": seconds,
        "cases": float(cases),
        "planted": float(planted),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--content", type=int, default=10_000_000)
    parser.add_argument("--chunk", type=int, default=100_000)
    parser.add_argument("--sample", type=int, default=2_000, help="brute-force sample size")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--service-entries", type=int, default=10_000)
    parser.add_argument("--service-content", type=int, default=200_000)
    parser.add_argument("--no-service", action="store_true")
    args = parser.parse_args()
    print(f"{args.entries:,} entries x {args.content:,} content signals ...", flush=True)
    result: dict[str, object] = {"core": core(args), "cpus": os.cpu_count()}
    c = result["core"]
    assert isinstance(c, dict)
    lines = [
        "| entries | content signals | threads | index build s | sweep s | matches "
        "| content/s | brute force s (extrapolated) | x brute force | recall (sample) "
        "| recall (planted) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {c['entries']:,.0f} | {c['content_signals']:,.0f} | {c['threads']:.0f} "
        f"| {c['build_s']:.2f} | {c['sweep_s']:.1f} | {c['matches']:,.0f} "
        f"| {c['content_per_s']:,.0f} | {c['brute_full_s_extrapolated']:,.0f} "
        f"| x{c['speedup']:,.0f} | {c['recall_sample']:.3f} ({c['sample_pairs']:.0f} pairs) "
        f"| {c['recall_planted']:.3f} |",
    ]
    if not args.no_service:
        print("service path (SQLite) ...", flush=True)
        s = service_path(args)
        result["service"] = s
        lines += [
            "",
            f"Service path on SQLite (`scan_pending`, both sides read from the database): "
            f"{s['entries']:,.0f} entries x {s['content_signals']:,.0f} content signals in "
            f"{s['seconds']:.1f} s, {s['cases']:,.0f} cases opened "
            f"({s['planted']:,.0f} planted).",
        ]
    markdown = "\n".join(lines)
    print(markdown)
    write_results("retro_scan", result, markdown)


if __name__ == "__main__":
    main()
