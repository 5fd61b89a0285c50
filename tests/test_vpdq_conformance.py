"""vPDQ against the ThreatExchange reference videos, at native resolution, every frame."""

from __future__ import annotations

from pathlib import Path

import pytest

from takedown.media import FrameSampling
from takedown.signals import HashOptions, VideoSignal, get, hash_bytes
from takedown.signals.pdq import hamming

NATIVE = HashOptions(fast=False, trim=False, mirror_video=False, video=FrameSampling(fps=None))
REFERENCE = Path(__file__).resolve().parents[2] / "shared/data/reference/vpdq"
VIDEOS = sorted((REFERENCE / "videos").glob("*.mp4")) if REFERENCE.is_dir() else []


def _vpdq(data: bytes, options: HashOptions) -> VideoSignal:
    signal = next(s for s in hash_bytes(data, options).signals if s.type == "vpdq")
    assert isinstance(signal, VideoSignal)
    return signal


def test_reference_videos_are_present(shared_data: Path) -> None:
    assert len(VIDEOS) == 14


@pytest.mark.slow
@pytest.mark.parametrize("video", VIDEOS, ids=[v.stem for v in VIDEOS])
def test_reference_video(video: Path) -> None:
    expected = [
        line.strip().split(",")
        for line in (REFERENCE / "expected" / f"{video.stem}.txt").read_text().splitlines()
        if line.strip()
    ]
    signal = _vpdq(video.read_bytes(), NATIVE)
    assert len(signal.frames) == len(expected)
    compared = 0
    for frame, (_, quality, pdq_hex, _timestamp) in zip(signal.frames, expected, strict=True):
        if frame.quality >= 50 and int(quality) >= 50:
            assert hamming(frame.value, pdq_hex) <= 31, (frame, pdq_hex)
            compared += 1
    assert compared >= len(expected) // 4  # most frames are comparable


def test_sampling_and_matching(shared_data: Path) -> None:
    videos = shared_data / "videos"
    v2 = _vpdq((videos / "v2.m4v").read_bytes(), HashOptions())
    duration = v2.frames[-1].timestamp
    assert len(v2.frames) == int(duration) + 1  # one frame per second from t=0
    assert [round(f.timestamp) for f in v2.frames] == list(range(len(v2.frames)))
    vpdq = get("vpdq")
    assert vpdq.compare(v2, v2).matched
    bikes = _vpdq((videos / "bikes.mp4").read_bytes(), HashOptions())
    assert not vpdq.compare(v2, bikes).matched
    assert vpdq.compare(v2, bikes).distance > 0.5


def test_fast_sampling_agrees_with_native(shared_data: Path) -> None:
    """Fast decoding (no deblocking, reference frames only, frames shrunk) finds the same video."""
    data = (REFERENCE / "videos" / "doorknob-hd-no-bar.mp4").read_bytes()
    fast = _vpdq(data, HashOptions())
    native = _vpdq(data, NATIVE)
    assert get("vpdq").compare(fast, native).matched


def test_keyframe_jumps_land_on_the_right_frames() -> None:
    """Frames sampled after seeking to keyframes match the native frames at those times."""
    data = (REFERENCE / "videos" / "pattern-hd-no-bar.mp4").read_bytes()
    fast = _vpdq(data, HashOptions())
    native = {round(f.timestamp, 2): f for f in _vpdq(data, NATIVE).frames}
    assert [round(f.timestamp) for f in fast.frames] == list(range(7))
    for frame in fast.frames:
        twin = native[round(frame.timestamp, 2)]
        assert hamming(frame.value, twin.value) <= 31, frame.timestamp
