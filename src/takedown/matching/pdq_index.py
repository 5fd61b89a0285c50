"""An exact PDQ index: every entry within the threshold, by multi-index hashing.

The 256-bit hash is cut into 16 chunks of 16 bits. If two hashes differ in at most 31 bits, the
pigeonhole principle puts at most 1 differing bit in at least one chunk (16 chunks x 2 bits
would need 32). So probing each chunk's table with the query's chunk and its 16 one-bit
neighbours finds a superset of the answer, which is then verified by full Hamming distance:
no miss, no extra. Thresholds up to 31 are exact this way; larger ones fall back to a scan.

The index is a list of immutable *segments*, in the manner of a log-structured merge tree, each
holding its rows (hashes, entry ids, liveness) and its 16 tables. Added rows wait in a small
buffer that queries scan directly, so an added hash is found by the very next query; a full
buffer becomes a new segment, and a segment is merged with the one before it only while the two
are of comparable size and together hold at most ``MERGE_LIMIT`` rows. So an add never rebuilds
the index and never copies it: the worst single add builds one ``MERGE_LIMIT``-row segment.
A small segment keys its tables on the top bits of each chunk only (a one-bit flip below the
key leaves the key unchanged, so the probe stays exact), which keeps its offsets small.
Removal marks rows dead; merges and :meth:`PdqIndex.compact` drop them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from takedown.matching import kernels

CHUNKS = 16
CHUNK_BITS = 16
MAX_EXACT_THRESHOLD = 2 * CHUNKS - 1
BUFFER_MIN = 4096
"""The buffer (scanned, not indexed) becomes a segment once it holds this many rows."""
MERGE_RATIO = 4
"""A segment is merged into the one before it while it is at least 1/MERGE_RATIO of its size..."""
MERGE_LIMIT = 1 << 19
"""...and the two together hold at most this many rows, which bounds the cost of one add."""
BUCKET_ROWS = 2
"""A segment's tables key on enough bits of each chunk for about this many rows per key."""
MAX_ROWS = (1 << 32) - 1
"""A segment numbers its rows with 32 bits in its tables."""

Words = npt.NDArray[np.uint64]
Distances = npt.NDArray[np.int32]
_FORMAT_VERSION = 1


def parse_hashes(values: Iterable[str]) -> Words:
    """64-hex PDQ hashes as rows of four big-endian 64-bit words."""
    raw = b"".join(bytes.fromhex(v) for v in values)
    if len(raw) % 32:
        raise ValueError("every PDQ hash is 64 hexadecimal digits")
    return np.frombuffer(raw, dtype=">u8").astype(np.uint64).reshape(-1, 4)


def format_hash(words: Words) -> str:
    return words.astype(">u8").tobytes().hex()


def distances(query: Words, hashes: Words) -> npt.NDArray[np.int32]:
    """Hamming distance from one hash (shape (4,)) to each row of ``hashes``."""
    counts: npt.NDArray[np.int32] = np.bitwise_count(hashes ^ query).sum(axis=1, dtype=np.int32)
    return counts


@dataclass(frozen=True)
class PdqHit:
    """One entry within the threshold: the id given when it was added, and its distance."""

    entry_id: int
    distance: int


@dataclass(frozen=True)
class _Segment:
    """Rows and their tables: row numbers (into this segment) grouped by key, each key's offsets.

    Only ``alive`` ever changes, and only from True to False.
    """

    hashes: Words
    ids: npt.NDArray[np.int64]
    alive: npt.NDArray[np.bool_]
    order: npt.NDArray[np.uint32]
    offsets: npt.NDArray[np.uint32]

    @classmethod
    def build(cls, hashes: Words, ids: npt.NDArray[np.int64]) -> _Segment:
        alive = np.ones(len(hashes), dtype=bool)
        order = np.empty((CHUNKS, len(hashes)), dtype=np.uint32)
        offsets = np.zeros((CHUNKS, (1 << key_bits(len(hashes))) + 1), dtype=np.uint32)
        kernels.build_tables(hashes, order, offsets)
        return cls(hashes, ids, alive, order, offsets)

    @property
    def size(self) -> int:
        return len(self.hashes)

    @property
    def bits(self) -> int:
        return int(self.offsets.shape[1] - 1).bit_length() - 1

    def live_rows(self) -> tuple[Words, npt.NDArray[np.int64]]:
        keep = self.alive
        return self.hashes[keep], self.ids[keep]

    def query_many(
        self, many: Words, threshold: int
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], Distances]:
        """(query number, entry id, distance) of this segment's live rows within ``threshold``
        of each row of ``many``, in one compiled call."""
        if threshold > MAX_EXACT_THRESHOLD:
            queries, rows, found = kernels.scan_many(
                many, self.hashes, self.alive, 0, len(self.hashes), threshold
            )
        else:
            queries, rows, found = kernels.probe_many(
                many, self.order, self.offsets, self.bits, self.hashes, self.alive, threshold
            )
        return queries, self.ids[rows], found


