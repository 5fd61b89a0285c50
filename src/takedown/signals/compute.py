"""Hash one item with every signal type that applies to it."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from takedown.media import MediaKind, detect
from takedown.signals.base import AnySignal, HashOptions, MediaItem
from takedown.signals.registry import for_kind


@dataclass(frozen=True)
class HashResult:
    media: MediaKind
    format: str
    signals: tuple[AnySignal, ...]


def hash_bytes(
    data: bytes, options: HashOptions | None = None, types: Collection[str] | None = None
) -> HashResult:
    """Detect, decode (once) and hash; raises :class:`takedown.media.MediaError` on bad media.

    ``types`` restricts the signal types computed (all that apply to the media by default).
    """
    options = options or HashOptions()
    fmt = detect(data, options.limits)
    item = MediaItem(data=data, format=fmt, options=options)
    signals: list[AnySignal] = []
    for signal_type in for_kind(fmt.kind):
        if types is None or signal_type.name in types:
            signals.extend(signal_type.hash_media(item))
    return HashResult(media=fmt.kind, format=fmt.name, signals=tuple(signals))
