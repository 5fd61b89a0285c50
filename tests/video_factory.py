"""Make small real videos with PyAV's bundled encoders for tests."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

from .conftest import synthetic_rgb


def make_video(
    path: Path,
    *,
    container: str = "mp4",
    codec: str = "h264",
    seconds: float = 2,
    fps: int = 10,
    size: tuple[int, int] = (160, 120),
) -> bytes:
    """Write a video whose content drifts slowly, and return its bytes."""
    base = synthetic_rgb(7, (size[0] * 2, size[1] * 2))
    with av.open(str(path), mode="w", format=container) as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        for i in range(int(seconds * fps)):
            x = i % size[0]
            frame_rgb = np.ascontiguousarray(base[: size[1], x : x + size[0]])
            frame = av.VideoFrame.from_ndarray(frame_rgb, format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path.read_bytes()


def make_long_header_video(path: Path, hours: float = 10) -> bytes:
    """Two frames ``hours`` apart: a tiny file whose container declares a huge duration."""
    rgb = synthetic_rgb(3, (64, 48))
    with av.open(str(path), mode="w", format="mp4") as out:
        stream = out.add_stream("h264", rate=1)
        stream.width, stream.height = 64, 48
        stream.pix_fmt = "yuv420p"
        stream.time_base = Fraction(1, 1)
        stream.codec_context.time_base = Fraction(1, 1)
        for pts in (0, int(hours * 3600)):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = pts
            frame.time_base = Fraction(1, 1)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path.read_bytes()


def transform_video(
    source: Path,
    path: Path,
    change: Callable[[np.ndarray], np.ndarray] = lambda rgb: rgb,
    *,
    scale: float = 1.0,
    crf: int = 23,
) -> bytes:
    """Re-encode a real video as a reposter would: each frame changed by ``change`` (mirror,
    border...), resized by ``scale``, at quality ``crf`` (higher is worse)."""
    with av.open(str(source)) as src:
        stream_in = src.streams.video[0]
        rate = stream_in.average_rate or Fraction(25)
        frames = [f.to_ndarray(format="rgb24") for f in src.decode(stream_in)]
    first = change(frames[0])
    height, width = first.shape[:2]
    width, height = (int(width * scale) // 2 * 2, int(height * scale) // 2 * 2)
    with av.open(str(path), mode="w", format="mp4") as out:
        stream = out.add_stream("h264", rate=rate, options={"crf": str(crf)})
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        for rgb in frames:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(change(rgb)), format="rgb24")
            frame = frame.reformat(width=width, height=height)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path.read_bytes()


def mirror(rgb: np.ndarray) -> np.ndarray:
    return rgb[:, ::-1]


def black_border(rgb: np.ndarray, share: float = 0.12) -> np.ndarray:
    height, width = rgb.shape[:2]
    top, side = int(height * share), int(width * share)
    out = np.zeros((height + 2 * top, width + 2 * side, 3), dtype=rgb.dtype)
    out[top : top + height, side : side + width] = rgb
    return out


def video_frames(source: Path) -> tuple[list[np.ndarray], Fraction]:
    """Every decoded frame of a video as RGB, and its frame rate."""
    with av.open(str(source)) as src:
        stream_in = src.streams.video[0]
        rate = Fraction(stream_in.average_rate or 25)
        return [f.to_ndarray(format="rgb24") for f in src.decode(stream_in)], rate


def write_video(
    frames: list[np.ndarray], path: Path, rate: Fraction | int, *, crf: int = 23
) -> bytes:
    """Encode RGB frames (all one size, even sides) as H.264 in MP4 at ``rate``."""
    height, width = frames[0].shape[:2]
    with av.open(str(path), mode="w", format="mp4") as out:
        stream = out.add_stream("h264", rate=rate, options={"crf": str(crf)})
        stream.width, stream.height = width // 2 * 2, height // 2 * 2
        stream.pix_fmt = "yuv420p"
        for rgb in frames:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            frame = frame.reformat(width=stream.width, height=stream.height)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path.read_bytes()


def grayscale(rgb: np.ndarray) -> np.ndarray:
    luma = (rgb @ np.array([0.299, 0.587, 0.114])).astype(np.uint8)
    return np.repeat(luma[:, :, None], 3, axis=2)


def resized(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``rgb`` at ``size`` (width, height), area-averaged."""
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
    return np.asarray(frame.reformat(width=size[0], height=size[1], format="rgb24").to_ndarray())


def resampled(frames: list[np.ndarray], rate: Fraction, new_rate: int) -> list[np.ndarray]:
    """The frames a frame-rate converter keeps: at each output time, the source frame shown."""
    duration = len(frames) / rate
    count = int(duration * new_rate)
    return [frames[min(len(frames) - 1, int(i / new_rate * rate))] for i in range(count)]


def fast_cutting_frames(
    shots: list[np.ndarray],
    seconds: float = 6,
    fps: int = 30,
    shot_frames: int = 3,
    size: tuple[int, int] = (320, 240),
) -> list[np.ndarray]:
    """A clip that cuts to a new shot every ``shot_frames`` frames (a montage, a music video),
    each shot a slow pan across one of ``shots`` (photos): two 1 fps samplings of it that start
    a few frames apart never see the same shot."""
    frames = []
    for i in range(int(seconds * fps)):
        shot = resized(shots[i // shot_frames % len(shots)], (size[0] + 16, size[1]))
        x = i % shot_frames * 2
        frames.append(np.ascontiguousarray(shot[:, x : x + size[0]]))
    return frames


def write_fast_cutting_clip(photos: list[Path], path: Path, count: int = 60) -> bytes:
    """A 6 s, 30 fps montage of the first ``count`` of ``photos`` (``fast_cutting_frames``:
    a new shot every 3 frames), written to ``path``."""
    shots = [np.asarray(Image.open(p).convert("RGB")) for p in sorted(photos)[:count]]
    return write_video(fast_cutting_frames(shots), path, 30)


def cut_start(source: Path, path: Path, share: float = 0.2) -> bytes:
    """``source`` with its first ``share`` of frames cut (20% of a 6 s clip is 1.2 s: not a
    whole second, so 1 fps samplings of the two never see the same frames)."""
    frames, rate = video_frames(source)
    return write_video(frames[int(len(frames) * share) :], path, rate)
