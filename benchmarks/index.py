"""PDQ index benchmark: takedown's index against faiss and numpy brute force.

Run: ``make bench-index`` (``--sizes 1000000 10000000`` by default; smaller for a quick look).
Data: random hashes plus real, clustered ones (the reference haystack and every vPDQ reference
frame); 1,000 queries, half real, half random with a planted neighbour at 0-31 bits. Every
method is measured in the same run with one thread: single-query median and p99 latency, batch
throughput, memory (RSS delta while building), build and load time, and recall against brute
force (must be 1.0). Then incremental adds: 100,000 hashes added one at a time to the built
index, each looked up by the very next query; the baseline is what a rebuild per change (as in
HMA) would cost, the build time of the same index in the same run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import faiss
import numpy as np

from _common import require_data, write_results
from takedown.matching.pdq_index import PdqIndex, distances, parse_hashes

THRESHOLD = 31
QUERIES = 1000
ADDS = 100_000


def rss_bytes() -> int:
    with Path("/proc/self/status").open() as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def real_hashes() -> np.ndarray:
    """Real, clustered PDQ hashes: the reference haystack and every vPDQ reference frame."""
    data = require_data() / "reference"
    values = (data / "pdq/images/reg-test-input/haystack.txt").read_text().split()
    for path in sorted((data / "vpdq/expected").glob("*.txt")):
        values += [line.split(",")[2] for line in path.read_text().splitlines() if "," in line]
    return parse_hashes(values)


def dataset(size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Random hashes with the real ones at the front; half the queries are real hashes (many
    neighbours: consecutive frames), half random ones with a planted neighbour at 0-31 bits."""
    real = real_hashes()
    hashes = rng.integers(0, 2**63, (size, 4), dtype=np.int64).astype(np.uint64) << np.uint64(1)
    hashes |= rng.integers(0, 2, (size, 4)).astype(np.uint64)
    hashes[: len(real)] = real
    planted = hashes[len(real) + rng.choice(size - len(real), QUERIES // 2, replace=False)].copy()
    for i, q in enumerate(planted):
        bits = rng.choice(256, i % 32, replace=False)
        near = q.copy()
        for bit in bits:
            near[bit // 64] ^= np.uint64(1 << (63 - int(bit) % 64))
        hashes[len(real) + i] = near
    clustered = real[rng.choice(len(real), QUERIES // 2, replace=False)]
    queries = np.vstack([planted, clustered])
    return hashes, queries[rng.permutation(len(queries))]


def to_faiss(words: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(words.astype(">u8")).view(np.uint8).reshape(-1, 32)


def latency(fn, queries: np.ndarray) -> tuple[float, float]:
    times = []
    for q in queries:
        started = time.perf_counter()
        fn(q)
        times.append(time.perf_counter() - started)
    times.sort()
    return statistics.median(times) * 1000, times[int(len(times) * 0.99) - 1] * 1000


def _multihash() -> faiss.IndexBinaryMultiHash:
    """16 tables of 16 bits with one-bit probing: exact at 31, like takedown's index."""
    index = faiss.IndexBinaryMultiHash(256, 16, 16)
    index.nflip = 1
    return index


def incremental(
    index: PdqIndex, queries: np.ndarray, rng: np.random.Generator, build_s: float
) -> dict[str, float]:
    """Add hashes one at a time; every added hash must be found by the query right after."""
    new = rng.integers(0, 2**63, (ADDS, 4), dtype=np.int64).astype(np.uint64) << np.uint64(1)
    first_id = 1 << 40
    times = []
    missed = 0
    for row in range(ADDS):
        started = time.perf_counter()
        index.add(new[row : row + 1], [first_id + row])
        times.append(time.perf_counter() - started)
        if row % 100 == 0:
            missed += all(h.entry_id != first_id + row for h in index.query(new[row], 0))
    times.sort()
    med, p99 = latency(lambda q: index.query(q, THRESHOLD), queries)
    return dict(
        adds_per_s=ADDS / sum(times), median_add_us=statistics.median(times) * 1e6,
        worst_add_ms=times[-1] * 1000, rebuild_s=build_s, segments=len(index.segments),
        query_median_ms=med, query_p99_ms=p99, missed=missed,
    )  # fmt: skip


def bench_size(size: int, rng: np.random.Generator) -> dict[str, dict[str, float]]:
    hashes, queries = dataset(size, rng)
    faiss_queries = to_faiss(queries)
    truth = [set(np.flatnonzero(distances(q, hashes) <= THRESHOLD).tolist()) for q in queries[:50]]
    out: dict[str, dict[str, float]] = {}

    PdqIndex().add(hashes[:10_000], np.arange(10_000))  # load the compiled kernels first
    before = rss_bytes()
    started = time.perf_counter()
    index = PdqIndex()
    index.add(hashes, np.arange(size))
    index.compact()
    build = time.perf_counter() - started
    memory = rss_bytes() - before
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "index"
        index.save(path)
        started = time.perf_counter()
        PdqIndex.load(path).query(queries[0], THRESHOLD)  # load, and answer a first query
        load = time.perf_counter() - started
    index.query(queries[0])  # compile
    med, p99 = latency(lambda q, index=index: index.query(q, THRESHOLD), queries)
    started = time.perf_counter()
    for q in queries:
        index.query(q, THRESHOLD)
    one_by_one = len(queries) / (time.perf_counter() - started)
    index.query_many(queries[:2], THRESHOLD)  # compile
    started = time.perf_counter()
    batched, batch_ids, _ = index.query_many(queries, THRESHOLD)  # as /v1/lookup/batch does
    batch = len(queries) / (time.perf_counter() - started)
    recall = statistics.mean(
        len({h.entry_id for h in index.query(q, THRESHOLD)} & t) / len(t)
        for q, t in zip(queries, truth, strict=False)
    )
    batch_recall = statistics.mean(
        len(set(batch_ids[batched == n].tolist()) & t) / len(t) for n, t in enumerate(truth)
    )
    out["takedown PdqIndex"] = dict(
        median_ms=med, p99_ms=p99, batch_qps=batch, memory_mb=memory / 2**20,
        build_s=build, load_s=load, recall=min(recall, batch_recall),
        one_by_one_qps=one_by_one,
    )  # fmt: skip
    out["incremental"] = incremental(index, queries, rng, build)
    index = None

    for name, make in (
        ("faiss IndexBinaryFlat", lambda: faiss.IndexBinaryFlat(256)),
        ("faiss IndexBinaryMultiHash(256,16,16) nflip=1", _multihash),
    ):
        faiss.omp_set_num_threads(1)
        before = rss_bytes()
        started = time.perf_counter()
        fi = make()
        fi.add(to_faiss(hashes))
        build = time.perf_counter() - started
        memory = rss_bytes() - before
        sample = faiss_queries[:200]
        med, p99 = latency(lambda q, fi=fi: fi.range_search(q[None, :], THRESHOLD + 1), sample)
        started = time.perf_counter()
        lims, _, labels = fi.range_search(faiss_queries, THRESHOLD + 1)
        batch = len(faiss_queries) / (time.perf_counter() - started)
        recall = statistics.mean(
            len(set(labels[lims[i] : lims[i + 1]].tolist()) & t) / len(t)
            for i, t in enumerate(truth)
        )
        out[name] = dict(
            median_ms=med, p99_ms=p99, batch_qps=batch, memory_mb=memory / 2**20,
            build_s=build, load_s=float("nan"), recall=recall,
        )  # fmt: skip
        del fi

    med, p99 = latency(lambda q: np.flatnonzero(distances(q, hashes) <= THRESHOLD), queries[:20])
    out["numpy brute force"] = dict(
        median_ms=med, p99_ms=p99, batch_qps=1000 / med, memory_mb=0.0,
        build_s=0.0, load_s=float("nan"), recall=1.0,
    )  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    results = {}
    lines = [
        "| hashes | method | median ms | p99 ms | batch q/s | x faiss flat (single) "
        "| memory MB | bytes/hash | build s | load s | recall |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    added = [
        "| hashes | adds/s | median add us | worst add ms | rebuild s (baseline) "
        "| x rebuild (worst add) | segments after | query median ms | query p99 ms | missed |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    batched = []
    for size in args.sizes:
        print(f"{size:,} hashes ...", flush=True)
        r = bench_size(size, rng)
        mine = r["takedown PdqIndex"]
        batched.append(
            f"- {size:,} hashes: {mine['batch_qps']:,.0f} q/s in one `query_many` call (what "
            f"`/v1/lookup/batch` does), {mine['one_by_one_qps']:,.0f} q/s one query at a time: "
            f"x{mine['batch_qps'] / mine['one_by_one_qps']:.1f}"
        )
        inc = r.pop("incremental")
        results[str(size)] = {**r, "incremental": inc}
        flat = r["faiss IndexBinaryFlat"]["median_ms"]
        added.append(
            f"| {size:,} | {inc['adds_per_s']:,.0f} | {inc['median_add_us']:.1f} | "
            f"{inc['worst_add_ms']:.1f} | {inc['rebuild_s']:.1f} | "
            f"x{inc['rebuild_s'] * 1000 / inc['worst_add_ms']:.0f} | {inc['segments']:.0f} | "
            f"{inc['query_median_ms']:.3f} | {inc['query_p99_ms']:.3f} | {inc['missed']:.0f} |"
        )
        for name, m in r.items():
            lines.append(
                f"| {size:,} | {name} | {m['median_ms']:.3f} | {m['p99_ms']:.3f} | "
                f"{m['batch_qps']:.0f} | x{flat / m['median_ms']:.1f} | {m['memory_mb']:.0f} | "
                f"{m['memory_mb'] * 2**20 / size:.0f} | {m['build_s']:.1f} | {m['load_s']:.2f} | "
                f"{m['recall']:.3f} |"
            )
        print("\n".join(lines[-len(r) :]), flush=True)
    markdown = "\n".join(lines)
    markdown += "\n\ntakedown's batch q/s is one call for all 1,000 queries:\n\n"
    markdown += "\n".join(batched)
    markdown += f"\n\nIncremental: {ADDS:,} hashes added one at a time to the built index.\n\n"
    markdown += "\n".join(added)
    print(markdown)
    write_results("index", results, markdown)


if __name__ == "__main__":
    main()
