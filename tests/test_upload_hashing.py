"""The upload path's hashing: as close to the PDQ reference as promised, and no more work than
an upload needs (one PDQ of the original, its mirror from the same reduction, a trimmed variant
only when a margin is found)."""

from __future__ import annotations

import statistics
from pathlib import Path

import numpy as np
import pdqhash
import pytest
from PIL import Image
from threatexchange.signal_type.pdq.pdq_hasher import pdq_from_bytes

from takedown.media import MediaLimits, decode_image, detect
from takedown.signals import HashOptions, Signal, Variant, hash_bytes
from takedown.signals.pdq import bits_to_hex, hamming
from takedown.signals.pdq_fast import hash_rgb, hash_rgb_and_mirror

from .conftest import encode, synthetic_rgb

UPLOAD = HashOptions(mirror_image=True)
"""What the service hashes an upload with (``mirror_uploads`` on, the default)."""


def _photos(shared_data: Path) -> list[Path]:
    return sorted((shared_data / "photos").glob("*.jpg")) + sorted(
        (shared_data / "photos-large").glob("*.jpg")
    )


def _original(data: bytes, options: HashOptions) -> Signal:
    signal = hash_bytes(data, options, types=("pdq",)).signals[0]
    assert isinstance(signal, Signal) and signal.variant is Variant.ORIGINAL
    return signal


def test_upload_hashes_stay_within_the_bound_of_the_pdq_reference(shared_data: Path) -> None:
    """Median 6 / max 16 bits from python-threatexchange's hasher (a full decode), over every
    shared photo, with the reduced JPEG decode (DCT-domain scaling, DC scans only for large
    progressive files) that the upload path uses."""
    distances = []
    reduced = 0
    for path in _photos(shared_data):
        data = path.read_bytes()
        reference, _ = pdq_from_bytes(data)
        distances.append(hamming(_original(data, UPLOAD).value, reference))
        fmt = detect(data, MediaLimits())
        decoded = decode_image(data, fmt, MediaLimits(), reduce_to=UPLOAD.reduce_to)
        if decoded.rgb.shape[0] * decoded.rgb.shape[1] < decoded.width * decoded.height:
            reduced += 1
    assert len(distances) >= 300
    assert reduced >= 11  # every large photo went through the reduced decode
    assert statistics.median(distances) <= 6
    assert max(distances) <= 16


def test_fast_pdq_is_the_reference_bit_for_bit(photo_paths: list[Path]) -> None:
    for path in photo_paths[::10]:
        rgb = np.ascontiguousarray(np.asarray(Image.open(path).convert("RGB")))
        bits, quality = pdqhash.compute(rgb)
        mirror_bits, _ = pdqhash.compute(np.ascontiguousarray(rgb[:, ::-1]))
        value, mirrored, fast_quality = hash_rgb_and_mirror(rgb)
        assert (value, fast_quality) == (bits_to_hex(bits), int(quality)), path.name
        assert mirrored == bits_to_hex(mirror_bits), path.name
        assert hash_rgb(rgb) == (value, fast_quality)


def test_an_image_too_small_to_hash_gets_the_references_empty_hash() -> None:
    rgb = synthetic_rgb(3, size=(4, 40))
    bits, quality = pdqhash.compute(rgb)
    assert hash_rgb(rgb) == (bits_to_hex(bits), int(quality)) == ("0" * 64, 0)


@pytest.mark.parametrize("padded", [False, True])
def test_a_trimmed_variant_only_when_a_margin_is_found(padded: bool) -> None:
    rgb = synthetic_rgb(5, size=(400, 300))
    if padded:
        rgb = np.pad(rgb, ((40, 40), (0, 0), (0, 0)), constant_values=0)
    signals = [s for s in hash_bytes(encode(rgb, "PNG"), UPLOAD).signals if s.type == "pdq"]
    assert all(isinstance(s, Signal) and s.dihedral is not None for s in signals)
    variants = [s.variant for s in signals if isinstance(s, Signal)]
    expected = [Variant.ORIGINAL, Variant.TRIMMED] if padded else [Variant.ORIGINAL]
    assert variants == expected
    if padded:  # the trimmed hash is the unpadded picture's
        plain = _original(encode(rgb[40:-40], "PNG"), UPLOAD)
        trimmed = signals[1]
        assert isinstance(trimmed, Signal)
        assert hamming(trimmed.value, plain.value) <= 8
