"""The PDQ index is exact: property tests against brute force, never a miss or an extra."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from takedown.matching import kernels, pdq_index
from takedown.matching.pdq_index import PdqIndex, distances, format_hash, parse_hashes


def _random(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, 1 << 63, (n, 4), dtype=np.int64).astype(np.uint64) * np.uint64(
        2
    ) + rng.integers(0, 2, (n, 4)).astype(np.uint64)


def _flip(words: np.ndarray, bits: list[int]) -> np.ndarray:
    out = words.copy()
    for bit in bits:
        out[bit // 64] ^= np.uint64(1 << (63 - bit % 64))
    return out


def _brute(hashes: np.ndarray, alive: np.ndarray, query: np.ndarray, threshold: int) -> set:
    d = distances(query, hashes)
    return {(int(i), int(d[i])) for i in np.flatnonzero((d <= threshold) & alive)}


def _hits(index: PdqIndex, query: np.ndarray, threshold: int) -> set:
    hits = index.query(query, threshold)
    assert [h.distance for h in hits] == sorted(h.distance for h in hits)
    return {(h.entry_id, h.distance) for h in hits}


def _assert_batch_exact(
    index: PdqIndex, hashes: np.ndarray, alive: np.ndarray, many: np.ndarray, threshold: int
) -> None:
    """``query_many`` answers each row of ``many`` as brute force does, ordered by query and
    nearest first, each hash row once per query."""
    queries, ids, found = index.query_many(many, threshold)
    order = list(zip(queries.tolist(), found.tolist(), strict=True))
    assert order == sorted(order)
    got = list(zip(queries.tolist(), ids.tolist(), found.tolist(), strict=True))
    assert len(got) == len(set(got))
    for number, row in enumerate(many):
        mine = {(i, d) for q, i, d in got if q == number}
        assert mine == _brute(hashes, alive, row, threshold), number


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    size=st.integers(1, 3000),
    planted=st.lists(st.integers(0, 40), min_size=1, max_size=12),
    threshold=st.integers(0, 31),
)
def test_matches_brute_force_with_planted_near_duplicates(
    seed: int, size: int, planted: list[int], threshold: int
) -> None:
    rng = np.random.default_rng(seed)
    hashes = _random(rng, size)
    query = hashes[0].copy()
    near = [_flip(query, rng.choice(256, d, replace=False).tolist()) for d in planted]
    hashes = np.vstack([hashes, *near])
    index = PdqIndex()
    half = len(hashes) // 2
    index.add(hashes[:half], list(range(half)))
    index.compact()  # half in the tables, half in the buffer
    index.add(hashes[half:], list(range(half, len(hashes))))
    alive = np.ones(len(hashes), dtype=bool)
    assert _hits(index, query, threshold) == _brute(hashes, alive, query, threshold)
    assert _hits(index, query, 40) == _brute(hashes, alive, query, 40)  # scan beyond 31
    many = np.vstack([query, near[0], _random(rng, 3), query])
    _assert_batch_exact(index, hashes, alive, many, threshold)
    _assert_batch_exact(index, hashes, alive, many, 40)
    for victim in rng.choice(len(hashes), min(5, len(hashes)), replace=False).tolist():
        index.remove(victim)
        alive[victim] = False
    assert _hits(index, query, threshold) == _brute(hashes, alive, query, threshold)


def test_every_distance_up_to_31_is_found() -> None:
    rng = np.random.default_rng(1)
    base = _random(rng, 1)[0]
    background = _random(rng, 20_000)
    index = PdqIndex()
    index.add(background, list(range(len(background))))
    for d in range(32):
        # the worst case for the pigeonhole: differing bits spread over every chunk
        bits = [(i % 16) * 16 + i // 16 for i in range(d)]
        index.add(_flip(base, bits)[None, :], [100_000 + d])
    index.compact()
    found = {h.entry_id: h.distance for h in index.query(base, 31)}
    assert {k - 100_000: v for k, v in found.items() if k >= 100_000} == {d: d for d in range(32)}


def test_real_hashes(shared_data: Path) -> None:
    folder = shared_data / "reference/pdq/images/reg-test-input"
    haystack = [v.strip() for v in (folder / "haystack.txt").read_text().split() if v.strip()]
    needles = [v.strip() for v in (folder / "needles.txt").read_text().split() if v.strip()]
    hay = parse_hashes(haystack)
    index = PdqIndex()
    index.add(hay, list(range(len(hay))))
    index.compact()
    alive = np.ones(len(hay), dtype=bool)
    total = 0
    for needle in parse_hashes(needles):
        for threshold in (0, 16, 31):
            expected = _brute(hay, alive, needle, threshold)
            assert _hits(index, needle, threshold) == expected
            total += len(expected)
    assert total > 0


def test_an_added_hash_is_found_by_the_next_query_and_survives_save_load(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    index = PdqIndex()
    hashes = _random(rng, 10_000)
    index.add(hashes, list(range(10_000)))
    index.compact()
    new = _random(rng, 1)
    index.add(new, [42_000])
    assert index.query(new[0], 0)[0].entry_id == 42_000
    index.remove(3)
    path = tmp_path / "index"
    index.save(path)
    index.save(path)  # overwriting an existing index
    loaded = PdqIndex.load(path)
    assert len(loaded) == len(index) == 10_000
    assert loaded.query(format_hash(new[0]), 0)[0].entry_id == 42_000
    assert loaded.query(hashes[3], 0) == []
    assert loaded.query(hashes[4], 0)[0].entry_id == 4
    assert sorted(p.name for p in path.iterdir()) == [
        "VERSION", "hashes.npy", "ids.npy", "offsets.npy", "order.npy"
    ]  # fmt: skip
    loaded.add(_random(rng, 1), [43_000])  # a loaded (memory-mapped) index stays changeable
    loaded.remove(4)
    loaded.compact()
    assert loaded.query(hashes[4], 0) == [] and len(loaded) == 10_000


def _frame_hashes(shared_data: Path) -> list[str]:
    values = []
    for path in sorted((shared_data / "reference/vpdq/expected").glob("*.txt")):
        for line in path.read_text().splitlines():
            parts = line.strip().split(",")
            if len(parts) == 4:
                values.append(parts[2])
    return values


def test_clustered_real_hashes(shared_data: Path, photo_paths: list[Path]) -> None:
    """Real hashes cluster (consecutive video frames, similar photos): buckets are uneven."""
    from takedown.signals import HashOptions, Signal, hash_bytes

    values = _frame_hashes(shared_data)
    for path in photo_paths[::3]:
        values += [
            s.value
            for s in hash_bytes(path.read_bytes(), HashOptions(), types=("pdq",)).signals
            if isinstance(s, Signal)
        ]
    assert len(values) > 10_000
    hashes = parse_hashes(values)
    index = PdqIndex()
    index.add(hashes, list(range(len(hashes))))
    alive = np.ones(len(hashes), dtype=bool)
    rng = np.random.default_rng(5)
    for row in rng.choice(len(hashes), 150, replace=False).tolist():
        expected = _brute(hashes, alive, hashes[row], 31)
        assert len(expected) >= 1
        assert _hits(index, hashes[row], 31) == expected


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    steps=st.lists(
        st.one_of(
            st.tuples(st.just("add"), st.integers(1, 90)),
            st.tuples(st.just("remove"), st.integers(1, 6)),
            st.tuples(st.just("compact"), st.just(0)),
        ),
        min_size=1,
        max_size=40,
    ),
    threshold=st.integers(0, 31),
)
def test_segments_stay_exact_through_adds_merges_removes_and_compaction(
    seed: int, steps: list[tuple[str, int]], threshold: int
) -> None:
    """Tiny buffer and merge limits, so that a few hundred hashes make many segments, merges,
    bulk adds past the buffer and automatic compaction; after every step the index answers
    exactly what brute force over the live hashes answers."""
    rng = np.random.default_rng(seed)
    query = _random(rng, 1)[0]
    hashes = np.zeros((0, 4), dtype=np.uint64)
    alive = np.zeros(0, dtype=bool)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pdq_index, "BUFFER_MIN", 8)
        patch.setattr(pdq_index, "MERGE_LIMIT", 64)
        index = PdqIndex()
        for action, amount in steps:
            if action == "add":
                # half of the new hashes are near the query, at random distances 0..40
                new = _random(rng, amount)
                for row in range(0, amount, 2):
                    new[row] = _flip(query, rng.choice(256, rng.integers(0, 41), False).tolist())
                index.add(new, list(range(len(hashes), len(hashes) + amount)))
                hashes = np.vstack([hashes, new])
                alive = np.concatenate([alive, np.ones(amount, dtype=bool)])
            elif action == "remove" and len(hashes):
                victims = rng.choice(len(hashes), min(amount, len(hashes)), replace=False)
                assert index.remove_many(victims.tolist()) == int(alive[victims].sum())
                alive[victims] = False
            else:
                index.compact()
                assert len(index.segments) == 1
            assert len(index) == int(alive.sum())
            assert _hits(index, query, threshold) == _brute(hashes, alive, query, threshold)
            if len(hashes):
                many = np.vstack([query, hashes[rng.integers(0, len(hashes), 3)]])
                _assert_batch_exact(index, hashes, alive, many, threshold)
        assert _hits(index, query, 40) == _brute(hashes, alive, query, 40)


def test_single_adds_never_rebuild_more_than_the_merge_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """After a bulk load, hashes added one by one cost at most one MERGE_LIMIT-row table build
    each, and the segments stay few (their sizes shrink geometrically)."""
    monkeypatch.setattr(pdq_index, "BUFFER_MIN", 16)
    monkeypatch.setattr(pdq_index, "MERGE_LIMIT", 1024)
    built: list[int] = []
    build = kernels.build_tables

    def recording_build(hashes: np.ndarray, order: np.ndarray, offsets: np.ndarray) -> None:
        built.append(len(hashes))
        build(hashes, order, offsets)

    monkeypatch.setattr(kernels, "build_tables", recording_build)
    rng = np.random.default_rng(3)
    base = _random(rng, 20_000)
    index = PdqIndex()
    index.add(base, list(range(len(base))))
    assert built == [20_000] and index.segments == [20_000]
    built.clear()
    extra = _random(rng, 5_000)
    for row in range(len(extra)):
        index.add(extra[row : row + 1], [100_000 + row])
        assert index.query(extra[row], 0)[0].entry_id == 100_000 + row  # the very next query
    assert built and max(built) <= 1024
    assert index.segments[0] == 20_000 and len(index) == 25_000
    assert len(index.segments) <= 5_000 // 1024 + 8
    assert index.query(base[7], 0)[0].entry_id == 7
