"""How far an item's fingerprints can find its copies: said wherever a person would otherwise
believe that a copy search or a block happened.

- ``strong``: a usable perceptual fingerprint (an image's PDQ quality >= 50; a video with enough
  usable frames), so changed copies (re-encoded, resized, mirrored...) are found.
- ``weak``: a perceptual fingerprint that finds only some changed copies: a picture too dark or
  flat for PDQ whose contrast-normalised hash is usable (it finds copies that are re-encoded,
  darker or brighter, but less surely than PDQ on a well-lit picture), or a video with too few
  usable frames (see :data:`MIN_VIDEO_FRAMES`, :data:`MIN_VIDEO_SHARE`), with or without
  contrast-normalised frames.
- ``exact_only``: no usable perceptual fingerprint; only identical files (MD5/SHA-256) are found.

Pure: it reads signals only, so the API, the console and the statement of reasons say the same.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from takedown.signals.base import QUALITY_USABLE, AnySignal, Signal, VideoSignal
from takedown.signals.pdq import NORMALISED_TYPE
from takedown.signals.vpdq import (
    MIN_VIDEO_FRAMES,
    MIN_VIDEO_SHARE,
    compared_frames,
    is_weak,
)
from takedown.signals.vpdq import NORMALISED_TYPE as VIDEO_NORMALISED


class Strength(StrEnum):
    STRONG = "strong"
    WEAK = "weak"
    EXACT_ONLY = "exact_only"


_ORDER = {Strength.EXACT_ONLY: 0, Strength.WEAK: 1, Strength.STRONG: 2}


@dataclass(frozen=True)
class Fingerprint:
    """An item's fingerprint strength and, in words a reviewer reads, why."""

    strength: Strength
    reason: str

    @property
    def limited(self) -> bool:
        """True when changed copies cannot all be recognised (weak or exact only)."""
        return self.strength is not Strength.STRONG

    def to_json(self) -> dict[str, str]:
        return {"strength": self.strength.value, "reason": self.reason}

    @classmethod
    def from_json(cls, data: Mapping[str, object] | None) -> Fingerprint | None:
        """Read a stored assessment back; None when none was stored (older rows) or unreadable."""
        if not data:
            return None
        try:
            return cls(Strength(str(data.get("strength"))), str(data.get("reason", "")))
        except ValueError:
            return None


EXACT_ONLY_NOTHING = Fingerprint(
    Strength.EXACT_ONLY, "only exact hashes (MD5/SHA-256) were given; no perceptual fingerprint"
)


def assess(signals: Sequence[AnySignal]) -> Fingerprint:
    """The strongest fingerprint the item's signals give (submitted PDQ hashes carry no quality
    and count as usable: the platform hashed them and vouches for them)."""
    images = [s for s in signals if isinstance(s, Signal) and s.type == "pdq"]
    normalised = [s for s in signals if isinstance(s, Signal) and s.type == NORMALISED_TYPE]
    videos = [
        s
        for s in signals
        if isinstance(s, VideoSignal) and s.type == "vpdq" and s.variant is None and not s.transform
    ]
    dark = [
        s
        for s in signals
        if isinstance(s, VideoSignal) and s.type == VIDEO_NORMALISED and not s.transform
    ]
    found = [_image(images, normalised)] if images or normalised else []
    found += [_video(v, dark) for v in videos]
    if not found:
        return EXACT_ONLY_NOTHING
    return max(found, key=lambda f: _ORDER[f.strength])


def weakest(fingerprints: Iterable[Fingerprint | None]) -> Fingerprint | None:
    """The weakest of several items' fingerprints (a case is as findable as its weakest item);
    None when none is known."""
    known = [f for f in fingerprints if f is not None]
    return min(known, key=lambda f: _ORDER[f.strength]) if known else None


def _image(images: Sequence[Signal], normalised: Sequence[Signal]) -> Fingerprint:
    usable = [s for s in images if s.usable]
    if usable:
        quality = max((s.quality for s in usable if s.quality is not None), default=None)
        said = f" (PDQ quality {quality})" if quality is not None else ""
        return Fingerprint(Strength.STRONG, f"usable perceptual fingerprint{said}")
    quality = max((s.quality for s in images if s.quality is not None), default=0)
    if any(s.usable for s in normalised):
        return Fingerprint(
            Strength.WEAK,
            f"the picture is too dark or flat for PDQ (quality {quality} < {QUALITY_USABLE}); "
            "changed copies are recognised only through its contrast-normalised fingerprint, "
            "which finds fewer of them",
        )
    return Fingerprint(
        Strength.EXACT_ONLY,
        f"the picture is too flat for a perceptual fingerprint (PDQ quality {quality} < "
        f"{QUALITY_USABLE}); only identical copies (MD5/SHA-256) can be found",
    )


def _video(video: VideoSignal, normalised: Sequence[VideoSignal] = ()) -> Fingerprint:
    sampled = len(video.frames)
    usable = sum(1 for f in video.frames if f.usable)
    distinct = len(compared_frames(video.frames))
    if is_weak(video.frames) and any(compared_frames(n.frames) for n in normalised):
        lit = max(len(compared_frames(n.frames)) for n in normalised)
        return Fingerprint(
            Strength.WEAK,
            f"only {usable} of the video's {sampled} sampled frames have a usable fingerprint "
            f"(too dark or flat for PDQ); changed copies are recognised only through "
            f"{lit} contrast-normalised frames, which find fewer of them",
        )
    if distinct == 0:
        return Fingerprint(
            Strength.EXACT_ONLY,
            f"none of the video's {sampled} sampled frames has a usable fingerprint (quality < "
            f"{QUALITY_USABLE}); only identical copies (MD5/SHA-256) can be found",
        )
    if distinct < MIN_VIDEO_FRAMES or usable < MIN_VIDEO_SHARE * sampled:
        return Fingerprint(
            Strength.WEAK,
            f"only {usable} of the video's {sampled} sampled frames ({distinct} distinct) have a "
            "usable fingerprint; changed copies may not be recognised",
        )
    return Fingerprint(Strength.STRONG, f"{distinct} distinct usable frames of {sampled} sampled")
