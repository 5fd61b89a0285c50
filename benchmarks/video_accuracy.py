"""Video recall per transform and false matches, on every video in ../shared/data/videos.

Part of ``make bench-accuracy``. Each shared video becomes a reference the way the service makes
one (``reference_options``: every frame, deduplicated, with its trimmed and mirrored variants);
each changed copy is hashed as an upload is (the default options: 1 fps). A copy is found when
any of its vPDQ signals matches any of its original's (``vpdq.overlap`` / ``is_match``: most of
the query's usable time found in the reference, or most of the reference's in the query),
which is what the bank index computes at scale. Baseline in the same run: the reference hashed at
1 fps, as an upload is.

False matches: every ordered pair of different videos (the 1 fps upload of one against the
dense reference of the other), and every changed copy against the other videos' references.
Pairs known to be the same footage (v2/v2s, carphone pristine/distorted) count as one video.
A fast-cutting montage of shared photos (the issue's hard case) is added to the shared videos.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from _common import ROOT, require_data
from takedown.media import MediaLimits
from takedown.service.references import reference_options
from takedown.signals import AnySignal, HashOptions, VideoSignal, hash_bytes
from takedown.signals.pdq import DEFAULT_THRESHOLD
from takedown.signals.strength import Strength, assess
from takedown.signals.vpdq import VIDEO_TYPES, compared_frames, overlap

sys.path.insert(0, str(ROOT))
from tests import video_factory as vf  # the tests' copy builders, reused

SAME_FOOTAGE = ({"v2.m4v", "v2s.mov"}, {"carphone_pristine.mp4", "carphone_distorted.mp4"})
"""Pairs in the data set that are the same footage: a match between them is right."""

MONTAGE_PHOTOS = 60
"""The fast-cutting montage is made of the first this many shared photos."""

UPLOAD = HashOptions()
"""How an upload is hashed (1 fps, with the trimmed and mirrored variants)."""

Frames = list[np.ndarray]
MakeCopy = Callable[[Path, Path], bytes]


def dark(rgb: np.ndarray) -> np.ndarray:
    """Brightness x0.25, then contrast halved around the frame's mean (as PIL's enhancers do)."""
    x = rgb.astype(np.float32) * 0.25
    mean = float(x.mean())
    return np.clip(mean + (x - mean) * 0.5, 0, 255).astype(np.uint8)


def _first_cut(source: Path, path: Path) -> bytes:
    frames, rate = vf.video_frames(source)
    return vf.write_video(frames[len(frames) // 5 :], path, rate)


def _frame_rate(source: Path, path: Path) -> bytes:
    frames, rate = vf.video_frames(source)
    new_rate = max(1, round(float(rate) * 0.8))  # 29.97 -> 24, 25 -> 20, 23.98 -> 19
    return vf.write_video(vf.resampled(frames, rate, new_rate), path, new_rate)


def _other_footage(size: tuple[int, int], fps: int, seconds: float, seed: int) -> Frames:
    """Unrelated real footage: pans across shared photos, a cut every 8 frames (photos not in
    the montage, which is the first 60)."""
    photos = sorted((require_data() / "photos").glob("*.jpg"))[MONTAGE_PHOTOS:]
    rng = np.random.default_rng(seed)
    shots = [
        np.asarray(Image.open(photos[i]).convert("RGB"))
        for i in rng.choice(len(photos), 6, replace=False)
    ]
    return vf.fast_cutting_frames(shots, seconds=seconds, fps=fps, shot_frames=8, size=size)


def _inside_longer(source: Path, path: Path) -> bytes:
    frames, rate = vf.video_frames(source)
    height, width = frames[0].shape[:2]
    size = (width // 2 * 2, height // 2 * 2)
    clip = [np.ascontiguousarray(f[: size[1], : size[0]]) for f in frames]
    fps = max(1, round(float(rate)))
    before = _other_footage(size, fps, 5, seed=1)
    after = _other_footage(size, fps, 5, seed=2)
    return vf.write_video(before + clip + after, path, rate)


TRANSFORMS: dict[str, MakeCopy] = {
    "half size + low bitrate (crf 35)": lambda s, p: vf.transform_video(s, p, scale=0.5, crf=35),
    "mirror": lambda s, p: vf.transform_video(s, p, vf.mirror),
    "black border 10%": lambda s, p: vf.transform_video(s, p, lambda x: vf.black_border(x, 0.10)),
    "first 20% cut": _first_cut,
    "grayscale": lambda s, p: vf.transform_video(s, p, vf.grayscale),
    "frame rate x0.8 (30->24 fps)": _frame_rate,
    "inside a longer video (5 s other footage before and after)": _inside_longer,
    "dark / low contrast (brightness x0.25, contrast x0.5)": lambda s, p: vf.transform_video(
        s, p, dark
    ),
}


@dataclass(frozen=True)
class Hashed:
    """One video's reference (dense and 1 fps) and its copies as uploads hash them."""

    name: str
    dense: list[VideoSignal]
    sparse: list[VideoSignal]
    upload_strength: Strength
    reference_strength: Strength
    copies: dict[str, list[VideoSignal]]
    copy_strength: dict[str, Strength]
    seconds: float


