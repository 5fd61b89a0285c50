"""vPDQ: a video as the PDQ hashes of its (sampled) frames, with quality and timestamp.

Two videos match when enough of the query's usable frames have a near frame in the other video
(or enough of the other's have one in the query: a clip inside a longer compilation); comparing
per-frame sets rather than aligned sequences survives trims, re-encodes, speed-ups and
frame-rate changes.

Shares are of time, not of frames (:class:`Timeline`): each found frame vouches for one
upload sampling interval around it, so a dense reference and a 1 fps upload of the same footage
agree on what "most of the video" means, and a short clip found inside a longer video shows its
true share.

A video too dark or flat for PDQ (most frames below quality 50) is hashed again from its
contrast-normalised frames (:mod:`takedown.signals.normalise`), as the signal type
``vpdq_normalised``, only ever compared with its own type: always for a reference
(``HashOptions.normalise_video``), and for an upload only when the video is weak, from the
frames that were too dark, so an ordinary upload costs nothing more.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
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
from takedown.signals.normalise import Grid, luminance_grid, stretch
from takedown.signals.pdq import DEFAULT_THRESHOLD, PDQ, hash_rgb
from takedown.signals.registry import register

MATCH_SHARE = 0.8
"""A video matches when at least this share of the query's usable time is found, or this share
of the stored video's (the stored clip found inside a longer query)."""

NORMALISED_TYPE = "vpdq_normalised"
"""The signal type of vPDQ hashes of contrast-normalised frames (see
:mod:`takedown.signals.normalise`): compared only with each other."""

VIDEO_TYPES = frozenset({"vpdq", NORMALISED_TYPE})
"""Signal types whose values are videos (frame lists)."""

MIN_VIDEO_FRAMES = 3
"""A video with fewer distinct usable frames is weak. A vPDQ match needs 80% of the query's
usable time; with one or two frames, a single frame decides it both ways: a copy whose one
usable frame falls below the quality floor (re-encoding, a darker copy) is missed, and one near
frame in an unrelated video is a match."""

MIN_VIDEO_SHARE = 0.2
"""A video whose usable frames are fewer than this share of its sampled frames is weak: most of
it has no fingerprint, so a copy cut to the other parts cannot be recognised."""

WINDOW_S = 1.0
"""The time a found frame vouches for: one upload sampling interval (1 fps), centred on it."""


@dataclass(frozen=True)
class VideoOverlap:
    """Shares of usable time, in each video, that have a match in the other."""

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


def is_weak(frames: Sequence[FrameHash]) -> bool:
    """Too few usable frames to recognise changed copies surely (see :data:`MIN_VIDEO_FRAMES`,
    :data:`MIN_VIDEO_SHARE`)."""
    usable = sum(1 for f in frames if f.usable)
    return len(compared_frames(frames)) < MIN_VIDEO_FRAMES or usable < MIN_VIDEO_SHARE * len(frames)


@dataclass(frozen=True)
class Timeline:
    """A video's compared frames (:func:`compared_frames`, each at its first usable occurrence)
    on its time line, and how much of that time a set of found frames covers.

    Shares are of time, not of frames: each found frame covers :data:`WINDOW_S` of time centred
    on it, clipped to the video's own span (its first to last compared frame, widened by half
    its own sampling interval). For a 1 fps video that is exactly the share of its frames found;
    for a reference hashed at every frame (:data:`takedown.media.video.REFERENCE_SAMPLING`) it
    keeps the share independent of the sampling density, so a dense reference and a 1 fps
    upload of the same footage agree on what "most of the video" means. The share is of the
    time a 1 fps sampling is sure to see (:func:`_sure`: the whole seconds of a video of 2 s
    or more), so a clip of 2.2 s or more inside a longer upload shows >= 80% of itself found
    wherever the samples fall (counted in whole seconds by rounding, as before, a 3.3 s clip
    had 4 seconds of which 1 fps samples may hit 3: 75%).
    """

    values: tuple[str, ...]
    times: tuple[float, ...]
    low: float
    high: float
    total: float

    @classmethod
    def of(cls, frames: Sequence[FrameHash]) -> Timeline:
        first: dict[str, float] = {}
        for frame in frames:
            if frame.usable and frame.value not in first:
                first[frame.value] = frame.timestamp
        if not first:
            return cls((), (), 0.0, 0.0, 0.0)
        times = tuple(first.values())
        half = _sampling_interval(times) / 2
        low, high = min(times) - half, max(times) + half
        return cls(tuple(first), times, low, high, _covered(times, low, high))

    def __len__(self) -> int:
        return len(self.values)

    def share(self, found: Iterable[int]) -> float:
        """The share of this video's time that the compared frames numbered ``found`` cover."""
        times = [self.times[i] for i in set(found)]
        if not times:
            return 0.0
        if self.total <= 0:
            return 1.0
        return min(1.0, _covered(times, self.low, self.high) / _sure(self.total))


