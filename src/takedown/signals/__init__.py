"""Signals: hashes of content, one module per type, found through the registry.

Importing this package registers the built-in types: pdq, vpdq, md5 and sha256.
"""

# isort: off
# Registration happens on import, in output order: perceptual types first, then exact digests.
from takedown.signals import pdq, vpdq, exact  # noqa: F401

# isort: on
from takedown.signals.base import (
    QUALITY_USABLE,
    AnySignal,
    Comparison,
    FrameHash,
    HashOptions,
    InvalidSignal,
    MediaItem,
    Signal,
    SignalType,
    Variant,
    VideoSignal,
)
from takedown.signals.compute import HashResult, hash_bytes
from takedown.signals.registry import all_types, for_kind, get, register

__all__ = [
    "QUALITY_USABLE",
    "AnySignal",
    "Comparison",
    "FrameHash",
    "HashOptions",
    "HashResult",
    "InvalidSignal",
    "MediaItem",
    "Signal",
    "SignalType",
    "Variant",
    "VideoSignal",
    "all_types",
    "for_kind",
    "get",
    "hash_bytes",
    "register",
]
