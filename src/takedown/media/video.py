"""Safe video decoding with PyAV (ffmpeg inside its wheels).

The container's declared size, frame count and duration are checked before decoding, and the
decoded timestamps, frame count and wall time are checked again while decoding, because a
hostile file can declare one thing and contain another (or never end).
"""

from __future__ import annotations

import bisect
import io
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from takedown.media.deadline import Deadline
from takedown.media.errors import (
    CorruptMedia,
    MediaError,
    MediaTooLarge,
    MediaTooLong,
    UnsupportedMedia,
)
from takedown.media.image import RGBArray
from takedown.media.limits import MediaLimits


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    duration_s: float | None
    frames: int | None
    fps: float | None
    codec: str


@dataclass(frozen=True)
class VideoFrame:
    """One decoded frame: ``index`` counts decoded frames from 0, ``timestamp`` is in seconds."""

    index: int
    timestamp: float
    rgb: RGBArray


@dataclass(frozen=True)
class FrameSampling:
    """Which frames to decode and at what size.

    ``fps=None`` keeps every frame (the vPDQ reference's native mode). With a rate, decoding may
    skip non-reference frames and the deblocking filter, which a 64x64 perceptual hash cannot
    see but which roughly doubles decoding speed. ``max_side`` shrinks sampled frames (area
    averaging) before conversion; PDQ's cost grows faster than the pixel count. ``dedupe`` asks
    the frame hasher to keep each distinct frame hash once (a dense reference's still scenes
    would otherwise repeat one hash hundreds of times in storage).
    """

    fps: float | None = None
    max_side: int | None = None
    fast_decode: bool = False
    threads: int = 1
    dedupe: bool = False


REFERENCE_SAMPLING = FrameSampling(fps=None, max_side=512, dedupe=True)
"""How a video that becomes a reference (a bank entry, a confirmed item) is sampled: every
frame, at the size uploads are hashed at (1 fps), each distinct frame hash once. Any 1 fps
sample of a copy then lies within one frame interval of a reference frame, which 1 fps on both
sides cannot promise for fast-cutting video (the two sides sample different shots)."""


def _av() -> Any:
    """PyAV, imported when a video is first opened: loading FFmpeg's libraries costs more than
    hashing a photo, and most runs never see a video."""
    import av

    return av


def _open(data: bytes) -> Any:
    av = _av()
    try:
        return av.open(io.BytesIO(data), mode="r", metadata_errors="ignore")
    except av.FFmpegError as exc:
        raise CorruptMedia(f"the video container cannot be read: {exc}") from exc


def _info(container: Any) -> tuple[Any, VideoInfo]:
    if not container.streams.video:
        raise UnsupportedMedia("the file has no video track")
    stream = container.streams.video[0]
    if stream.codec_context is None:
        # FFmpeg found a video track but no decoder for it: its codec is unknown here, or
        # (far more often) the header that names it is damaged or cut short
        raise CorruptMedia(
            "the video track's codec cannot be read or decoded; the file may be damaged or cut "
            "short"
        )
    duration: float | None = None
    if stream.duration is not None and stream.time_base is not None:
        duration = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        duration = container.duration / 1_000_000
    rate = stream.average_rate or stream.guessed_rate
    info = VideoInfo(
        width=int(stream.codec_context.width or 0),
        height=int(stream.codec_context.height or 0),
        duration_s=duration,
        frames=int(stream.frames) or None,
        fps=float(rate) if rate else None,
        codec=str(stream.codec_context.name),
    )
    return stream, info


def _check_declared(info: VideoInfo, limits: MediaLimits) -> None:
    if info.width * info.height > limits.max_pixels:
        raise MediaTooLarge(
            f"the video declares {info.width}x{info.height} frames, over the limit of "
            f"{limits.max_pixels:,} pixels"
        )
    if info.duration_s is not None and info.duration_s > limits.max_duration_s:
        raise MediaTooLong(
            f"the video declares a duration of {info.duration_s:,.0f} s, over the limit of "
            f"{limits.max_duration_s:,.0f} s; cut it into parts or raise the limit"
        )
    if info.frames is not None and info.frames > limits.max_frames:
        raise MediaTooLong(
            f"the video declares {info.frames:,} frames, over the limit of {limits.max_frames:,}"
        )


def probe_video(data: bytes, limits: MediaLimits) -> VideoInfo:
    """Read a video's declared properties and check them against the limits."""
    container = _open(data)
    try:
        _, info = _info(container)
        _check_declared(info, limits)
        return info
    finally:
        container.close()


