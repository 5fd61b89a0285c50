"""vPDQ: a video as the PDQ hashes of its (sampled) frames, with quality and timestamp.

Two videos match when enough of the query's usable frames have a near frame in the other video
(or enough of the other's have one in the query: a clip inside a longer compilation); comparing
per-frame sets rather than aligned sequences survives trims, re-encodes, speed-ups and
frame-rate changes.

Shares are counted in seconds, not frames: a video's compared frames (usable, each distinct
hash once) are grouped by the second they fall in, and a second counts as found when any of its
frames has a near frame in the other video. At 1 fps this is the reference's frame share
exactly; for a reference hashed at every frame (:data:`takedown.media.video.REFERENCE_SAMPLING`)
it keeps the share independent of the sampling density, so a dense reference and a 1 fps
upload of the same footage agree on what "most of the video" means.
"""

from __future__ import annotations

import math
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
"""A video matches when at least this share of the query's usable seconds match, or this share
of the stored video's (the stored clip found inside a longer query)."""


@dataclass(frozen=True)
class VideoOverlap:
    """Shares of usable seconds, in each video, that have a match in the other."""

    query_share: float
    target_share: float

    @property
    def matched(self) -> bool:
        return is_match(self.query_share, self.target_share)


def is_match(query_share: float, target_share: float) -> bool:
    """Most of the query is in the other video, or most of the other video is in the query."""
    return query_share >= MATCH_SHARE or target_share >= MATCH_SHARE


def compared_frames(frames: Sequence[FrameHash]) -> list[str]:
    """The frame hashes vPDQ compares: usable frames (quality >= 50), each distinct hash once,
    in order. This is the reference's quality filter and dedupe: a still scene repeated over
    many frames counts once, on either side, in both shares."""
    return list(dict.fromkeys(f.value for f in frames if f.usable))


def frame_second(timestamp: float) -> int:
    """The second a frame counts in: the nearest whole second, so that 1 fps samples taken at
    0.97 s and 2.0 s fall in seconds 1 and 2."""
    return math.floor(timestamp + 0.5)


def compared_seconds(frames: Sequence[FrameHash]) -> list[tuple[str, int]]:
    """:func:`compared_frames`, each with the second of its first usable occurrence."""
    seconds: dict[str, int] = {}
    for frame in frames:
        if frame.usable and frame.value not in seconds:
            seconds[frame.value] = frame_second(frame.timestamp)
    return list(seconds.items())


def dedupe(frames: Sequence[FrameHash]) -> list[FrameHash]:
    """Each distinct frame hash once, at its first occurrence (a usable one where the hash is
    ever usable): what the comparison uses of a video is unchanged, its storage is not."""
    kept: dict[tuple[str, bool], FrameHash] = {}
    for frame in frames:
        kept.setdefault((frame.value, frame.usable), frame)
    usable = {value for value, is_usable in kept if is_usable}
    return [f for key, f in kept.items() if key[1] or key[0] not in usable]


def overlap(query: VideoSignal, target: VideoSignal, threshold: int) -> VideoOverlap:
    """Brute-force overlap in seconds: the definition that :class:`takedown.matching.
    vpdq_index.VpdqIndex` computes at scale (a property test holds the two equal)."""
    query_frames = compared_seconds(query.frames)
    target_frames = compared_seconds(target.frames)
    if not query_frames or not target_frames:
        return VideoOverlap(0.0, 0.0)
    target_ints = [(int(v, 16), second) for v, second in target_frames]
    matched_query: set[int] = set()
    matched_target: set[int] = set()
    for value, second in query_frames:
        q = int(value, 16)
        for t, target_second in target_ints:
            if (q ^ t).bit_count() <= threshold:
                matched_query.add(second)
                matched_target.add(target_second)
    return VideoOverlap(
        query_share=len(matched_query) / len({s for _, s in query_frames}),
        target_share=len(matched_target) / len({s for _, s in target_frames}),
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

        def kept(hashes: list[FrameHash]) -> tuple[FrameHash, ...]:
            return tuple(dedupe(hashes) if options.video.dedupe else hashes)

        signals: list[AnySignal] = [VideoSignal(self.name, kept(frames))]
        if frames and bordered * 2 >= len(frames):
            signals.append(VideoSignal(self.name, kept(trimmed), variant=Variant.TRIMMED))
        if mirrored:
            signals.append(VideoSignal(self.name, kept(mirrored), transform="mirror"))
        return signals

    def parse(self, value: str) -> str:
        """Validate a serialized vPDQ signal (see :func:`parse_frames`); canonical form back."""
        return format_frames(parse_frames(value))

    def compare(self, a: AnySignal, b: AnySignal, threshold: int | None = None) -> Comparison:
        if not isinstance(a, VideoSignal) or not isinstance(b, VideoSignal):
            raise InvalidSignal("vPDQ compares two vPDQ signals")
        share = overlap(a, b, self.default_threshold if threshold is None else threshold)
        return Comparison(
            distance=1.0 - max(share.query_share, share.target_share), matched=share.matched
        )


VPDQ = register(VpdqSignal())
