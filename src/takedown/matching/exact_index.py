"""Exact-digest index (md5, sha256): a dictionary from value to entry ids."""

from __future__ import annotations

from collections import defaultdict


class ExactIndex:
    """Byte-identical matching; one index per digest type."""

    def __init__(self) -> None:
        self._entries: dict[str, set[int]] = defaultdict(set)

    def __len__(self) -> int:
        return sum(len(ids) for ids in self._entries.values())

    def add(self, value: str, entry_id: int) -> None:
        self._entries[value].add(entry_id)

    def remove(self, entry_id: int) -> int:
        removed = 0
        for ids in self._entries.values():
            if entry_id in ids:
                ids.discard(entry_id)
                removed += 1
        return removed

    def query(self, value: str) -> list[int]:
        return sorted(self._entries.get(value, ()))
