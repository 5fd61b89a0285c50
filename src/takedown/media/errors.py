"""Typed media failures with stable machine-readable codes.

The codes are a contract: the CLI prints them in ``--json`` output and the API returns them, so
platforms can tell "this file is broken" from "this file is too big" without parsing prose.
"""

from __future__ import annotations


class MediaError(Exception):
    """Base class: ``code`` is stable, ``message`` is for people and names what to do next."""

    code: str = "media_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __reduce__(self) -> tuple[type[MediaError], tuple[str]]:
        # Worker processes send errors back by pickling; keep the subclass and message.
        return (type(self), (self.message,))


class EmptyMedia(MediaError):
    code = "empty_media"


class UnsupportedMedia(MediaError):
    code = "unsupported_media"


class MediaTooLarge(MediaError):
    """Too many bytes or pixels (decompression bombs land here)."""

    code = "media_too_large"


class MediaTooLong(MediaError):
    """Too many frames or too long a duration (endless or absurdly long video)."""

    code = "media_too_long"


class CorruptMedia(MediaError):
    code = "corrupt_media"


class DecodeTimeout(MediaError):
    code = "decode_timeout"
