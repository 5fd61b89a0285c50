"""The signal-type registry and the exact digests."""

from __future__ import annotations

import hashlib

import pytest

from takedown.media import MediaKind
from takedown.signals import InvalidSignal, Signal, SignalType, all_types, for_kind, get, register
from takedown.signals.exact import MD5, SHA256


def test_builtin_types() -> None:
    names = {t.name for t in all_types()}
    # pdq_normalised, vpdq_normalised: made by pdq and vpdq for dark or flat media (and vPDQ
    # references), never on their own
    assert names == {"pdq", "pdq_normalised", "vpdq", "vpdq_normalised", "md5", "sha256"}
    assert all(isinstance(t, SignalType) for t in all_types())
    assert {t.name for t in for_kind(MediaKind.IMAGE)} == {"pdq", "md5", "sha256"}
    assert {t.name for t in for_kind(MediaKind.VIDEO)} == {"vpdq", "md5", "sha256"}
    assert get("pdq").default_threshold == 31
    assert get("md5").default_threshold == 0


def test_unknown_and_duplicate_types() -> None:
    with pytest.raises(KeyError, match="known types"):
        get("photodna")
    with pytest.raises(ValueError, match="already registered"):
        register(MD5)


def test_exact_digests() -> None:
    data = b"some bytes"
    assert MD5.digest(data) == hashlib.md5(data).hexdigest()
    assert SHA256.digest(data) == hashlib.sha256(data).hexdigest()
    assert (
        SHA256.parse(hashlib.sha256(data).hexdigest().upper()) == hashlib.sha256(data).hexdigest()
    )
    with pytest.raises(InvalidSignal):
        MD5.parse("abc")
    a, b = Signal("md5", MD5.digest(b"a")), Signal("md5", MD5.digest(b"b"))
    assert MD5.compare(a, a).matched
    assert not MD5.compare(a, b).matched


def test_vpdq_frame_parse() -> None:
    vpdq = get("vpdq")
    assert vpdq.parse("AB" * 32 + ",100,0.0333") == "ab" * 32 + ",100,0.033"
    for bad in ("ab" * 32, "ab" * 32 + ",101,0", "zz,100,0", "ab" * 32 + ",x,0"):
        with pytest.raises(InvalidSignal):
            vpdq.parse(bad)
