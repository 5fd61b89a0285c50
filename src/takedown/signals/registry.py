"""Signal types by name: the one place that knows which types exist."""

from __future__ import annotations

from takedown.media import MediaKind
from takedown.signals.base import SignalType

_TYPES: dict[str, SignalType] = {}


def register(signal_type: SignalType) -> SignalType:
    """Add a signal type; names are unique so that stored signals stay unambiguous."""
    if signal_type.name in _TYPES:
        raise ValueError(f"signal type {signal_type.name!r} is already registered")
    _TYPES[signal_type.name] = signal_type
    return signal_type


def get(name: str) -> SignalType:
    try:
        return _TYPES[name]
    except KeyError:
        known = ", ".join(sorted(_TYPES))
        raise KeyError(f"unknown signal type {name!r}; known types: {known}") from None


def all_types() -> list[SignalType]:
    return list(_TYPES.values())


def for_kind(kind: MediaKind) -> list[SignalType]:
    return [t for t in _TYPES.values() if kind in t.media_kinds]