def _sampling_interval(times: Iterable[float]) -> float:
    """The video's own sampling interval (the median gap between its compared frames), at most
    :data:`WINDOW_S`: 1 s for an upload, about a frame for a dense reference. Taken from the
    compared frames only, so a reference stored deduplicated has the timeline it had whole."""
    ordered = sorted(set(times))
    gaps = [b - a for a, b in pairwise(ordered)]
    return min(WINDOW_S, float(np.median(gaps))) if gaps else WINDOW_S


def _sure(total: float) -> float:
    """The time of a video that a 1 fps sampling is sure to see: its whole seconds (a sampling
    of 3.9 s may take 3 frames of it, never fewer), all of it under 2 s (one frame is never
    most of a video of 2 s or more)."""
    if total < 2 * WINDOW_S:
        return total
    return WINDOW_S * math.floor(total / WINDOW_S + 1e-6)


def _covered(times: Iterable[float], low: float, high: float) -> float:
    """Length of the union of :data:`WINDOW_S` windows centred on ``times``, within [low, high]."""
    half = WINDOW_S / 2
    total = 0.0
    end = low
    for t in sorted(times):
        start, stop = max(t - half, end), min(t + half, high)
        if stop > start:
            total += stop - start
            end = stop
    return total


def dedupe(frames: Sequence[FrameHash]) -> list[FrameHash]:
    """Each distinct frame hash once, at its first occurrence (a usable one where the hash is
    ever usable): what the comparison uses of a video is unchanged, its storage is not."""
    kept: dict[tuple[str, bool], FrameHash] = {}
    for frame in frames:
        kept.setdefault((frame.value, frame.usable), frame)
    usable = {value for value, is_usable in kept if is_usable}
    return [f for key, f in kept.items() if key[1] or key[0] not in usable]


def overlap(query: VideoSignal, target: VideoSignal, threshold: int) -> VideoOverlap:
    """Brute-force overlap in time: the definition that :class:`takedown.matching.
    vpdq_index.VpdqIndex` computes at scale (a property test holds the two equal)."""
    query_line, target_line = Timeline.of(query.frames), Timeline.of(target.frames)
    if not len(query_line) or not len(target_line):
        return VideoOverlap(0.0, 0.0)
    target_ints = [int(v, 16) for v in target_line.values]
    matched_query: set[int] = set()
    matched_target: set[int] = set()
    for i, value in enumerate(query_line.values):
        q = int(value, 16)
        for j, t in enumerate(target_ints):
            if (q ^ t).bit_count() <= threshold:
                matched_query.add(i)
                matched_target.add(j)
    return VideoOverlap(query_line.share(matched_query), target_line.share(matched_target))


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
        own; with ``mirror_video``, the frames flipped, so that a mirrored repost is found;
        the contrast-normalised frames (see the module's docstring)."""
        options = item.options
        frames: list[FrameHash] = []
        trimmed: list[FrameHash] = []
        mirrored: list[FrameHash] = []
        grids: list[tuple[float, Grid]] = []
        bordered = 0
        for frame in iter_video_frames(item.data, options.limits, options.video):
            original = FrameHash(*hash_rgb(frame.rgb), timestamp=frame.timestamp)
            frames.append(original)
            if options.normalise_video or not original.usable:
                grids.append((frame.timestamp, luminance_grid(frame.rgb)))
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
        if grids and (options.normalise_video or is_weak(frames)):
            turns = (None, "mirror") if options.mirror_video else (None,)
            for turn in turns:
                normalised = [
                    FrameHash(*hash_rgb(stretch(grid if turn is None else grid[:, ::-1])), t)
                    for t, grid in grids
                ]
                signals.append(
                    VideoSignal(
                        NORMALISED_TYPE, kept(normalised), Variant.NORMALISED, transform=turn
                    )
                )
        return signals

    def parse(self, value: str) -> str:
        """Validate a serialized vPDQ signal (see :func:`parse_frames`); canonical form back."""
        return format_frames(parse_frames(value))

    def compare(self, a: AnySignal, b: AnySignal, threshold: int | None = None) -> Comparison:
        if not isinstance(a, VideoSignal) or not isinstance(b, VideoSignal):
            raise InvalidSignal("vPDQ compares two vPDQ signals")
        if a.type != b.type:
            raise InvalidSignal(
                "a normalised vPDQ signal compares only with another normalised one"
            )
        share = overlap(a, b, self.default_threshold if threshold is None else threshold)
        return Comparison(
            distance=1.0 - max(share.query_share, share.target_share), matched=share.matched
        )


VPDQ = register(VpdqSignal())


class NormalisedVpdqSignal(VpdqSignal):
    """vPDQ of contrast-normalised frames: made by :class:`VpdqSignal` for dark or flat videos
    (and for every reference), never on its own (no media kinds), and compared only with its
    own type, so a normalised frame can never match an ordinary one."""

    name: ClassVar[str] = NORMALISED_TYPE
    media_kinds: ClassVar[frozenset[MediaKind]] = frozenset()

    def hash_media(self, item: MediaItem) -> list[AnySignal]:
        return []


VPDQ_NORMALISED = register(NormalisedVpdqSignal())
