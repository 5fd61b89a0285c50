"""An exact PDQ index: every entry within the threshold, by multi-index hashing.

The 256-bit hash is cut into 16 chunks of 16 bits. If two hashes differ in at most 31 bits, the
pigeonhole principle puts at most 1 differing bit in at least one chunk (16 chunks x 2 bits
would need 32). So probing each chunk's table with the query's chunk and its 16 one-bit
neighbours finds a superset of the answer, which is then verified by full Hamming distance:
no miss, no extra. Thresholds up to 31 are exact this way; larger ones fall back to a scan.

Each chunk's table is the entry ids sorted by that chunk plus 65,537 offsets, built with numpy
in one pass. Entries added later go to a small buffer that queries scan directly, so an added
hash is found by the very next query; the buffer is folded into the tables when it grows past
a share of the index. Removal marks the entry dead.
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
BUFFER_SHARE = 1 / 16
"""The unindexed buffer is folded into the tables once it holds this share of the entries."""
BUFFER_MIN = 4096

Words = npt.NDArray[np.uint64]
_FORMAT_VERSION = 1


def parse_hashes(values: Iterable[str]) -> Words:
    """64-hex PDQ hashes as rows of four big-endian 64-bit words."""
    raw = b"".join(bytes.fromhex(v) for v in values)
    if len(raw) % 32:
        raise ValueError("every PDQ hash is 64 hexadecimal digits")
    return np.frombuffer(raw, dtype=">u8").astype(np.uint64).reshape(-1, 4)


def format_hash(words: Words) -> str:
    return words.astype(">u8").tobytes().hex()


def _chunks(words: Words) -> npt.NDArray[np.uint32]:
    """(n, 16) chunk values; chunk 0 is the hash's first 16 bits."""
    shifts = np.array([48, 32, 16, 0], dtype=np.uint64)
    parts = (words[:, :, None] >> shifts[None, None, :]) & np.uint64(0xFFFF)
    return parts.reshape(len(words), CHUNKS).astype(np.uint32)


def distances(query: Words, hashes: Words) -> npt.NDArray[np.int32]:
    """Hamming distance from one hash (shape (4,)) to each row of ``hashes``."""
    counts: npt.NDArray[np.int32] = np.bitwise_count(hashes ^ query).sum(axis=1, dtype=np.int32)
    return counts


@dataclass(frozen=True)
class PdqHit:
    """One entry within the threshold: the id given when it was added, and its distance."""

    entry_id: int
    distance: int


