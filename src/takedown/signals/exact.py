"""Exact cryptographic digests of the file bytes (``md5``, ``sha256``).

They find only byte-identical copies, but they are what NCMEC and most industry hash lists
exchange, and they are the only hashes that also cover files no decoder understands.
"""

from __future__ import annotations

import hashlib
import re
from typing import ClassVar

from takedown.media import MediaKind
from takedown.signals.base import AnySignal, Comparison, InvalidSignal, MediaItem, Signal
from takedown.signals.registry import register


class ExactDigest:
    """A digest signal type; ``name`` is also the :mod:`hashlib` algorithm."""

    name: ClassVar[str]
    media_kinds: ClassVar[frozenset[MediaKind]] = frozenset(MediaKind)
    default_threshold: ClassVar[int] = 0

    def __init__(self) -> None:
        self._hex_length = hashlib.new(self.name).digest_size * 2
        self._pattern = re.compile(f"[0-9a-f]{{{self._hex_length}}}")

    def digest(self, data: bytes) -> str:
        return hashlib.new(self.name, data, usedforsecurity=False).hexdigest()

    def hash_media(self, item: MediaItem) -> list[AnySignal]:
        return [Signal(self.name, self.digest(item.data))]

    def parse(self, value: str) -> str:
        canonical = value.strip().lower()
        if not self._pattern.fullmatch(canonical):
            raise InvalidSignal(
                f"an {self.name} digest is {self._hex_length} hexadecimal digits, got {value!r}"
            )
        return canonical

    def compare(self, a: AnySignal, b: AnySignal, threshold: int | None = None) -> Comparison:
        if not isinstance(a, Signal) or not isinstance(b, Signal):
            raise InvalidSignal(f"{self.name} compares two {self.name} signals")
        equal = a.value == b.value
        return Comparison(distance=0 if equal else 1, matched=equal)


class Md5Signal(ExactDigest):
    name: ClassVar[str] = "md5"


class Sha256Signal(ExactDigest):
    name: ClassVar[str] = "sha256"


MD5 = register(Md5Signal())
SHA256 = register(Sha256Signal())
