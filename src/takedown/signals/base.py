"""What a signal is, and the protocol every signal type implements.

Modelled on python-threatexchange's ``SignalType``: a signal type is one module holding one
class, registered by name, so that adding a hash (a new video hash, a platform's own) touches
no ``if`` chain anywhere else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import ClassVar, Protocol, runtime_checkable

from takedown.media import (
    DecodedImage,
    FrameSampling,
    MediaFormat,
    MediaKind,
    MediaLimits,
    decode_image,
)

QUALITY_USABLE = 50
"""PDQ-family hashes below this quality describe flat or featureless images and match anything."""


class InvalidSignal(ValueError):
    """A serialized signal value that is not valid for its type (message names the fix)."""


class Variant(StrEnum):
    ORIGINAL = "original"
    TRIMMED = "trimmed"
    CROPPED = "cropped"
    NORMALISED = "normalised"
    """Hashed after equalising the luminance: only for pictures too dark or flat for PDQ, and
    matched only against the same variant (its own signal type, ``pdq_normalised``)."""


@dataclass(frozen=True)
class Signal:
    """A single hash of an item: ``quality`` and ``variant`` are set for perceptual types."""

    type: str
    value: str
    quality: int | None = None
    variant: Variant | None = None
    dihedral: Mapping[str, str] | None = None

    @property
    def usable(self) -> bool:
        return self.quality is None or self.quality >= QUALITY_USABLE

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"type": self.type, "value": self.value}
        if self.quality is not None:
            out["quality"] = self.quality
            out["usable"] = self.usable
        if self.variant is not None:
            out["variant"] = self.variant.value
        if self.dihedral is not None:
            out["dihedral"] = dict(self.dihedral)
        return out


@dataclass(frozen=True)
class FrameHash:
    """One sampled video frame's PDQ hash."""

    value: str
    quality: int
    timestamp: float

    @property
    def usable(self) -> bool:
        return self.quality >= QUALITY_USABLE

    def to_json(self) -> dict[str, object]:
        return {"value": self.value, "quality": self.quality, "timestamp": round(self.timestamp, 3)}


@dataclass(frozen=True)
class VideoSignal:
    """A whole video's hash as a list of frame hashes (vPDQ)."""

    type: str
    frames: tuple[FrameHash, ...]
    variant: Variant | None = None
    transform: str | None = None  # "mirror" for the horizontally flipped frames

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"type": self.type, "frames": [f.to_json() for f in self.frames]}
        if self.variant is not None:
            out["variant"] = self.variant.value
        if self.transform is not None:
            out["transform"] = self.transform
        return out


AnySignal = Signal | VideoSignal


@dataclass(frozen=True)
class Comparison:
    """How close two signals of one type are: ``distance`` is in the type's own unit."""

    distance: float
    matched: bool


@dataclass(frozen=True)
class HashOptions:
    """How to hash: the fast path is the default; ``fast=False`` decodes everything in full."""

    limits: MediaLimits = field(default_factory=MediaLimits)
    fast: bool = True
    trim: bool = True
    dihedral: bool = False
    mirror_image: bool = False
    """Also hash images flipped left to right (kept as the signal's ``mirror`` variant): one
    more PDQ of the reduced image, so that a mirrored repost matches at upload, even against
    imported hash lists, which hold originals only. The service turns it on for uploads."""
    mirror_video: bool = True  # also hash videos' frames flipped (a mirrored repost is common)
    normalise_video: bool = False
    """Always hash a video's contrast-normalised frames too (``vpdq_normalised``): for
    references. Without it they are hashed only for a weak video (too few usable frames), from
    the frames too dark for PDQ, so an ordinary upload costs nothing more."""
    crops: bool = False
    """Also hash fixed crops of the image (see ``media.crops``): for bank entries, so that a
    cropped re-post still matches; too many hashes per item for the content index."""
    reduce_to: int = 256
    video: FrameSampling = field(
        default_factory=lambda: FrameSampling(fps=1.0, max_side=512, fast_decode=True)
    )


@dataclass
class MediaItem:
    """One item being hashed: its bytes, what they are, and pixels decoded once on demand."""

    data: bytes
    format: MediaFormat
    options: HashOptions

    @cached_property
    def image(self) -> DecodedImage:
        reduce_to = self.options.reduce_to if self.options.fast else None
        return decode_image(self.data, self.format, self.options.limits, reduce_to=reduce_to)


@runtime_checkable
class SignalType(Protocol):
    """A kind of hash: how to make it from media, read it back, and compare two of them."""

    name: ClassVar[str]
    media_kinds: ClassVar[frozenset[MediaKind]]
    default_threshold: ClassVar[int]

    def hash_media(self, item: MediaItem) -> list[AnySignal]:
        """Every signal of this type for the item (perceptual types may give several variants)."""
        ...

    def parse(self, value: str) -> str:
        """Validate a serialized value and return its canonical form, or raise InvalidSignal."""
        ...

    def compare(self, a: AnySignal, b: AnySignal, threshold: int | None = None) -> Comparison:
        """Distance between two signals of this type and whether it is a match."""
        ...
