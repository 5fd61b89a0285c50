"""Safe decoding of untrusted images and video.

Everything a platform uploads or a reporter sends is hostile until proven otherwise, so every
entry point here is bounded in bytes, pixels, frames, duration and wall time, and every failure
is a :class:`MediaError` with a stable code.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

# Light modules, imported at once: ``sniff`` and ``detect`` are also the names of submodules, and
# a submodule imported elsewhere first would otherwise shadow the lazily loaded function.
from takedown.media.detect import detect
from takedown.media.errors import (
    CorruptMedia,
    DecodeTimeout,
    EmptyMedia,
    MediaError,
    MediaTooLarge,
    MediaTooLong,
    UnsupportedMedia,
)
from takedown.media.limits import MediaLimits
from takedown.media.sniff import MediaFormat, MediaKind, sniff

if TYPE_CHECKING:
    from takedown.media.image import DecodedImage, decode_image
    from takedown.media.video import (
        FrameSampling,
        VideoFrame,
        VideoInfo,
        iter_video_frames,
        probe_video,
    )

_HOMES = {
    "DecodedImage": "image",
    "decode_image": "image",
    "FrameSampling": "video",
    "VideoFrame": "video",
    "VideoInfo": "video",
    "iter_video_frames": "video",
    "probe_video": "video",
}
"""Where each name lives: imported on first use (PEP 562), so that a caller needing only the
limits or the media kinds (the CLI's start-up) does not load Pillow, NumPy and FFmpeg."""


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


__all__ = [
    "CorruptMedia",
    "DecodeTimeout",
    "DecodedImage",
    "EmptyMedia",
    "FrameSampling",
    "MediaError",
    "MediaFormat",
    "MediaKind",
    "MediaLimits",
    "MediaTooLarge",
    "MediaTooLong",
    "UnsupportedMedia",
    "VideoFrame",
    "VideoInfo",
    "decode_image",
    "detect",
    "iter_video_frames",
    "probe_video",
    "sniff",
]