def _videos(signals: Sequence[AnySignal]) -> list[VideoSignal]:
    return [s for s in signals if isinstance(s, VideoSignal) and s.type in VIDEO_TYPES]


def fast_cutting_clip(folder: Path) -> Path:
    """The issue's hard case, which the shared set lacks: a 6 s, 30 fps montage of shared photos,
    a new shot every 3 frames (``video_factory.write_fast_cutting_clip``), made in ``folder``."""
    path = folder / "fast-cutting-montage.mp4"
    photos = sorted((require_data() / "photos").glob("*.jpg"))
    vf.write_fast_cutting_clip(photos, path, MONTAGE_PHOTOS)
    return path


def hash_video(path: Path) -> Hashed:
    """Hash one shared video as a reference and at upload, and every changed copy of it."""
    data = path.read_bytes()
    dense_signals = hash_bytes(data, reference_options(MediaLimits())).signals
    dense = _videos(dense_signals)
    sparse_signals = hash_bytes(data, UPLOAD, types=("vpdq",)).signals
    copies: dict[str, list[VideoSignal]] = {}
    strength: dict[str, Strength] = {}
    frames, rate = vf.video_frames(path)
    with tempfile.TemporaryDirectory() as tmp:
        for n, (name, make) in enumerate(TRANSFORMS.items()):
            copy = make(path, Path(tmp) / f"copy{n}.mp4")
            signals = hash_bytes(copy, UPLOAD, types=("vpdq",)).signals
            copies[name] = _videos(signals)
            strength[name] = assess(signals).strength
    return Hashed(
        path.name,
        dense,
        _videos(sparse_signals),
        assess(sparse_signals).strength,
        assess(dense_signals).strength,
        copies,
        strength,
        len(frames) / float(rate),
    )


def matches(query: Sequence[VideoSignal], reference: Sequence[VideoSignal]) -> bool:
    """Any of the query's signals (original, trimmed, mirrored, normalised) matches one of the
    reference's of its type, as the bank index pairs them."""
    return any(
        overlap(q, r, DEFAULT_THRESHOLD).matched
        for q in query
        for r in reference
        if q.frames and q.type == r.type
    )


def best_shares(query: Sequence[VideoSignal], reference: Sequence[VideoSignal]) -> str:
    """The closest a missed copy came: the best (query share, reference share) over the pairs."""
    shares = [
        overlap(q, r, DEFAULT_THRESHOLD)
        for q in query
        for r in reference
        if q.frames and q.type == r.type
    ]
    best = max(shares, key=lambda o: max(o.query_share, o.target_share), default=None)
    if best is None:
        return "no frames"
    return f"shares {best.query_share:.0%} of the copy, {best.target_share:.0%} of the reference"


def _top_quality(signals: Sequence[VideoSignal]) -> int:
    return max((f.quality for s in signals for f in s.frames), default=0)


def _related(a: str, b: str) -> bool:
    return a == b or any({a, b} <= pair for pair in SAME_FOOTAGE)


def _frames(signals: Sequence[VideoSignal]) -> int:
    return sum(len(s.frames) for s in signals)


