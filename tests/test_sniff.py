"""Formats are recognised from the bytes, whatever the file is called."""

from __future__ import annotations

from pathlib import Path

import pytest

from takedown.media import EmptyMedia, MediaKind, MediaLimits, UnsupportedMedia, detect, sniff
from takedown.media.sniff import HEAD_BYTES
from takedown.signals import hash_bytes

from .conftest import encode, synthetic_rgb
from .video_factory import make_video

IMAGE_FORMATS = {
    "JPEG": "jpeg",
    "PNG": "png",
    "WEBP": "webp",
    "GIF": "gif",
    "BMP": "bmp",
    "TIFF": "tiff",
    "AVIF": "avif",
}


@pytest.mark.parametrize(("pillow_format", "expected"), sorted(IMAGE_FORMATS.items()))
def test_still_image_formats_are_detected_and_hashed(pillow_format: str, expected: str) -> None:
    data = encode(synthetic_rgb(), pillow_format)
    assert sniff(data[:HEAD_BYTES]).name == expected
    result = hash_bytes(data)
    assert result.media is MediaKind.IMAGE
    assert result.format == expected
    assert {s.type for s in result.signals} == {"pdq", "md5", "sha256"}


def test_heic_is_detected_and_hashed() -> None:
    import pillow_heif

    pillow_heif.register_heif_opener()
    data = encode(synthetic_rgb(), "HEIF", quality=95)
    assert sniff(data[:HEAD_BYTES]).name == "heif"
    result = hash_bytes(data)
    assert result.format == "heif"
    pdq = next(s for s in result.signals if s.type == "pdq")
    png = hash_bytes(encode(synthetic_rgb(), "PNG"))
    lossless_pdq = next(s for s in png.signals if s.type == "pdq")
    assert (int(pdq.value, 16) ^ int(lossless_pdq.value, 16)).bit_count() <= 16


@pytest.mark.parametrize(
    ("container", "codec", "expected"),
    [("mp4", "h264", "mp4"), ("mov", "h264", "mov"), ("matroska", "h264", "matroska"),
     ("webm", "libvpx-vp9", "matroska"), ("avi", "mpeg4", "avi")],
)  # fmt: skip
def test_video_containers_are_detected_and_hashed(
    tmp_path: Path, container: str, codec: str, expected: str
) -> None:
    data = make_video(tmp_path / f"v.{container}", container=container, codec=codec, seconds=2)
    assert sniff(data[:HEAD_BYTES]).name == expected
    result = hash_bytes(data)
    assert result.media is MediaKind.VIDEO
    vpdq = next(s for s in result.signals if s.type == "vpdq")
    assert len(vpdq.frames) == 2  # one frame a second by default


def test_shared_videos_are_video(shared_data: Path) -> None:
    for path in sorted((shared_data / "videos").iterdir()):
        fmt = detect(path.read_bytes(), MediaLimits())
        assert fmt.kind is MediaKind.VIDEO, path.name


def test_animated_gif_is_hashed_as_video() -> None:
    from PIL import Image

    frames = [Image.fromarray(synthetic_rgb(seed)) for seed in range(4)]
    import io

    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=500)
    result = hash_bytes(buffer.getvalue())
    assert result.media is MediaKind.VIDEO
    vpdq = next(s for s in result.signals if s.type == "vpdq")
    assert len(vpdq.frames) == 2  # 4 frames of 0.5 s sampled once a second


def test_name_does_not_matter(tmp_path: Path) -> None:
    data = encode(synthetic_rgb(), "PNG")
    assert sniff(data[:HEAD_BYTES]).name == "png"
    with pytest.raises(UnsupportedMedia):
        sniff(b"this is a text file that someone named photo.jpg\n")
    with pytest.raises(EmptyMedia):
        sniff(b"")
