"""vPDQ: a video as the PDQ hashes of its (sampled) frames, with quality and timestamp.

Two videos match when enough of the query's usable frames have a near frame in the other video;
comparing per-frame sets rather than aligned sequences survives trims, re-encodes, speed-ups
and frame-rate changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from takedown.media import MediaKind, iter_video_frames
from takedown.media.borders import crop, find_content
from takedown.signals.base import (
    AnySignal,
    Comparison,
    FrameHash,
    InvalidSignal,
    MediaItem,
    Variant,
    VideoSignal,
)
from takedown.signals.pdq import DEFAULT_THRESHOLD, PDQ, hash_rgb
from takedown.signals.registry import register

MATCH_SHARE = 0.8
"""A video matches when at least this share of the query's usable frames match."""


@dataclass(frozen=True)
class VideoOverlap:
    """Shares of usable frames, in each video, that have a match in the other."""

    query_share: float
    target_share: float


def compared_frames(frames: Sequence[FrameHash]) -> list[str]:
    """The frame hashes vPDQ compares: usable frames (quality >= 50), each distinct hash once,
    in order. This is the reference's quality filter and dedupe: a still scene repeated over
    many frames counts once, on either side, in both shares."""
    return list(dict.fromkeys(f.value for f in frames if f.usable))


def overlap(query: VideoSignal, target: VideoSignal, threshold: int) -> VideoOverlap:
    """Brute-force frame overlap: the definition that :class:`takedown.matching.vpdq_index.
    VpdqIndex` computes at scale (a property test holds the two equal)."""
    query_frames = compared_frames(query.frames)
    target_frames = compared_frames(target.frames)
    if not query_frames or not target_frames:
        return VideoOverlap(0.0, 0.0)
    target_ints = [int(v, 16) for v in target_frames]
    matched_query: set[str] = set()
    matched_target: set[int] = set()
    for value in query_frames:
        q = int(value, 16)
        for t in target_ints:
            if (q ^ t).bit_count() <= threshold:
                matched_query.add(value)
                matched_target.add(t)
    return VideoOverlap(
        query_share=len(matched_query) / len(query_frames),
        target_share=len(matched_target) / len(target_frames),
    )


def format_frames(frames: Sequence[FrameHash]) -> str:
    """A vPDQ signal as one string, the form banks store: ``pdq_hex,quality,timestamp`` per
    frame (the reference's columns), frames separated by ``;``."""
    return ";".join(f"{f.value},{f.quality},{f.timestamp:.3f}" for f in frames)


def parse_frames(value: str) -> list[FrameHash]:
    """Read :func:`format_frames`' form back, validating every frame (a single frame is fine)."""
    frames = []
    for item in (part for part in value.split(";") if part.strip()):
        parts = item.strip().split(",")
        if len(parts) != 3:
            raise InvalidSignal(f"a vPDQ frame is 'pdq_hex,quality,timestamp', got {item!r}")
        pdq_hex, quality, timestamp = parts
        try:
            q, t = int(quality), float(timestamp)
        except ValueError:
            raise InvalidSignal(f"vPDQ quality and timestamp must be numbers in {item!r}") from None
        if not 0 <= q <= 100:
            raise InvalidSignal(f"vPDQ quality is 0-100, got {q}")
        frames.append(FrameHash(PDQ.parse(pdq_hex), q, t))
    if not frames:
        raise InvalidSignal("a vPDQ value lists frames as 'pdq_hex,quality,timestamp;...'")
    return frames


class VpdqSignal:
    name: ClassVar[str] = "vpdq"
    media_kinds: ClassVar[frozenset[MediaKind]] = frozenset({MediaKind.VIDEO})
    default_threshold: ClassVar[int] = DEFAULT_THRESHOLD

    def hash_media(self, item: MediaItem) -> list[AnySignal]:
        """The video's frames as sampled; with ``trim``, a trimmed variant when most frames
        carry a border (letterbox, a frame added by a reposter), each frame trimmed on its
        own; with ``mirror_video``, the frames flipped, so that a mirrored repost is found."""
        options = item.options
        frames: list[FrameHash] = []
        trimmed: list[FrameHash] = []
        mirrored: list[FrameHash] = []
        bordered = 0
        for frame in iter_video_frames(item.data, options.limits, options.video):
            original = FrameHash(*hash_rgb(frame.rgb), timestamp=frame.timestamp)
            frames.append(original)
            if options.trim:
                boxes = find_content(frame.rgb)
                if boxes:
                    bordered += 1
                    inner = np.ascontiguousarray(crop(frame.rgb, boxes[-1]))
                    trimmed.append(FrameHash(*hash_rgb(inner), timestamp=frame.timestamp))
                else:
                    trimmed.append(original)
            if options.mirror_video:
                flipped = np.ascontiguousarray(frame.rgb[:, ::-1])
                mirrored.append(FrameHash(*hash_rgb(flipped), timestamp=frame.timestamp))
        signals: list[AnySignal] = [VideoSignal(self.name, tuple(frames))]
        if frames and bordered * 2 >= len(frames):
            signals.append(VideoSignal(self.name, tuple(trimmed), variant=Variant.TRIMMED))
        if mirrored:
            signals.append(VideoSignal(self.name, tuple(mirrored), transform="mirror"))
        return signals

    def parse(self, value: str) -> str:
        """Validate a serialized vPDQ signal (see :func:`parse_frames`); canonical form back."""
        return format_frames(parse_frames(value))

    def compare(self, a: AnySignal, b: AnySignal, threshold: int | None = None) -> Comparison:
        if not isinstance(a, VideoSignal) or not isinstance(b, VideoSignal):
            raise InvalidSignal("vPDQ compares two vPDQ signals")
        share = overlap(a, b, self.default_threshold if threshold is None else threshold)
        return Comparison(
            distance=1.0 - share.query_share, matched=share.query_share >= MATCH_SHARE
        )


VPDQ = register(VpdqSignal())
