"""PDQ against the ThreatExchange reference vectors (../shared/data/reference/pdq)."""

from __future__ import annotations

import csv
import hashlib
import statistics
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from takedown.media import MediaLimits, decode_image, detect
from takedown.signals import HashOptions, Signal, hash_bytes
from takedown.signals.pdq import DIHEDRAL_TRANSFORMS, PDQ, hamming, hash_rgb, hash_rgb_dihedral

REFERENCE_TOLERANCE = 16
"""The reference's own Python tests allow 16 bits (its implementations differ by up to 12)."""


def _rows(shared_data: Path) -> list[dict[str, str]]:
    with (shared_data / "reference" / "pdq" / "expected.csv").open() as f:
        return list(csv.DictReader(f))


def _reference_hash(path: Path) -> Signal:
    """The reference path: full decode, no trimming (the vectors were made that way)."""
    result = hash_bytes(path.read_bytes(), HashOptions(fast=False, trim=False))
    signal = next(s for s in result.signals if s.type == "pdq")
    assert isinstance(signal, Signal)
    return signal


def test_every_reference_row(shared_data: Path) -> None:
    base = shared_data / "reference" / "pdq"
    rows = _rows(shared_data)
    assert len(rows) >= 30
    good_quality_distances = []
    for row in rows:
        path = base / row["file"]
        expected = row["expected"]
        if expected.startswith("md5:"):
            assert hashlib.md5(path.read_bytes()).hexdigest() == expected[4:], row
            continue
        signal = _reference_hash(path)
        distance = hamming(signal.value, expected)
        assert distance <= REFERENCE_TOLERANCE, (row, signal)
        if signal.quality is not None and signal.quality >= 80:
            good_quality_distances.append(distance)
    assert good_quality_distances
    assert statistics.median(good_quality_distances) <= 6


def test_low_quality_hashes_are_unusable(shared_data: Path) -> None:
    small = _reference_hash(shared_data / "reference/pdq/images/misc-images/small.jpg")
    assert small.quality is not None and small.quality < 50
    assert not small.usable
    assert small.to_json()["usable"] is False
    flat = hash_rgb(np.full((64, 64, 3), 128, dtype=np.uint8))
    assert flat[1] < 50
    same = Signal("pdq", small.value, quality=small.quality)
    assert not PDQ.compare(same, same).matched  # even identical unusable hashes never match


def test_dihedral_variants_match_the_rotated_and_flipped_files(shared_data: Path) -> None:
    folder = shared_data / "reference/pdq/images/reg-test-input/dih"
    original = np.asarray(Image.open(folder / "bridge-1-original.jpg").convert("RGB"))
    variants, quality = hash_rgb_dihedral(original)
    assert quality == 100
    assert variants["original"] == hash_rgb(original)[0]
    files = sorted(folder.glob("bridge-*.jpg"))
    assert len(files) == len(DIHEDRAL_TRANSFORMS)
    for transform, path in zip(DIHEDRAL_TRANSFORMS, files, strict=True):
        file_hash = _reference_hash(path).value
        distances = {name: hamming(value, file_hash) for name, value in variants.items()}
        assert min(distances, key=lambda name: distances[name]) == transform, path.name
        assert distances[transform] <= REFERENCE_TOLERANCE
        assert all(d > 64 for name, d in distances.items() if name != transform)


def test_dihedral_names_follow_pillow(photo_paths: list[Path]) -> None:
    image = Image.open(photo_paths[0]).convert("RGB")
    variants, _ = hash_rgb_dihedral(np.asarray(image))
    transposes = {
        "rotate90": Image.Transpose.ROTATE_90,
        "rotate180": Image.Transpose.ROTATE_180,
        "rotate270": Image.Transpose.ROTATE_270,
        "flip": Image.Transpose.FLIP_TOP_BOTTOM,
        "mirror": Image.Transpose.FLIP_LEFT_RIGHT,
        "transpose": Image.Transpose.TRANSPOSE,
        "transverse": Image.Transpose.TRANSVERSE,
    }
    for name, transpose in transposes.items():
        turned = hash_rgb(np.asarray(image.transpose(transpose)))[0]
        assert hamming(turned, variants[name]) <= REFERENCE_TOLERANCE, name


def test_exif_orientation_is_applied(shared_data: Path) -> None:
    path = shared_data / "reference/pdq/images/reg-test-input/exif-rotn/exif-rotn-6.jpg"
    data = path.read_bytes()
    limits = MediaLimits()
    decoded = decode_image(data, detect(data, limits), limits)
    stored = Image.open(path).size
    assert (decoded.width, decoded.height) == (stored[1], stored[0])
    assert decoded.rgb.shape[:2] == (stored[0], stored[1])  # rows = displayed height


def test_fast_path_stays_close_to_the_full_decode(shared_data: Path) -> None:
    distances = []
    for path in sorted((shared_data / "photos-large").glob("*.jpg")):
        data = path.read_bytes()
        fast = hash_bytes(data, HashOptions(trim=False)).signals
        full = hash_bytes(data, HashOptions(fast=False, trim=False)).signals
        distances.append(hamming(_pdq(fast).value, _pdq(full).value))
    assert len(distances) >= 10
    assert statistics.median(distances) <= 8
    assert max(distances) <= 16


def _pdq(signals: tuple[object, ...]) -> Signal:
    found = [s for s in signals if isinstance(s, Signal) and s.type == "pdq"]
    assert found
    return found[0]


@pytest.mark.parametrize("bad", ["", "xyz", "0" * 63, "g" * 64, "0" * 65])
def test_pdq_parse_rejects_malformed_values(bad: str) -> None:
    from takedown.signals import InvalidSignal

    with pytest.raises(InvalidSignal):
        PDQ.parse(bad)


def test_pdq_parse_canonicalises() -> None:
    assert PDQ.parse(" " + "AB" * 32 + "\n") == "ab" * 32


def test_dc_scans_only_keeps_a_progressive_jpeg_decodable(shared_data: Path) -> None:
    import io

    from takedown.media.jpeg_dc import dc_scans_only

    progressive = [
        p
        for p in sorted((shared_data / "photos-large").glob("*.jpg"))
        if Image.open(p).info.get("progressive")
    ]
    assert progressive, "the shared large photos include progressive JPEGs"
    for path in progressive:
        data = path.read_bytes()
        reduced = dc_scans_only(data)
        assert reduced is not None and len(reduced) < len(data) / 3
        full, dc = Image.open(io.BytesIO(data)), Image.open(io.BytesIO(reduced))
        for image in (full, dc):
            image.draft("RGB", (image.width // 8, image.height // 8))
        a, b = np.asarray(full.convert("RGB")), np.asarray(dc.convert("RGB"))
        assert a.shape == b.shape
        assert hamming(hash_rgb(a)[0], hash_rgb(b)[0]) <= 4
    baseline = encode_baseline()
    assert dc_scans_only(baseline) is None
    assert dc_scans_only(b"not a jpeg") is None


def encode_baseline() -> bytes:
    import io

    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (10, 20, 30)).save(buffer, format="JPEG")
    return buffer.getvalue()