def _target_size(width: int, height: int, max_side: int | None) -> tuple[int, int] | None:
    if max_side is None or max(width, height) <= max_side:
        return None
    scale = max_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _keyframe_times(data: bytes, deadline: Deadline) -> list[float]:
    """Times of the keyframes, read from the packets without decoding anything."""
    container = _open(data)
    try:
        stream = container.streams.video[0]
        times = []
        for packet in container.demux(stream):
            deadline.check("reading the video's index")
            if packet.is_keyframe and packet.pts is not None and packet.time_base is not None:
                times.append(float(packet.pts * packet.time_base))
        return sorted(times)
    finally:
        container.close()


def iter_video_frames(
    data: bytes, limits: MediaLimits, sampling: FrameSampling | None = None
) -> Iterator[VideoFrame]:
    """Yield the sampled frames of a video as RGB arrays, within the limits.

    With a sampling rate and fast decoding, decoding jumps ahead to a keyframe whenever one lies
    between the current frame and the next sample, instead of decoding every frame in between:
    at 1 frame a second and a keyframe every 2 s, half the frames are never decoded.
    """
    sampling = sampling or FrameSampling()
    deadline = Deadline(limits.max_decode_s)
    container = _open(data)
    try:
        stream, info = _info(container)
        _check_declared(info, limits)
        context = stream.codec_context
        context.thread_count = sampling.threads
        context.thread_type = "NONE" if sampling.threads == 1 else "AUTO"
        keyframes: list[float] = []
        if sampling.fast_decode and sampling.fps is not None:
            context.options = {"skip_loop_filter": "all"}
            context.skip_frame = "NONREF"
            keyframes = _keyframe_times(data, deadline)
        yield from _decode(container, stream, limits, sampling, deadline, info, keyframes)
    except MediaError:
        raise
    except _av().FFmpegError as exc:
        raise CorruptMedia(f"the video is damaged: {exc}") from exc
    except MemoryError as exc:
        raise MediaTooLarge("a video frame does not fit in memory") from exc
    finally:
        container.close()


def _decode(
    container: Any,
    stream: Any,
    limits: MediaLimits,
    sampling: FrameSampling,
    deadline: Deadline,
    info: VideoInfo,
    keyframes: list[float],
) -> Iterator[VideoFrame]:
    frame_period = 1.0 / info.fps if info.fps else 1 / 30
    step = 1.0 / sampling.fps if sampling.fps else 0.0
    decoded = 0
    start: float | None = None
    next_time = -math.inf  # absolute time of the next frame to keep
    jumped_from: float | None = None
    frames = container.decode(stream)
    while True:
        frame = next(frames, None)
        if frame is None:
            return
        deadline.check("decoding the video")
        decoded += 1
        if decoded > limits.max_frames:
            raise MediaTooLong(f"the video has more than {limits.max_frames:,} frames")
        raw_time = frame.time
        absolute = float(raw_time) if raw_time is not None else (decoded - 1) * frame_period
        if start is None:
            start = absolute
            next_time = start
        if jumped_from is not None:
            if absolute <= jumped_from:  # the seek went backwards: decode straight on instead
                keyframes = []
            jumped_from = None
        if absolute - start > limits.max_duration_s:
            raise MediaTooLong(
                f"the video runs past {limits.max_duration_s:,.0f} s of decoded frames"
            )
        if absolute < next_time - frame_period / 2:
            jump = _keyframe_before(keyframes, next_time + frame_period / 2)
            if jump is not None and jump > absolute + 2 * frame_period:
                keyframes = [k for k in keyframes if k > jump]
                jumped_from = absolute
                container.seek(round(jump / stream.time_base), stream=stream, backward=True)
                frames = container.decode(stream)
            continue
        if step:
            elapsed = absolute - start
            next_time = start + (math.floor(elapsed / step + 0.5) + 1) * step
        else:
            next_time = -math.inf
        yield VideoFrame(index=decoded - 1, timestamp=absolute - start, rgb=_rgb(frame, sampling))


def _keyframe_before(keyframes: list[float], limit: float) -> float | None:
    index = bisect.bisect_right(keyframes, limit)
    return keyframes[index - 1] if index else None


def _rgb(frame: Any, sampling: FrameSampling) -> RGBArray:
    size = _target_size(frame.width, frame.height, sampling.max_side)
    if size is None:
        rgb = frame.to_ndarray(format="rgb24")
    else:
        rgb = frame.reformat(
            width=size[0], height=size[1], format="rgb24", interpolation="AREA"
        ).to_ndarray()
    return np.ascontiguousarray(rgb)
