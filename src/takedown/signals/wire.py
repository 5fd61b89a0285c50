"""Signals as stored and exchanged: one ``(type, value)`` string pair per signal.

Banks, the content index and the API all keep a signal as its type name and a string; these
two functions are the only conversions between that form and :class:`Signal`/`VideoSignal`.
"""

from __future__ import annotations

from takedown.signals.base import AnySignal, InvalidSignal, Signal, VideoSignal
from takedown.signals.registry import get
from takedown.signals.vpdq import VIDEO_TYPES, format_frames, parse_frames


def stored_value(signal: AnySignal) -> str | None:
    """The string a bank or the content index keeps; None for a signal too weak to keep (a
    PDQ hash of a flat image matches everything)."""
    if isinstance(signal, VideoSignal):
        return format_frames(signal.frames) if signal.frames else None
    return signal.value if signal.usable else None


def indexed_values(signal: AnySignal) -> list[str]:
    """What the content index keeps of an upload's signal: its stored value and, for an image
    hashed mirrored too, the mirrored hash, so that the copies of a reported item are found
    whichever way round either was posted."""
    value = stored_value(signal)
    if value is None:
        return []
    mirrored = (
        signal.dihedral.get("mirror") if isinstance(signal, Signal) and signal.dihedral else None
    )
    return [value, mirrored] if mirrored and mirrored != value else [value]


def from_stored(signal_type: str, value: str) -> AnySignal:
    """Validate and read a stored or submitted signal; raises InvalidSignal naming the fix."""
    try:
        kind = get(signal_type)
    except KeyError as exc:
        raise InvalidSignal(str(exc.args[0])) from None
    canonical = kind.parse(value)
    if signal_type in VIDEO_TYPES:
        return VideoSignal(signal_type, tuple(parse_frames(canonical)))
    return Signal(signal_type, canonical)