class PdqIndex:
    """Exact radius search over PDQ hashes, with incremental add and remove."""

    def __init__(self) -> None:
        self._hashes: Words = np.zeros((0, 4), dtype=np.uint64)
        self._ids: npt.NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        self._alive: npt.NDArray[np.bool_] = np.zeros(0, dtype=bool)
        self._count = 0  # rows in use (alive or dead)
        self._live = 0  # alive rows: len() is asked on every match, so it is kept, not counted
        self._indexed = 0  # rows covered by the tables; rows after it are the buffer
        self._order: npt.NDArray[np.uint32] = np.zeros((CHUNKS, 0), dtype=np.uint32)
        # an empty index still has valid (all-zero) offsets, so probing finds nothing
        self._offsets: npt.NDArray[np.int64] = np.zeros((CHUNKS, (1 << CHUNK_BITS) + 1), np.int64)

    def __len__(self) -> int:
        return self._live

    @property
    def hashes(self) -> Words:
        return self._hashes[: self._count]

    def add(
        self, values: Sequence[str] | Words, entry_ids: Sequence[int] | npt.NDArray[np.int64]
    ) -> None:
        """Add hashes with the caller's entry ids (several hashes may share one id)."""
        words = values if isinstance(values, np.ndarray) else parse_hashes(values)
        ids = np.asarray(entry_ids, dtype=np.int64)
        if len(words) != len(ids):
            raise ValueError("one entry id per hash")
        self._reserve(self._count + len(words))
        start, end = self._count, self._count + len(words)
        self._hashes[start:end] = words
        self._ids[start:end] = ids
        self._alive[start:end] = True
        self._count = end
        self._live += len(words)
        if self._count - self._indexed > max(BUFFER_MIN, self._count * BUFFER_SHARE):
            self.compact()

    def remove(self, entry_id: int) -> int:
        """Mark every hash of an entry dead; returns how many were live."""
        return self.remove_many([entry_id])

    def remove_many(self, entry_ids: Sequence[int]) -> int:
        """Mark every hash of these entries dead in one linear scan (removal is rare: a false
        positive taken out of a bank, a video's frames); returns how many were live."""
        ids = self._ids[: self._count]
        wanted = np.isin(ids, np.asarray(entry_ids, dtype=np.int64))
        rows = np.flatnonzero(wanted & self._alive[: self._count])
        self._alive[rows] = False
        self._live -= len(rows)
        return len(rows)

    def compact(self) -> None:
        """Fold the buffer into the tables and drop dead rows (an O(n) pass: radix sorts)."""
        dead = self._count - self._live
        if dead == 0 and self._indexed == self._count:
            return
        if dead:
            keep = np.flatnonzero(self._alive[: self._count])
            self._hashes = self._hashes[keep].copy()
            self._ids = self._ids[keep].copy()
            self._alive = np.ones(len(keep), dtype=bool)
            self._count = len(keep)
        self._indexed = self._count
        self._order = np.empty((CHUNKS, self._count), dtype=np.uint32)
        self._offsets = np.empty((CHUNKS, (1 << CHUNK_BITS) + 1), dtype=np.int64)
        for t in range(CHUNKS):
            shift = np.uint64(48 - CHUNK_BITS * (t % 4))
            words = self._hashes[: self._count, t // 4]
            chunk = ((words >> shift) & np.uint64(0xFFFF)).astype(np.uint16)
            self._order[t] = np.argsort(chunk, kind="stable")  # a radix sort for 16-bit keys
            counts = np.bincount(chunk, minlength=1 << CHUNK_BITS)
            self._offsets[t, 0] = 0
            np.cumsum(counts, out=self._offsets[t, 1:])

    def _reserve(self, size: int) -> None:
        if size <= len(self._hashes):
            return
        capacity = max(size, 2 * len(self._hashes), 1024)
        for name in ("_hashes", "_ids", "_alive"):
            old = getattr(self, name)
            new = np.zeros((capacity, *old.shape[1:]), dtype=old.dtype)
            new[: self._count] = old[: self._count]
            setattr(self, name, new)

    def query(self, value: str | Words, threshold: int = 31) -> list[PdqHit]:
        """Every live entry within ``threshold`` bits, nearest first (one hit per hash row)."""
        query = parse_hashes([value])[0] if isinstance(value, str) else value
        if threshold > MAX_EXACT_THRESHOLD:
            rows, found = kernels.scan(query, self._hashes, self._alive, 0, self._count, threshold)
        else:
            rows, found = kernels.probe(
                query,
                _chunks(query[None, :])[0],
                self._order,
                self._offsets,
                self._hashes,
                self._alive,
                threshold,
            )
            if self._count > self._indexed:
                extra_rows, extra_found = kernels.scan(
                    query, self._hashes, self._alive, self._indexed, self._count, threshold
                )
                rows = np.concatenate([rows, extra_rows])
                found = np.concatenate([found, extra_found])
        rows, first = np.unique(rows, return_index=True)
        found = found[first]
        order = np.argsort(found, kind="stable")
        return [
            PdqHit(int(entry), int(d))
            for entry, d in zip(self._ids[rows[order]], found[order], strict=True)
        ]

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

    def query_batch(self, values: Sequence[str], threshold: int = 31) -> list[list[PdqHit]]:
        words = parse_hashes(values)
        return [self.query(row, threshold) for row in words]

    def save(self, path: Path) -> None:
        """A folder of plain .npy arrays (never pickle): hashes, ids and the tables.

        Written to a temporary folder first and renamed, so a crash never leaves half an index.
        """
        self.compact()
        tmp = path.with_name(path.name + ".tmp")
        tmp.mkdir(parents=True, exist_ok=True)
        arrays = {
            "hashes": self._hashes[: self._count],
            "ids": self._ids[: self._count],
            "order": self._order,
            "offsets": self._offsets,
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
        """Memory-map a saved index: loading is immediate, pages are read as queries touch them,
        and the arrays are copied only when the index is next changed."""
        version = (path / "VERSION").read_text().strip()
        if version != str(_FORMAT_VERSION):
            raise ValueError(f"{path}: unsupported index format version {version!r}")
        index = cls()
        index._hashes = np.load(path / "hashes.npy", mmap_mode="r", allow_pickle=False)
        index._ids = np.load(path / "ids.npy", mmap_mode="r", allow_pickle=False)
        index._order = np.load(path / "order.npy", mmap_mode="r", allow_pickle=False)
        index._offsets = np.load(path / "offsets.npy", mmap_mode="r", allow_pickle=False)
        index._count = index._indexed = index._live = len(index._hashes)
        index._alive = np.ones(index._count, dtype=bool)
        return index
