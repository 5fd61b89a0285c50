"""Recognise media from its first bytes, never from its file name.

File names and declared MIME types come from the uploader and cannot be trusted; the magic
numbers at the start of the file are what the decoders will actually see.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from takedown.media.errors import EmptyMedia, UnsupportedMedia


class MediaKind(StrEnum):
    IMAGE = "image"
    VIDEO = "video"


@dataclass(frozen=True)
class MediaFormat:
    """What the bytes are: ``kind`` decides the signals, ``name`` the decoder."""

    kind: MediaKind
    name: str
    mime: str


JPEG = MediaFormat(MediaKind.IMAGE, "jpeg", "image/jpeg")
PNG = MediaFormat(MediaKind.IMAGE, "png", "image/png")
GIF = MediaFormat(MediaKind.IMAGE, "gif", "image/gif")
WEBP = MediaFormat(MediaKind.IMAGE, "webp", "image/webp")
BMP = MediaFormat(MediaKind.IMAGE, "bmp", "image/bmp")
TIFF = MediaFormat(MediaKind.IMAGE, "tiff", "image/tiff")
HEIF = MediaFormat(MediaKind.IMAGE, "heif", "image/heif")
AVIF = MediaFormat(MediaKind.IMAGE, "avif", "image/avif")
MP4 = MediaFormat(MediaKind.VIDEO, "mp4", "video/mp4")
QUICKTIME = MediaFormat(MediaKind.VIDEO, "mov", "video/quicktime")
MATROSKA = MediaFormat(MediaKind.VIDEO, "matroska", "video/x-matroska")
AVI = MediaFormat(MediaKind.VIDEO, "avi", "video/x-msvideo")
ANIMATED_GIF = MediaFormat(MediaKind.VIDEO, "gif", "image/gif")

HEAD_BYTES = 64
"""How many leading bytes :func:`sniff` needs."""

_HEIF_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"})
_AVIF_BRANDS = frozenset({b"avif", b"avis"})
_QUICKTIME_BRANDS = frozenset({b"qt  "})
_MP4_BRANDS = frozenset(
    {
        b"isom", b"iso2", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"mp71", b"avc1",
        b"M4V ", b"M4VH", b"M4VP", b"M4A ", b"3gp4", b"3gp5", b"3gp6", b"3g2a", b"dash",
        b"MSNV", b"f4v ", b"XAVC", b"mmp4",
    }
)  # fmt: skip


def _sniff_ftyp(head: bytes) -> MediaFormat:
    """ISO base media: the brands in the ``ftyp`` box tell HEIF/AVIF stills from MP4/MOV video."""
    major = head[8:12]
    box_size = int.from_bytes(head[0:4], "big")
    compatible = [head[i : i + 4] for i in range(16, min(box_size, len(head)) - 3, 4)]
    brands = [major, *compatible]
    if major in _AVIF_BRANDS:
        return AVIF
    if major in _HEIF_BRANDS:
        return HEIF
    if major in _QUICKTIME_BRANDS:
        return QUICKTIME
    if major in _MP4_BRANDS or any(b in _MP4_BRANDS for b in brands):
        return MP4
    if any(b in _AVIF_BRANDS for b in brands):
        return AVIF
    if any(b in _HEIF_BRANDS for b in brands):
        return HEIF
    raise UnsupportedMedia(
        f"an ISO media file with brand {major.decode('latin-1')!r}, which is not a supported "
        "image or video; send JPEG, PNG, WebP, GIF, BMP, TIFF, HEIC, AVIF, MP4, MOV, WebM or AVI"
    )


def sniff(head: bytes) -> MediaFormat:
    """Return the format of media whose first bytes are ``head`` (at least :data:`HEAD_BYTES`).

    Animated GIFs are reported as still GIF here; :func:`takedown.media.image.decode_image`'s
    caller decides from the frame count (see ``signals.compute``).
    """
    if not head:
        raise EmptyMedia("the file is empty (0 bytes); send the media file itself")
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return AVI
    if head.startswith(b"BM") and len(head) >= 26:
        return BMP
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return TIFF
    if head[4:8] == b"ftyp":
        return _sniff_ftyp(head)
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip"):
        return QUICKTIME  # old QuickTime files without an ftyp box
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return MATROSKA
    raise UnsupportedMedia(
        "the bytes are not a supported image or video (the file name does not matter); "
        "send JPEG, PNG, WebP, GIF, BMP, TIFF, HEIC, AVIF, MP4, MOV, WebM or AVI"
    )
