"""Safe decoding of untrusted images and video.

Everything a platform uploads or a reporter sends is hostile until proven otherwise, so every
entry point here is bounded in bytes, pixels, frames, duration and wall time, and every failure
is a :class:`MediaError` with a stable code.
"""

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
from takedown.media.image import DecodedImage, decode_image
from takedown.media.limits import MediaLimits
from takedown.media.sniff import MediaFormat, MediaKind, sniff
from takedown.media.video import (
    FrameSampling,
    VideoFrame,
    VideoInfo,
    iter_video_frames,
    probe_video,
)

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