def key_bits(rows: int) -> int:
    """Key bits for a segment of ``rows`` rows: about BUCKET_ROWS rows per key, at most 16."""
    return max(1, min(CHUNK_BITS, (max(rows, 2) // BUCKET_ROWS).bit_length()))


class PdqIndex:
    """Exact radius search over PDQ hashes, with incremental add and remove."""

    def __init__(self) -> None:
        self._segments: list[_Segment] = []
        self._buffer: Words = np.zeros((BUFFER_MIN, 4), dtype=np.uint64)
        self._buffer_ids: npt.NDArray[np.int64] = np.zeros(BUFFER_MIN, dtype=np.int64)
        self._buffer_alive: npt.NDArray[np.bool_] = np.zeros(BUFFER_MIN, dtype=bool)
        self._buffered = 0
        self._live = 0  # len() is asked on every match, so it is kept, not counted
        self._dead = 0

    def __len__(self) -> int:
        return self._live

    @property
    def segments(self) -> list[int]:
        """The segments' sizes, oldest first (a query probes each)."""
        return [segment.size for segment in self._segments]

    def add(
        self, values: Sequence[str] | Words, entry_ids: Sequence[int] | npt.NDArray[np.int64]
    ) -> None:
        """Add hashes with the caller's entry ids (several hashes may share one id)."""
        words = values if isinstance(values, np.ndarray) else parse_hashes(values)
        ids = np.asarray(entry_ids, dtype=np.int64)
        if len(words) != len(ids):
            raise ValueError("one entry id per hash")
        if len(words) > MAX_ROWS:
            raise ValueError(f"a PDQ index segment holds at most {MAX_ROWS:,} hashes")
        self._live += len(words)
        if self._buffered + len(words) < BUFFER_MIN:
            end = self._buffered + len(words)
            self._buffer[self._buffered : end] = words
            self._buffer_ids[self._buffered : end] = ids
            self._buffer_alive[self._buffered : end] = True
            self._buffered = end
            return
        # a bulk add (a worker loading a bank) becomes one segment with what was buffered
        hashes, owners = self._take_buffer()
        self._push(
            _Segment.build(
                np.concatenate([hashes, np.ascontiguousarray(words, dtype=np.uint64)]),
                np.concatenate([owners, ids]),
            )
        )

    def _take_buffer(self) -> tuple[Words, npt.NDArray[np.int64]]:
        keep = self._buffer_alive[: self._buffered]
        hashes = self._buffer[: self._buffered][keep].copy()
        ids = self._buffer_ids[: self._buffered][keep].copy()
        self._dead -= self._buffered - len(ids)
        self._buffered = 0
        return hashes, ids

    def _push(self, segment: _Segment) -> None:
        """Append a segment, then merge while the newest is comparable in size to the one
        before it and the merge stays within MERGE_LIMIT rows (dead rows are dropped)."""
        self._segments.append(segment)
        while len(self._segments) >= 2:
            older, newer = self._segments[-2], self._segments[-1]
            if newer.size * MERGE_RATIO < older.size or older.size + newer.size > MERGE_LIMIT:
                break
            self._segments[-2:] = [self._merge([older, newer])]

    def _merge(self, segments: list[_Segment]) -> _Segment:
        rows = [segment.live_rows() for segment in segments]
        self._dead -= sum(segment.size for segment in segments) - sum(len(r[1]) for r in rows)
        return _Segment.build(
            np.concatenate([r[0] for r in rows]), np.concatenate([r[1] for r in rows])
        )

    def remove(self, entry_id: int) -> int:
        """Mark every hash of an entry dead; returns how many were live."""
        return self.remove_many([entry_id])

    def remove_many(self, entry_ids: Sequence[int]) -> int:
        """Mark every hash of these entries dead in one linear scan (removal is rare: a false
        positive taken out of a bank, a video's frames); returns how many were live. Once most
        rows are dead the index is compacted, so dead rows never dominate memory or probes."""
        wanted = np.asarray(entry_ids, dtype=np.int64)
        removed = 0
        holders = [(s.ids, s.alive) for s in self._segments]
        holders.append((self._buffer_ids[: self._buffered], self._buffer_alive[: self._buffered]))
        for ids, alive in holders:
            rows = np.flatnonzero(np.isin(ids, wanted) & alive)
            alive[rows] = False
            removed += len(rows)
        self._live -= removed
        self._dead += removed
        if self._dead > max(BUFFER_MIN, self._live):
            self.compact()
        return removed

    def compact(self) -> None:
        """Put every live row in one segment (an O(n) pass: counting sorts)."""
        if self._dead == 0 and self._buffered == 0 and len(self._segments) == 1:
            return
        hashes, ids = self._take_buffer()
        merged = self._merge([*self._segments, _Segment.build(hashes, ids)])
        self._segments = [merged]

    def query(self, value: str | Words, threshold: int = 31) -> list[PdqHit]:
        """Every live entry within ``threshold`` bits, nearest first (one hit per hash row)."""
        query = parse_hashes([value]) if isinstance(value, str) else value.reshape(1, 4)
        _, ids, found = self.query_many(query, threshold)
        return [PdqHit(e, d) for e, d in zip(ids.tolist(), found.tolist(), strict=True)]

    def query_dihedral(
        self, variants: Mapping[str, str], threshold: int = 31
    ) -> list[tuple[str, PdqHit]]:
        """Look up every variant of a query (its 8 turns and flips, keyed by transform name);
        each entry once, through its nearest variant, nearest first."""
        best: dict[int, tuple[str, PdqHit]] = {}
        for transform, value in variants.items():
            for hit in self.query(value, threshold):
                if hit.entry_id not in best or hit.distance < best[hit.entry_id][1].distance:
                    best[hit.entry_id] = (transform, hit)
        return sorted(best.values(), key=lambda pair: (pair[1].distance, pair[1].entry_id))

    def query_many(
        self, many: Words, threshold: int = 31
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], Distances]:
        """Every live entry within ``threshold`` of each row of ``many`` (shape (n, 4)), as
        three arrays: query number, entry id, distance; ordered by query, nearest first. One
        compiled call per segment for the whole batch: a batch lookup of a thousand hashes costs
        about what a few single queries cost in Python around the kernel."""
        many = np.ascontiguousarray(many, dtype=np.uint64)
        parts = [segment.query_many(many, threshold) for segment in self._segments]
        if self._buffered:
            queries, rows, found = kernels.scan_many(
                many, self._buffer, self._buffer_alive, 0, self._buffered, threshold
            )
            parts.append((queries, self._buffer_ids[rows], found))
        if not parts:
            empty = np.empty(0, dtype=np.int64)
            return empty, empty, np.empty(0, dtype=np.int32)
        queries = np.concatenate([part[0] for part in parts])
        ids = np.concatenate([part[1] for part in parts])
        found = np.concatenate([part[2] for part in parts])
        order = np.lexsort((found, queries))
        return queries[order], ids[order], found[order]

    def save(self, path: Path) -> None:
        """A folder of plain .npy arrays (never pickle): hashes, ids and the tables.

        Written to a temporary folder first and renamed, so a crash never leaves half an index.
        """
        self.compact()  # one segment, no dead rows
        segment = self._segments[0]
        tmp = path.with_name(path.name + ".tmp")
        tmp.mkdir(parents=True, exist_ok=True)
        arrays = {
            "hashes": segment.hashes,
            "ids": segment.ids,
            "order": segment.order,
            "offsets": segment.offsets,
        }
        for name, array in arrays.items():
            np.save(tmp / f"{name}.npy", np.ascontiguousarray(array), allow_pickle=False)
        (tmp / "VERSION").write_text(f"{_FORMAT_VERSION}\n")
        if path.exists():
            for old in path.iterdir():
                old.unlink()
            path.rmdir()
        tmp.rename(path)

    @classmethod
    def load(cls, path: Path) -> PdqIndex:
        """Memory-map a saved index: loading is immediate and pages are read as queries touch
        them; a loaded segment is never written (merges and compaction make new arrays)."""
        version = (path / "VERSION").read_text().strip()
        if version != str(_FORMAT_VERSION):
            raise ValueError(f"{path}: unsupported index format version {version!r}")
        arrays = {
            name: np.load(path / f"{name}.npy", mmap_mode="r", allow_pickle=False)
            for name in ("hashes", "ids", "order", "offsets")
        }
        segment = _Segment(
            arrays["hashes"],
            arrays["ids"],
            np.ones(len(arrays["hashes"]), dtype=bool),
            arrays["order"],
            arrays["offsets"],
        )
        index = cls()
        index._segments = [segment]
        index._live = segment.size
        return index
