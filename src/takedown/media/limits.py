"""Resource limits applied to every decode."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MediaLimits:
    """Upper bounds for one item; defaults suit a social platform's uploads.

    ``max_pixels`` is checked from the header before any pixel is decoded, which is what stops
    decompression bombs. ``max_duration_s`` is checked against the container's declared duration
    and again against decoded timestamps, because a header can lie.
    """

    max_bytes: int = 512 * 1024 * 1024
    max_pixels: int = 64_000_000
    max_frames: int = 200_000
    max_duration_s: float = 4 * 3600.0
    max_decode_s: float = 120.0

    def __post_init__(self) -> None:
        for name in ("max_bytes", "max_pixels", "max_frames", "max_duration_s", "max_decode_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