def run(jobs: int, out: dict[str, object]) -> list[str]:
    """The video table; fills ``out`` for the JSON."""
    with tempfile.TemporaryDirectory() as tmp, ProcessPoolExecutor(jobs) as pool:
        paths = [*sorted((require_data() / "videos").iterdir()), fast_cutting_clip(Path(tmp))]
        hashed = list(pool.map(hash_video, paths))
    print(f"{len(hashed)} videos x {len(TRANSFORMS)} copies hashed", flush=True)
    # A video whose own frames are all too flat for PDQ (rgb.m4v: plain colour fields) has no
    # ordinary perceptual reference, only contrast-normalised frames (weak, said so); its
    # copies are not counted in recall (they still count for false matches).
    flat = [
        v.name
        for v in hashed
        if not any(compared_frames(s.frames) for s in v.dense if s.type == "vpdq")
    ]
    usable = [v for v in hashed if v.name not in flat]
    rows: list[tuple[str, int, int, list[str], list[str]]] = []
    false_copies: list[str] = []
    for name in TRANSFORMS:
        dense_found = sparse_found = 0
        missed: list[str] = []
        exact_only: list[str] = []
        for video in hashed:
            copy = video.copies[name]
            false_copies += [
                f"{video.name} ({name}) ~ {other.name}"
                for other in hashed
                if not _related(video.name, other.name) and matches(copy, other.dense)
            ]
        for video in usable:
            copy = video.copies[name]
            if video.copy_strength[name] is Strength.EXACT_ONLY:
                exact_only.append(f"{video.name} (best frame quality {_top_quality(copy)})")
            if matches(copy, video.dense):
                dense_found += 1
            elif video.copy_strength[name] is not Strength.EXACT_ONLY:
                missed.append(f"{video.name} ({best_shares(copy, video.dense)})")
            sparse_found += matches(copy, video.sparse)
        rows.append((name, dense_found, sparse_found, missed, exact_only))
    pairs = [(a, b) for a in hashed for b in hashed if not _related(a.name, b.name)]
    false_pairs = [f"{a.name} ~ {b.name}" for a, b in pairs if matches(a.sparse, b.dense)]
    total = len(usable)
    lines = [
        f"Videos: {len(hashed)} ({', '.join(v.name for v in hashed)}: the shared videos and a "
        "montage of shared photos cutting every 3 frames, made on the spot); copies hashed as "
        "uploads "
        f"(1 fps); threshold {DEFAULT_THRESHOLD}, a match when >= 80% of either side's usable "
        f"time is found. Recall is of the {total} videos with a usable fingerprint; "
        + (
            f"{', '.join(flat)} itself has no frame usable by PDQ (plain colour fields, quality "
            "< 50): its fingerprint is `weak` (contrast-normalised frames only), the service "
            "says so, and its copies are not counted."
            if flat
            else "every video has a usable fingerprint."
        ),
        "",
        "| video transform | takedown recall (dense reference) | baseline (1 fps reference) "
        "| copies with no usable frame (`exact_only`, not missed) |",
        "|---|---:|---:|---|",
    ]
    for name, dense_found, sparse_found, _, exact_only in rows:
        note = ", ".join(exact_only) if exact_only else "none"
        lines.append(
            f"| {name} | {dense_found}/{total} ({dense_found / total * 100:.0f}%) "
            f"| {sparse_found}/{total} ({sparse_found / total * 100:.0f}%) | {note} |"
        )
    missed_lines = [f"{name}: {', '.join(m)}" for name, _, _, m, _ in rows if m]
    lines += [
        "",
        "Goal: 100% for every transform, 0 matches between different videos. Missed with a "
        "usable fingerprint: " + ("; ".join(missed_lines) or "none") + ". "
        "A copy with no usable frame is `exact_only`: the service says so instead of claiming "
        "a search.",
        "",
        f"False matches: {len(false_pairs)} of {len(pairs)} ordered pairs of different videos "
        "(1 fps upload against dense reference)"
        + (f" ({'; '.join(false_pairs)})" if false_pairs else "")
        + f"; {len(false_copies)} of {len(TRANSFORMS) * len(pairs)} copy/other-video pairs"
        + (f" ({'; '.join(false_copies)})" if false_copies else "")
        + ". Same footage, counted as one video: v2.m4v ~ v2s.mov, carphone_pristine.mp4 ~ "
        "carphone_distorted.mp4.",
        "",
        "Reference size (distinct frame hashes, all variants): "
        + ", ".join(
            f"{v.name} {v.seconds:.0f} s: dense {_frames(v.dense)}, 1 fps {_frames(v.sparse)}"
            for v in hashed
        )
        + ".",
    ]
    out.update(
        videos=[v.name for v in hashed],
        recall={
            name: {
                "takedown_dense": d / total,
                "baseline_1fps": s / total,
                "missed": m,
                "exact_only_copies": e,
            }
            for name, d, s, m, e in rows
        },
        upload_strength={v.name: v.upload_strength.value for v in hashed},
        reference_exact_only=flat,
        false_matches_between_videos=false_pairs,
        ordered_pairs=len(pairs),
        false_matches_of_copies=false_copies,
        reference_frames={
            v.name: {"dense": _frames(v.dense), "1fps": _frames(v.sparse)} for v in hashed
        },
    )
    return lines


if __name__ == "__main__":
    result: dict[str, object] = {}
    print("\n".join(run(2, result)))
