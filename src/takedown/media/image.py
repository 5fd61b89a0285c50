"""Safe still-image decoding with Pillow (and pillow-heif for HEIC).

The pixel count is read from the header and checked before a single pixel is decoded, so a
small file that declares a huge canvas (a decompression bomb) costs nothing. JPEGs can be
decoded at reduced size (libjpeg's DCT scaling), which is most of the hashing fast path: PDQ
looks at a 64x64 summary of the image, so decoding 12 million pixels to throw them away is waste.
"""

from __future__ import annotations

import io
import struct
import warnings
from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageOps

from takedown.media.deadline import Deadline
from takedown.media.errors import CorruptMedia, MediaError, MediaTooLarge, UnsupportedMedia
from takedown.media.jpeg_dc import dc_scans_only
from takedown.media.limits import MediaLimits
from takedown.media.sniff import JPEG, MediaFormat

RGBArray = npt.NDArray[np.uint8]

BOX_FLOOR = 512
"""The fast path box-reduces images while their short side stays at least this long."""

DAMAGED: tuple[type[Exception], ...] = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    TypeError,
    struct.error,
)
"""What Pillow's format plugins raise when the bytes end early or contradict themselves (its
own ``Image.open`` treats ``SyntaxError``, ``IndexError``, ``TypeError`` and ``struct.error``
as "not this format"; a truncated GIF raises ``IndexError`` while its frames are counted)."""

_LIBRARY_DECODERS = frozenset({"avif", "heif"})
"""Formats decoded by a C library (libavif, libheif) that reports a damaged file as
``RuntimeError`` ("Failed to decode image: Missing or empty image item")."""


def _damaged(format_name: str | None) -> tuple[type[Exception], ...]:
    """The exceptions that mean "these bytes are damaged" for a format's decoder."""
    if (format_name or "").lower() in _LIBRARY_DECODERS:
        return (*DAMAGED, RuntimeError)
    return DAMAGED


_PILLOW_FORMATS: dict[str, tuple[str, ...]] = {
    "jpeg": ("JPEG",),  # Pillow's JPEG opener also returns MPO (multi-picture) files
    "png": ("PNG",),
    "gif": ("GIF",),
    "webp": ("WEBP",),
    "bmp": ("BMP", "DIB"),
    "tiff": ("TIFF",),
    "heif": ("HEIF",),
    "avif": ("AVIF", "HEIF"),
}


@cache
def _register_heif() -> None:
    import pillow_heif

    pillow_heif.register_heif_opener()


def _openers(fmt: MediaFormat) -> list[str]:
    """The Pillow openers to try for ``fmt``: only names Pillow has registered, because it
    looks an unknown name up with ``OPEN[name]`` and so raises ``KeyError`` (not an error
    about the file) once the registered openers have refused a damaged file."""
    formats = _PILLOW_FORMATS.get(fmt.name)
    if formats is None:
        raise UnsupportedMedia(f"{fmt.name} is not a still-image format")
    if fmt.name in ("heif", "avif"):
        _register_heif()
    Image.init()
    registered = [name for name in formats if name in Image.OPEN]
    if not registered:
        raise UnsupportedMedia(f"this installation cannot decode {fmt.name} images")
    return registered


@dataclass(frozen=True)
class DecodedImage:
    """Pixels ready for hashing.

    ``width``/``height`` are the image's true size as displayed (after EXIF orientation);
    ``rgb`` may be smaller when a reduced-size decode was asked for.
    """

    rgb: RGBArray
    width: int
    height: int
    format: str
    frames: int


def open_image(data: bytes, fmt: MediaFormat, limits: MediaLimits) -> Image.Image:
    """Open (parse the header of) an image, enforcing the pixel limit before decoding."""
    formats = _openers(fmt)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=formats)
    except Image.DecompressionBombError as exc:
        raise MediaTooLarge(f"the image declares too many pixels ({exc})") from exc
    except _damaged(fmt.name) as exc:
        raise CorruptMedia(f"the {fmt.name} header cannot be read: {exc}") from exc
    width, height = image.size
    if width <= 0 or height <= 0:
        raise CorruptMedia(f"the {fmt.name} image declares a size of {width}x{height}")
    if width * height > limits.max_pixels:
        raise MediaTooLarge(
            f"the image declares {width}x{height} = {width * height:,} pixels, over the limit "
            f"of {limits.max_pixels:,}; a genuine image this large must be downscaled first"
        )
    return image


