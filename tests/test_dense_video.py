"""Dense video references (issue 14): a video that becomes a reference is hashed at every frame,
each distinct frame once; uploads stay at 1 fps; a match needs most of the query's seconds found
in the reference, or most of the reference's found in the query (a clip inside a compilation).

Copies of every shared video, made as reposters make them, match their dense reference; no two
different shared videos match; a fast-cutting clip cut at a non-whole second is missed with a
1 fps reference and found with a dense one, through the bank API and ``/v1/content`` too.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from takedown.matching.pdq_index import format_hash
from takedown.matching.vpdq_index import VpdqIndex
from takedown.media import FrameSampling
from takedown.media.video import REFERENCE_SAMPLING
from takedown.signals import FrameHash, HashOptions, VideoSignal, hash_bytes
from takedown.signals.vpdq import VPDQ, Timeline, dedupe, overlap
from tests.conftest import run_takedown
from tests.service_support import Service, wait_for
from tests.video_factory import (
    black_border,
    fast_cutting_frames,
    grayscale,
    mirror,
    resampled,
    resized,
    video_frames,
    write_video,
)

ORIGINALS = ("bikes.mp4", "carphone_pristine.mp4", "v1.m4v", "v2.m4v")
SAME_FOOTAGE = ({"v2.m4v", "v2s.mov"}, {"carphone_pristine.mp4", "carphone_distorted.mp4"})
COPIES = ("half_low_bitrate", "mirror", "border", "cut_start", "grayscale", "fps_24", "inside")


def _videos(data: bytes, options: HashOptions) -> list[VideoSignal]:
    return [s for s in hash_bytes(data, options).signals if isinstance(s, VideoSignal)]


def reference(data: bytes) -> list[VideoSignal]:
    """A video hashed as a reference: every frame, deduplicated."""
    return _videos(data, HashOptions(video=REFERENCE_SAMPLING))


def upload(data: bytes) -> list[VideoSignal]:
    """A video hashed as an upload: 1 frame a second."""
    return _videos(data, HashOptions())


def matches(query: list[VideoSignal], stored: list[VideoSignal]) -> bool:
    """Any of the query's signals (original, trimmed, mirrored, normalised) matches a stored
    one of its type."""
    return any(VPDQ.compare(q, s).matched for q in query for s in stored if q.type == s.type)


def make_copies(source: Path, others: tuple[Path, Path], folder: Path) -> dict[str, bytes]:
    """The issue's reposts of ``source``: half size at a low bitrate, mirrored, a 10% black
    border, the first 20% cut, grayscale, 30 -> 24 fps, and the clip inside a longer video with
    3 s of other footage before and after."""
    frames, rate = video_frames(source)
    height, width = frames[0].shape[:2]
    even = (width // 2 * 2, height // 2 * 2)

    def footage(path: Path) -> list[np.ndarray]:
        other, other_rate = video_frames(path)
        return [resized(f, even) for f in other[: int(3 * other_rate)]]

    made: dict[str, Callable[[Path], bytes]] = {
        "half_low_bitrate": lambda p: write_video(
            [resized(f, (width // 4 * 2, height // 4 * 2)) for f in frames], p, rate, crf=32
        ),
        "mirror": lambda p: write_video([mirror(f) for f in frames], p, rate),
        "border": lambda p: write_video([black_border(f, 0.1) for f in frames], p, rate),
        "cut_start": lambda p: write_video(frames[len(frames) // 5 :], p, rate),
        "grayscale": lambda p: write_video([grayscale(f) for f in frames], p, rate),
        "fps_24": lambda p: write_video(resampled(frames, rate, 24), p, 24),
        "inside": lambda p: write_video(
            footage(others[0]) + [f[: even[1], : even[0]] for f in frames] + footage(others[1]),
            p,
            rate,
        ),
    }
    return {name: make(folder / f"{source.stem}-{name}.mp4") for name, make in made.items()}


def _fillers(name: str) -> tuple[str, str]:
    """The other footage before and after ``name`` in its "inside" copy."""
    i = ORIGINALS.index(name)
    return ORIGINALS[(i + 1) % 4], ORIGINALS[(i + 2) % 4]


def _footage_of(name: str) -> set[str]:
    return next((group for group in SAME_FOOTAGE if name in group), {name})


@pytest.fixture(scope="module")
def copies(
    shared_data: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, dict[str, bytes]]:
    folder = tmp_path_factory.mktemp("copies")
    videos = shared_data / "videos"
    out = {}
    for name in ORIGINALS:
        before, after = _fillers(name)
        out[name] = make_copies(videos / name, (videos / before, videos / after), folder)
    return out


@pytest.fixture(scope="module")
def fast_cutting(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A 6 s, 30 fps montage of 60 shared photos, a new shot every 3 frames."""
    photos = sorted((shared_data / "photos").glob("*.jpg"))[:60]
    shots = [np.asarray(Image.open(p).convert("RGB")) for p in photos]
    return write_video(
        fast_cutting_frames(shots), tmp_path_factory.mktemp("fast") / "montage.mp4", 30
    )


