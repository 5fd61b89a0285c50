"""Many PDQ queries against a few new entries at once: the retro-scan's inner loop.

When a bank receives entries (an exchange fetch, an import, a confirmation), the content
already on the platform must be searched for them. The new entries are few and the content
signals many, so the entries are indexed (the same 16-table multi-index hashing as
:mod:`takedown.matching.pdq_index`, exact up to 31 bits) and the content's hashes are streamed
through in chunks, each chunk probed in one compiled loop: no Python per query, memory bounded
by the chunk. Each entry keeps its own threshold (its bank's), so entries of several banks are
swept together. Thresholds above 31 bits cannot be probed exactly; those entries are compared
with every query instead (a brute-force scan over them alone).
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
import numpy.typing as npt

from takedown.matching import kernels
from takedown.matching.pdq_index import MAX_EXACT_THRESHOLD, Words, key_bits

Ids = npt.NDArray[np.int64]


class SweepHits:
    """Pairs found by a sweep: query row (in the chunk), entry id, distance in bits."""

    def __init__(self, queries: Ids, entries: Ids, distances: npt.NDArray[np.int32]) -> None:
        self.queries = queries
        self.entries = entries
        self.distances = distances

    def __len__(self) -> int:
        return len(self.queries)


@numba.njit(cache=True, nogil=True)
def _sweep(  # pragma: no cover - compiled
    queries: Any,
    order: Any,
    offsets: Any,
    bits: int,
    hashes: Any,
    thresholds: Any,
) -> tuple[Any, Any, Any]:
    """Every (query, row) within the row's own threshold, through the tables (a pair may
    repeat: found through two tables). Candidates are gathered and then verified in one flat
    loop, as :func:`kernels.probe_many` does, so that a chunk of queries costs no allocation
    per query and the random reads of the hashes overlap."""
    size = 1024
    out_q = np.empty(size, dtype=np.int64)
    out_r = np.empty(size, dtype=np.int64)
    out_d = np.empty(size, dtype=np.int32)
    into = np.empty(4096, dtype=order.dtype)
    n = 0
    for i in range(queries.shape[0]):
        into, m = kernels._candidates(queries[i], order, offsets, bits, into)
        q0, q1, q2, q3 = queries[i, 0], queries[i, 1], queries[i, 2], queries[i, 3]
        for c in range(m):
            row = into[c]
            d = kernels._distance(hashes, row, q0, q1, q2, q3)
            if d <= thresholds[row]:
                out_q, out_r, out_d, n = kernels.append_triple(out_q, out_r, out_d, n, i, row, d)
    return out_q[:n], out_r[:n], out_d[:n]


@numba.njit(cache=True, nogil=True)
def brute_force(  # pragma: no cover - compiled
    queries: Any, hashes: Any, thresholds: Any
) -> tuple[Any, Any, Any]:
    """Every (query, row) within the row's threshold by comparing each query with every row:
    the reference a sweep must agree with, and the path for thresholds above 31."""
    alive = np.ones(hashes.shape[0], dtype=np.bool_)
    limit = 0
    for t in thresholds:
        limit = max(limit, t)
    size = 1024
    out_q = np.empty(size, dtype=np.int64)
    out_r = np.empty(size, dtype=np.int64)
    out_d = np.empty(size, dtype=np.int32)
    n = 0
    for i in range(queries.shape[0]):
        rows, found = kernels.scan(queries[i], hashes, alive, 0, hashes.shape[0], limit)
        for k in range(rows.shape[0]):
            if found[k] <= thresholds[rows[k]]:
                out_q, out_r, out_d, n = kernels.append_triple(
                    out_q, out_r, out_d, n, i, rows[k], found[k]
                )
    return out_q[:n], out_r[:n], out_d[:n]


class EntrySweep:
    """New PDQ entries, indexed once, swept by chunks of query hashes."""

    def __init__(self, hashes: Words, ids: Ids, thresholds: npt.NDArray[np.int32]) -> None:
        if not (len(hashes) == len(ids) == len(thresholds)):
            raise ValueError("hashes, ids and thresholds must have the same length")
        exact = thresholds <= MAX_EXACT_THRESHOLD
        self._hashes = np.ascontiguousarray(hashes[exact])
        self._ids = ids[exact]
        self._thresholds = thresholds[exact].astype(np.int32)
        self._bits = key_bits(len(self._hashes))
        self._order = np.empty((16, len(self._hashes)), dtype=np.uint32)
        self._offsets = np.zeros((16, (1 << self._bits) + 1), dtype=np.uint32)
        if len(self._hashes):
            kernels.build_tables(self._hashes, self._order, self._offsets)
        self._wide_hashes = np.ascontiguousarray(hashes[~exact])
        self._wide_ids = ids[~exact]
        self._wide_thresholds = thresholds[~exact].astype(np.int32)

    def __len__(self) -> int:
        return len(self._ids) + len(self._wide_ids)

    def match(self, queries: Words) -> SweepHits:
        """Every (query row, entry) pair within the entry's threshold, each pair once."""
        queries = np.ascontiguousarray(queries)
        parts: list[tuple[Ids, Ids, npt.NDArray[np.int32]]] = []
        if len(self._ids) and len(queries):
            q, rows, d = _sweep(
                queries,
                self._order,
                self._offsets,
                self._bits,
                self._hashes,
                self._thresholds,
            )
            parts.append((q, self._ids[rows], d))
        if len(self._wide_ids) and len(queries):
            q, rows, d = brute_force(queries, self._wide_hashes, self._wide_thresholds)
            parts.append((q, self._wide_ids[rows], d))
        if not parts:
            empty = np.empty(0, dtype=np.int64)
            return SweepHits(empty, empty, np.empty(0, dtype=np.int32))
        q_all = np.concatenate([p[0] for p in parts])
        e_all = np.concatenate([p[1] for p in parts])
        d_all = np.concatenate([p[2] for p in parts])
        # a row found through two tables comes back twice; a pair is kept once
        _, first = np.unique(np.stack([q_all, e_all]), axis=1, return_index=True)
        return SweepHits(q_all[first], e_all[first], d_all[first])
