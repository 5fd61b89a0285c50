"""PDQ: Meta's 256-bit perceptual image hash, compared by Hamming distance.

Hashing follows the ThreatExchange reference's arithmetic (:mod:`.pdq_fast`, bit for bit the
``pdqhash`` binding on the shared photos) on pixels that :mod:`takedown.media` decoded; the
speed comes from decoding less (a reduced-size JPEG decode) and from computing the same hash as
two banded matrix products, not from a different hash. Dihedral variants come from the same
DCT in one call, so matching a rotated or mirrored copy costs no second decode.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from typing import ClassVar

import numpy as np
import numpy.typing as npt
import pdqhash

from takedown.media import MediaKind
from takedown.media.borders import crop, find_content
from takedown.media.crops import crop_boxes
from takedown.media.image import RGBArray
from takedown.signals import pdq_fast
from takedown.signals.base import (
    QUALITY_USABLE,
    AnySignal,
    Comparison,
    HashOptions,
    InvalidSignal,
    MediaItem,
    Signal,
    Variant,
)
from takedown.signals.normalise import normalise_luminance
from takedown.signals.registry import register

HASH_BITS = 256
NORMALISED_TYPE = "pdq_normalised"
"""The signal type of PDQ hashes of luminance-equalised pictures (see :mod:`.normalise`)."""
DEFAULT_THRESHOLD = 31
_HEX = re.compile(r"[0-9a-f]{64}")

DIHEDRAL_TRANSFORMS = (
    "original",
    "rotate90",
    "rotate180",
    "rotate270",
    "flip",
    "mirror",
    "transpose",
    "transverse",
)
"""The reference's dihedral order. ``rotate90`` is a quarter turn counter-clockwise, ``flip``
turns the image upside down, ``mirror`` swaps left and right, ``transpose`` swaps the axes and
``transverse`` swaps them across the other diagonal (Pillow's names for the same transforms)."""


def bits_to_hex(bits: npt.ArrayLike) -> str:
    """The reference's serialisation: bit 0 is the most significant bit of the first hex digit."""
    return np.packbits(np.asarray(bits, dtype=bool)).tobytes().hex()


def hamming(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def hash_rgb(rgb: RGBArray) -> tuple[str, int]:
    """PDQ hash (64 hex) and quality (0-100) of an RGB array: the reference's arithmetic as
    two banded matrix products (:mod:`.pdq_fast`, bit for bit ``pdqhash`` on the shared photos,
    several times faster past 512x512)."""
    return pdq_fast.hash_rgb(rgb)


EXACT_DIHEDRAL_PIXELS = 512 * 512
"""Up to this size the 8 variants are hashed from turned pixels instead of the shared DCT.

PDQ's downsampling is not exactly symmetric under turns, so the DCT variants of a 200x230 image
miss its own 180-degree turn by 32-42 bits, and those of a brick-wall texture by 86-102 bits
(measured on the shared photos). Re-hashing turned pixels is exact; every image the fast path
hashes is at most this size after reduction, where a variant costs 1-9 ms.
"""

_TURNS: dict[str, Callable[[RGBArray], RGBArray]] = {
    "original": lambda a: a,
    "rotate90": lambda a: np.rot90(a, 1),
    "rotate180": lambda a: np.rot90(a, 2),
    "rotate270": lambda a: np.rot90(a, 3),
    "flip": lambda a: a[::-1],
    "mirror": lambda a: a[:, ::-1],
    "transpose": lambda a: a.transpose(1, 0, 2),
    "transverse": lambda a: np.rot90(a, 2).transpose(1, 0, 2),
}


def hash_rgb_dihedral(rgb: RGBArray) -> tuple[dict[str, str], int]:
    """The 8 dihedral variants' hashes (keyed by :data:`DIHEDRAL_TRANSFORMS`) and the quality."""
    if rgb.shape[0] * rgb.shape[1] <= EXACT_DIHEDRAL_PIXELS:
        hashes = {name: hash_rgb(np.ascontiguousarray(turn(rgb))) for name, turn in _TURNS.items()}
        return {name: h[0] for name, h in hashes.items()}, hashes["original"][1]
    variants, quality = pdqhash.compute_dihedral(rgb)
    named = zip(DIHEDRAL_TRANSFORMS, variants, strict=True)
    return {name: bits_to_hex(v) for name, v in named}, int(quality)


class PdqSignal:
    name: ClassVar[str] = "pdq"
    media_kinds: ClassVar[frozenset[MediaKind]] = frozenset({MediaKind.IMAGE})
    default_threshold: ClassVar[int] = DEFAULT_THRESHOLD

    def hash_media(self, item: MediaItem) -> list[AnySignal]:
        rgb = item.image.rgb
        original = self._signal(rgb, Variant.ORIGINAL, item.options)
        signals: list[AnySignal] = [original]
        if original.quality is not None and original.quality < QUALITY_USABLE:
            # too dark or flat for PDQ: hash it again with its luminance equalised, as its own
            # type, so that it is only ever compared with other normalised hashes
            normalised = self._signal(normalise_luminance(rgb), Variant.NORMALISED, item.options)
            signals.append(replace(normalised, type=NORMALISED_TYPE))
        boxes = [(Variant.TRIMMED, box) for box in find_content(rgb)] if item.options.trim else []
        if item.options.crops:
            height, width = rgb.shape[:2]
            boxes += [(Variant.CROPPED, box) for box in crop_boxes(width, height)]
        seen = {original.value}
        for variant, box in boxes:
            signal = self._signal(crop(rgb, box), variant, item.options)
            if signal.value not in seen:  # a variant identical to an earlier one adds nothing
                seen.add(signal.value)
                signals.append(signal)
        return signals

    @staticmethod
    def _signal(rgb: RGBArray, variant: Variant, options: HashOptions) -> Signal:
        if options.dihedral:
            variants, quality = hash_rgb_dihedral(rgb)
            return Signal(
                "pdq", variants["original"], quality=quality, variant=variant, dihedral=variants
            )
        if options.mirror_image:  # the mirror shares the costly half of the work (pdq_fast)
            value, mirrored, quality = pdq_fast.hash_rgb_and_mirror(rgb)
            turns = {"original": value, "mirror": mirrored}
            return Signal("pdq", value, quality=quality, variant=variant, dihedral=turns)
        value, quality = hash_rgb(rgb)
        return Signal("pdq", value, quality=quality, variant=variant)

    def parse(self, value: str) -> str:
        canonical = value.strip().lower()
        if not _HEX.fullmatch(canonical):
            raise InvalidSignal(f"a PDQ hash is 64 hexadecimal digits (256 bits), got {value!r}")
        return canonical

    def compare(self, a: AnySignal, b: AnySignal, threshold: int | None = None) -> Comparison:
        if not isinstance(a, Signal) or not isinstance(b, Signal):
            raise InvalidSignal("PDQ compares two PDQ signals")
        distance = hamming(a.value, b.value)
        limit = self.default_threshold if threshold is None else threshold
        return Comparison(distance=distance, matched=distance <= limit and a.usable and b.usable)


PDQ = register(PdqSignal())


class NormalisedPdqSignal(PdqSignal):
    """PDQ of a luminance-equalised picture: made by :class:`PdqSignal` for pictures whose own
    hash is unusable (quality < 50), never on its own (no media kinds), and compared only with
    its own type, so a normalised hash can never match an ordinary one."""

    name: ClassVar[str] = NORMALISED_TYPE
    media_kinds: ClassVar[frozenset[MediaKind]] = frozenset()

    def hash_media(self, item: MediaItem) -> list[AnySignal]:
        return []

    def compare(self, a: AnySignal, b: AnySignal, threshold: int | None = None) -> Comparison:
        if a.type != b.type:
            raise InvalidSignal("a normalised PDQ hash compares only with another normalised one")
        return super().compare(a, b, threshold)


PDQ_NORMALISED = register(NormalisedPdqSignal())