def _cut(data: bytes, folder: Path) -> bytes:
    """The first 20% cut (1.2 s: not a whole second, so 1 fps samplings never line up)."""
    source = folder / "source.mp4"
    source.write_bytes(data)
    frames, rate = video_frames(source)
    return write_video(frames[len(frames) // 5 :], folder / "cut.mp4", rate)


@pytest.mark.parametrize("name", ORIGINALS)
def test_every_copy_matches_the_dense_reference(
    name: str, shared_data: Path, copies: dict[str, dict[str, bytes]]
) -> None:
    stored = reference((shared_data / "videos" / name).read_bytes())
    found = {copy: matches(upload(data), stored) for copy, data in copies[name].items()}
    assert found == dict.fromkeys(COPIES, True)


def test_a_clip_inside_a_compilation_matches_by_the_reference_share(
    shared_data: Path, copies: dict[str, dict[str, bytes]]
) -> None:
    """Most of the compilation is other footage (the query share is low), but most of the
    stored clip is in it: the second half of the rule finds it."""
    stored = reference((shared_data / "videos" / "v1.m4v").read_bytes())
    query = upload(copies["v1.m4v"]["inside"])[0]
    share = overlap(query, stored[0], 31)
    assert share.query_share < 0.8 <= share.target_share
    assert VPDQ.compare(query, stored[0]).matched


def test_different_videos_never_match(
    shared_data: Path, copies: dict[str, dict[str, bytes]]
) -> None:
    """Every shared video's dense reference against every other's upload and copies, and the
    dense references against each other, both ways."""
    videos = sorted((shared_data / "videos").iterdir())
    dense = {v.name: reference(v.read_bytes()) for v in videos}
    sampled = {v.name: upload(v.read_bytes()) for v in videos}
    uploaded = {
        b: {copy: upload(data) for copy, data in made.items()} for b, made in copies.items()
    }
    false_matches = []
    for a in dense:
        for b in dense:
            if a == b or {a, b} in SAME_FOOTAGE:
                continue
            queries = [("upload", sampled[b]), ("reference", dense[b])] + [
                (copy, hashed)
                for copy, hashed in uploaded.get(b, {}).items()
                if copy != "inside" or not _footage_of(a) & set(_fillers(b))
            ]
            false_matches += [(a, b, kind) for kind, q in queries if matches(q, dense[a])]
    assert false_matches == []


def test_fast_cutting_clip_needs_the_dense_reference(fast_cutting: bytes, tmp_path: Path) -> None:
    cut = upload(_cut(fast_cutting, tmp_path))
    assert not matches(cut, upload(fast_cutting))  # 1 fps on both sides: other shots
    assert matches(cut, reference(fast_cutting))


def test_dense_reference_is_deduplicated_and_compares_the_same(shared_data: Path) -> None:
    data = (shared_data / "videos" / "v2.m4v").read_bytes()
    every = _videos(data, HashOptions(video=FrameSampling(fps=None, max_side=512)))
    kept = reference(data)
    assert len(kept[0].frames) <= len(every[0].frames)
    assert len(kept[0].frames) > 5 * len(upload(data)[0].frames)  # denser than 1 fps
    for full, deduped in zip(every, kept, strict=True):
        assert Timeline.of(full.frames) == Timeline.of(deduped.frames)
        assert len({f.value for f in deduped.frames if f.usable}) == len(
            [f for f in deduped.frames if f.usable]
        )


def test_dedupe_keeps_the_first_usable_occurrence() -> None:
    a, b = "0" * 64, "f" * 64
    frames = [FrameHash(a, 10, 0.0), FrameHash(a, 90, 0.5), FrameHash(a, 90, 1.0)]
    frames += [FrameHash(b, 90, 1.5), FrameHash(b, 90, 2.0)]
    assert dedupe(frames) == [frames[1], frames[3]]
    line = Timeline.of(frames)
    assert Timeline.of(dedupe(frames)) == line
    assert (line.values, line.times) == ((a, b), (0.5, 1.5))


@settings(max_examples=80, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    videos=st.integers(1, 5),
    threshold=st.integers(0, 40),
    step=st.sampled_from([1.0, 0.5, 1 / 3, 0.04]),
)
def test_index_shares_equal_the_brute_force_seconds(
    seed: int, videos: int, threshold: int, step: float
) -> None:
    """As test_indexes' property, with dense and 1 fps timestamps mixed: several frames share a
    second, repeats and near frames included; the index's shares and verdict are ``overlap``'s."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 2**63, 4, dtype=np.int64).astype(np.uint64)
    pool = []
    for _ in range(12):
        near = base.copy()
        for bit in rng.choice(256, int(rng.integers(0, 41)), replace=False):
            near[bit // 64] ^= np.uint64(1 << (63 - int(bit) % 64))
        pool.append(format_hash(near))

    def video(frame_step: float) -> VideoSignal:
        picks = rng.integers(0, len(pool), int(rng.integers(1, 30)))
        return VideoSignal(
            "vpdq",
            tuple(
                FrameHash(pool[p], int(rng.choice([100, 80, 49])), i * frame_step)
                for i, p in enumerate(picks)
            ),
        )

    stored = [video(step if i % 2 else 1.0) for i in range(videos)]
    query = video(1.0 if videos % 2 else step)
    index = VpdqIndex()
    for entry, signal in enumerate(stored):
        index.add(signal.frames, entry)
    found = {hit.entry_id: hit for hit in index.query(query.frames, threshold)}
    for entry, signal in enumerate(stored):
        expected = overlap(query, signal, threshold)
        if expected.query_share == 0:
            assert entry not in found
            continue
        hit = found[entry]
        assert (hit.query_share, hit.target_share) == (
            expected.query_share,
            expected.target_share,
        )
        assert hit.matched == expected.matched


def _post_video(service: Service, path: str, data: bytes, **form: str) -> dict[str, object]:
    answer = service.post(path, data=form, files={"file": ("v.mp4", data, "video/mp4")})
    assert answer.status_code in (200, 201), answer.text
    body: dict[str, object] = answer.json()
    return body


def test_service_banks_a_video_densely_and_blocks_its_copies(
    service: Service,
    shared_data: Path,
    fast_cutting: bytes,
    copies: dict[str, dict[str, bytes]],
    tmp_path: Path,
) -> None:
    """Bank media upload through the API stores the dense reference; copies posted to
    ``/v1/content`` (hashed at 1 fps) are blocked by it; an unrelated video is allowed."""
    assert service.post("/v1/banks", json={"name": "videos"}).status_code == 201
    v1_original = (shared_data / "videos" / "v1.m4v").read_bytes()
    for name, data in (("montage", fast_cutting), ("v1", v1_original)):
        added = _post_video(service, "/v1/banks/videos/entries", data, external_id=name)
        assert isinstance(added["added"], int) and added["added"] >= 3
    entries = service.get("/v1/banks/videos/entries").json()
    montage = [e for e in entries if e["signal_type"] == "vpdq" and e["external_id"] == "montage"]
    assert montage and all(len(e["value"].split(";")) > 60 for e in montage)  # not 6 (1 fps)

    def verdict(content_id: str, data: bytes) -> str:
        body = _post_video(service, "/v1/content", data, content_id=content_id)
        assert isinstance(body["verdict"], str)
        return body["verdict"]

    wait_for(
        lambda: (
            service.post("/v1/lookup", files={"file": ("v.mp4", fast_cutting, "video/mp4")}).json()[
                "verdict"
            ]
            == "block"
        ),
        5,
        "the video entries to reach the index",
    )
    assert verdict("montage-cut", _cut(fast_cutting, tmp_path)) == "block"
    v1 = copies["v1.m4v"]
    for copy in ("mirror", "inside", "cut_start", "half_low_bitrate"):
        assert verdict(f"v1-{copy}", v1[copy]) == "block", copy
    assert verdict("bikes", (shared_data / "videos" / "bikes.mp4").read_bytes()) == "allow"


def test_bank_from_media_hashes_videos_densely(shared_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "bank.jsonl"
    done = run_takedown(
        "bank", "from-media", str(shared_data / "videos" / "v1.m4v"), "--out", str(out)
    )
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    frames = max(line.count(";") for line in text.splitlines() if '"vpdq"' in line) + 1
    assert frames > 5 * 5  # v1 is 5 s long: far more than one frame a second


def test_confirmed_items_are_hashed_as_dense_references(shared_data: Path) -> None:
    """The confirm path and bank media uploads share ``reference_signals``: a confirmed video's
    evidence bytes give a dense vPDQ entry, not the 1 fps one taken at upload."""
    from takedown.media import MediaLimits
    from takedown.service.references import reference_entries, try_reference_signals

    data = (shared_data / "videos" / "v1.m4v").read_bytes()
    signals = try_reference_signals(data, MediaLimits())
    entries = reference_entries(signals, "", "", "content:c-1")
    video = [e for e in entries if e.signal_type == "vpdq"]
    assert video and all(len(e.value.split(";")) > 5 * 5 for e in video)


@settings(max_examples=200, deadline=None)
@given(
    length=st.floats(2.2, 8.0),
    rate=st.sampled_from([24.0, 25.0, 30.0, 29.97]),
    offset=st.floats(0.0, 0.999),
)
def test_a_short_clip_sampled_at_1_fps_shows_most_of_itself(
    length: float, rate: float, offset: float
) -> None:
    """A dense clip of 2.2 s or more inside a longer upload: whatever second the upload's
    1 fps samples fall at, the reference frames they find cover >= 80% of the clip's time
    (counted in rounded seconds, a 3.3 s clip had 4, of which the samples may hit 3: 75%)."""
    times = [i / rate for i in range(int(length * rate))]
    dense = Timeline.of([FrameHash(f"{i:064x}", 90, t) for i, t in enumerate(times)])
    samples = [offset + k for k in range(int(length) + 1) if offset + k <= times[-1]]
    found = {min(range(len(times)), key=lambda i: abs(times[i] - s)) for s in samples}
    assert dense.share(found) >= 0.8


@given(seconds=st.integers(1, 30), data=st.data())
def test_a_1_fps_video_shares_are_its_frame_shares(seconds: int, data: st.DataObject) -> None:
    """At 1 fps the share of time is the share of frames, as vPDQ counts them."""
    line = Timeline.of([FrameHash(f"{i:064x}", 90, float(i)) for i in range(seconds)])
    found = data.draw(st.sets(st.integers(0, seconds - 1)))
    assert line.share(found) == pytest.approx(len(found) / seconds)


def test_a_short_clip_inside_a_longer_video_is_found(shared_data: Path, tmp_path: Path) -> None:
    """v2s.mov (3.3 s) with 5 s of other shared footage before and after it: found by the
    reference's share, and the other footage's videos are not matched."""
    frames, rate = video_frames(shared_data / "videos" / "v2s.mov")
    height, width = frames[0].shape[:2]
    size = (width // 2 * 2, height // 2 * 2)

    def footage(name: str) -> list[np.ndarray]:
        other, other_rate = video_frames(shared_data / "videos" / name)
        return [resized(f, size) for f in other[: int(5 * other_rate)]]

    longer = write_video(
        footage("bikes.mp4") + [f[: size[1], : size[0]] for f in frames] + footage("v1.m4v"),
        tmp_path / "longer.mp4",
        rate,
    )
    query = upload(longer)
    stored = reference((shared_data / "videos" / "v2s.mov").read_bytes())
    share = overlap(query[0], stored[0], 31)
    assert share.query_share < 0.8 <= share.target_share
    assert matches(query, stored)
    assert not matches(upload((shared_data / "videos" / "bikes.mp4").read_bytes()), stored)