def count_frames(image: Image.Image) -> int:
    """Frames in an (animated) image; parsing GIF frames is bounded by the byte limit."""
    try:
        return int(getattr(image, "n_frames", 1))
    except _damaged(image.format) as exc:
        raise CorruptMedia(f"the image's frames cannot be read: {exc}") from exc


def decode_image(
    data: bytes,
    fmt: MediaFormat,
    limits: MediaLimits,
    *,
    reduce_to: int | None = None,
) -> DecodedImage:
    """Decode the first frame to RGB, upright as a viewer would show it (EXIF orientation).

    ``reduce_to`` turns on the fast path for perceptual hashing:

    - a JPEG is decoded at a reduced DCT scale: 1/8 when that keeps the short side >=
      ``reduce_to`` (a progressive one from its DC scans alone), otherwise the smallest scale
      keeping it >= 2 x ``reduce_to``. Fine periodic textures (brick, fabric) alias when a
      mid-sized image is shrunk close to PDQ's working size, while large photos survive 1/8
      (measured on the shared photos: max 12 bits from the full decode);
    - any image is then box-reduced by a whole factor while its short side stays >=
      :data:`BOX_FLOOR`, because the reference PDQ's cost grows much faster than the pixel count
      (9 ms at 512x512, 84 ms at 1024x1024, measured here).

    Colour is kept (decoding luminance alone saves a quarter of a progressive decode, but
    margins are found by colour: dark foliage next to a black letterbox bar looks like more bar
    in grey, measured on the shared photos).
    """
    deadline = Deadline(limits.max_decode_s)
    image = open_image(data, fmt, limits)
    width, height = image.size
    frames = count_frames(image)
    try:
        if reduce_to is not None and image.format in ("JPEG", "MPO"):
            eighth = min(width, height) // 8 >= reduce_to
            if eighth:
                image = _dc_only(data, image, limits)
            image.draft("RGB", (reduce_to, reduce_to) if eighth else (2 * reduce_to,) * 2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            image.load()
            upright = _upright(image)
            if reduce_to is not None and min(upright.size) // BOX_FLOOR >= 2:
                upright = upright.reduce(min(upright.size) // BOX_FLOOR)
            # convert() to the mode an image already has is a full copy: skipped
            rgb_image = upright if upright.mode == "RGB" else upright.convert("RGB")
            rgb = np.asarray(rgb_image, dtype=np.uint8)
    except MediaError:
        raise
    except MemoryError as exc:
        raise MediaTooLarge("the image does not fit in memory") from exc
    except _damaged(fmt.name) as exc:
        raise CorruptMedia(f"the {fmt.name} image is damaged or truncated: {exc}") from exc
    deadline.check("decoding the image")
    if (upright.width > upright.height) != (image.width > image.height):
        width, height = height, width  # turned a quarter by EXIF orientation
    return DecodedImage(rgb=rgb, width=width, height=height, format=fmt.name, frames=frames)


def _dc_only(data: bytes, image: Image.Image, limits: MediaLimits) -> Image.Image:
    """For a progressive JPEG decoded at 1/8, the same file without its AC scans (much faster).

    The smaller file carries the same headers (EXIF included); if it cannot be read the full
    file is decoded as usual.
    """
    if not image.info.get("progressive"):
        return image
    reduced = dc_scans_only(data)
    if reduced is None:
        return image
    try:
        return open_image(reduced, JPEG, limits)
    except MediaError:
        return image


_ORIENTATION = 0x0112
"""The EXIF tag of how the picture is turned (1: as stored)."""


def _upright(image: Image.Image) -> Image.Image:
    """Apply EXIF orientation; a malformed EXIF block is ignored rather than failing the item.
    A picture stored upright (most) is returned as it is: ``exif_transpose`` would copy it
    (3.4 ms of a 1 MP upload's 28)."""
    try:
        if image.getexif().get(_ORIENTATION, 1) == 1:
            return image
        return ImageOps.exif_transpose(image)
    except (OSError, SyntaxError, ValueError, KeyError, TypeError):
        return image
