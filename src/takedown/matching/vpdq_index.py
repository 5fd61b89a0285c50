"""vPDQ index: frames of every stored video in one PDQ index, matches aggregated per video.

A query video matches a stored one when enough of the query's compared seconds (usable frames,
each distinct hash once, grouped by second: :func:`takedown.signals.vpdq.compared_seconds`)
have a stored frame within the threshold, or enough of the stored video's seconds have a query
frame; both shares are reported, because "the query is inside the stored video" (high query
share, low target share) and "the stored video is inside the query" read differently to a
reviewer.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from takedown.matching.pdq_index import PdqIndex, parse_hashes
from takedown.signals import FrameHash
from takedown.signals.vpdq import compared_seconds, is_match


@dataclass(frozen=True)
class VideoHit:
    entry_id: int
    query_share: float
    target_share: float

    @property
    def matched(self) -> bool:
        return is_match(self.query_share, self.target_share)


class VpdqIndex:
    def __init__(self) -> None:
        self._frames = PdqIndex()
        self._owner: list[int] = []
        self._second: list[int] = []  # per stored frame: its second, numbered across the index
        self._seconds = 0
        self._second_count: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self._second_count)

    def add(self, frames: Sequence[FrameHash], entry_id: int) -> None:
        """Store a video's compared frames; a video with none cannot be matched and is skipped."""
        usable = compared_seconds(frames)
        if not usable:
            return
        first = len(self._owner)
        numbers: dict[int, int] = {}
        for _, second in usable:
            numbers.setdefault(second, self._seconds + len(numbers))
        self._seconds += len(numbers)
        self._frames.add(
            parse_hashes([value for value, _ in usable]),
            list(range(first, first + len(usable))),
        )
        self._owner.extend([entry_id] * len(usable))
        self._second.extend(numbers[second] for _, second in usable)
        self._second_count[entry_id] = self._second_count.get(entry_id, 0) + len(numbers)

    def remove(self, entry_id: int) -> int:
        """Forget a stored video; returns how many of its frames were live."""
        if self._second_count.pop(entry_id, None) is None:
            return 0
        frames = [i for i, owner in enumerate(self._owner) if owner == entry_id]
        return self._frames.remove_many(frames)

    def query(
        self,
        frames: Sequence[FrameHash],
        threshold: int = 31,
        entry_threshold: dict[int, int] | None = None,
    ) -> list[VideoHit]:
        """Every stored video sharing a frame with the query, with both shares, best first.

        ``entry_threshold`` narrows the frame distance per stored video (per-bank thresholds).
        """
        query = compared_seconds(frames)
        if not query or not self._second_count:
            return []
        seconds = len({second for _, second in query})
        matched_query: dict[int, set[int]] = defaultdict(set)
        matched_target: dict[int, set[int]] = defaultdict(set)
        for value, second in query:
            for hit in self._frames.query(value, threshold):
                entry = self._owner[hit.entry_id]
                limit = (entry_threshold or {}).get(entry, threshold)
                if hit.distance <= limit:
                    matched_query[entry].add(second)
                    matched_target[entry].add(self._second[hit.entry_id])
        hits = [
            VideoHit(
                entry,
                len(found) / seconds,
                len(matched_target[entry]) / self._second_count[entry],
            )
            for entry, found in matched_query.items()
        ]
        return sorted(hits, key=lambda h: (-h.query_share, -h.target_share, h.entry_id))
