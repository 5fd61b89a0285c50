"""Decide what an item is before anything decodes it."""

from __future__ import annotations

from takedown.media.errors import MediaTooLarge
from takedown.media.limits import MediaLimits
from takedown.media.sniff import ANIMATED_GIF, GIF, HEAD_BYTES, MediaFormat, sniff


def detect(data: bytes, limits: MediaLimits) -> MediaFormat:
    """Check the byte limit, sniff the format, and tell animated GIFs (video) from still ones."""
    if len(data) > limits.max_bytes:
        raise MediaTooLarge(
            f"the file is {len(data):,} bytes, over the limit of {limits.max_bytes:,} bytes"
        )
    fmt = sniff(data[:HEAD_BYTES])
    # Pillow is loaded only for a GIF, so that importing this module (and the package, which
    # names this function) stays light for the CLI's start-up
    from takedown.media.image import count_frames, open_image

    if fmt == GIF and count_frames(open_image(data, fmt, limits)) > 1:
        return ANIMATED_GIF
    return fmt
