"""The exact and video indexes, and dihedral queries on the PDQ index."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from takedown.matching.exact_index import ExactIndex
from takedown.matching.pdq_index import PdqIndex, format_hash
from takedown.matching.vpdq_index import VpdqIndex
from takedown.signals import FrameHash, VideoSignal
from takedown.signals.pdq import hash_rgb, hash_rgb_dihedral
from takedown.signals.vpdq import overlap


def test_exact_index() -> None:
    index = ExactIndex()
    index.add("a" * 32, 1)
    index.add("a" * 32, 2)
    index.add("b" * 32, 3)
    assert index.query("a" * 32) == [1, 2]
    assert index.query("c" * 32) == []
    assert index.remove(1) == 1
    assert index.query("a" * 32) == [2]
    assert len(index) == 2


def test_dihedral_query_names_the_transform(photo_paths: list[Path]) -> None:
    index = PdqIndex()
    photos = photo_paths[:20]
    for i, path in enumerate(photos):
        index.add([hash_rgb(np.asarray(Image.open(path).convert("RGB")))[0]], [i])
    turned = Image.open(photos[7]).convert("RGB").transpose(Image.Transpose.ROTATE_270)
    variants, _ = hash_rgb_dihedral(np.asarray(turned))
    found = index.query_dihedral(variants)
    assert found[0][1].entry_id == 7
    assert found[0][0] == "rotate90"  # turning the copy back a quarter finds the original
    assert index.query(variants["original"]) == []


def _frames(values: list[str], quality: int = 100) -> list[FrameHash]:
    return [FrameHash(v, quality, float(i)) for i, v in enumerate(values)]


def test_an_entrys_videos_are_counted_apart() -> None:
    """A content item stores its original and its mirrored vPDQ under one id: a copy holding
    70% of the original is 70% of that video, not 35% of the two pooled (the Doe browser test
    found a trimmed repost left up this way)."""
    rng = np.random.default_rng(5)
    original = [rng.bytes(32).hex() for _ in range(10)]
    mirrored = [rng.bytes(32).hex() for _ in range(10)]
    index = VpdqIndex()
    index.add(_frames(original), 1)
    index.add(_frames(mirrored), 1)
    trimmed = index.query(_frames(original[3:]))
    assert len(trimmed) == 1
    assert trimmed[0].query_share == 1.0 and trimmed[0].target_share == 0.7
    assert index.remove(1) == 20 and index.query(_frames(original)) == []


def test_video_index_shares() -> None:
    rng = np.random.default_rng(3)
    values = [rng.bytes(32).hex() for _ in range(10)]
    index = VpdqIndex()
    index.add(_frames(values), 1)
    index.add(_frames(values[:4] + [rng.bytes(32).hex() for _ in range(6)]), 2)
    index.add(_frames(values, quality=10), 3)  # no usable frame: never matched
    hits = {h.entry_id: h for h in index.query(_frames(values[:5]))}
    assert set(hits) == {1, 2}
    assert hits[1].query_share == 1.0 and hits[1].target_share == 0.5 and hits[1].matched
    assert hits[2].query_share == 0.8 and hits[2].target_share == 0.4 and hits[2].matched
    other = index.query(_frames(values[3:]))
    share = {h.entry_id: h.query_share for h in other}
    assert share[2] == 1 / 7 and not next(h for h in other if h.entry_id == 2).matched
    assert len(index) == 2


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    videos=st.integers(1, 6),
    threshold=st.integers(0, 40),
)
def test_video_index_shares_equal_the_brute_force_definition(
    seed: int, videos: int, threshold: int
) -> None:
    """Videos drawn from a small pool of frame hashes (repeated frames, near frames at 0-40
    bits, some below quality 50): the index's shares are exactly ``overlap``'s, for every
    stored video, including the repeats that the reference's dedupe counts once."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 2**63, 4, dtype=np.int64).astype(np.uint64)
    pool = []
    for _ in range(12):
        near = base.copy()
        for bit in rng.choice(256, int(rng.integers(0, 41)), replace=False):
            near[bit // 64] ^= np.uint64(1 << (63 - int(bit) % 64))
        pool.append(format_hash(near))

    def video() -> VideoSignal:
        picks = rng.integers(0, len(pool), int(rng.integers(1, 10)))
        return VideoSignal(
            "vpdq",
            tuple(
                FrameHash(pool[p], int(rng.choice([100, 80, 49, 10])), float(i))
                for i, p in enumerate(picks)
            ),
        )

    stored = [video() for _ in range(videos)]
    query = video()
    index = VpdqIndex()
    for entry, signal in enumerate(stored):
        index.add(signal.frames, entry)
    found = {hit.entry_id: hit for hit in index.query(query.frames, threshold)}
    for entry, signal in enumerate(stored):
        expected = overlap(query, signal, threshold)
        if expected.query_share == 0:
            assert entry not in found
            continue
        assert (found[entry].query_share, found[entry].target_share) == (
            expected.query_share,
            expected.target_share,
        )
