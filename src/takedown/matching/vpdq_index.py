"""vPDQ index: frames of every stored video in one PDQ index, matches aggregated per video.

A query video matches a stored one when enough of the query's compared frames (usable, each
distinct hash once: :func:`takedown.signals.vpdq.compared_frames`) have a stored frame within
the threshold; both shares are reported, because "the query is
inside the stored video" (high query share, low target share) and "the stored video is inside
the query" read differently to a reviewer.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from takedown.matching.pdq_index import PdqIndex, parse_hashes
from takedown.signals import FrameHash
from takedown.signals.vpdq import MATCH_SHARE, compared_frames


@dataclass(frozen=True)
class VideoHit:
    entry_id: int
    query_share: float
    target_share: float

    @property
    def matched(self) -> bool:
        return self.query_share >= MATCH_SHARE


class VpdqIndex:
    def __init__(self) -> None:
        self._frames = PdqIndex()
        self._owner: list[int] = []
        self._frame_count: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self._frame_count)

    def add(self, frames: Sequence[FrameHash], entry_id: int) -> None:
        """Store a video's compared frames; a video with none cannot be matched and is skipped."""
        usable = compared_frames(frames)
        if not usable:
            return
        first = len(self._owner)
        self._frames.add(parse_hashes(usable), list(range(first, first + len(usable))))
        self._owner.extend([entry_id] * len(usable))
        self._frame_count[entry_id] = self._frame_count.get(entry_id, 0) + len(usable)

    def remove(self, entry_id: int) -> int:
        """Forget a stored video; returns how many of its frames were live."""
        if self._frame_count.pop(entry_id, None) is None:
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
        query = compared_frames(frames)
        if not query or not self._frame_count:
            return []
        matched_query: dict[int, set[int]] = defaultdict(set)
        matched_target: dict[int, set[int]] = defaultdict(set)
        for position, value in enumerate(query):
            for hit in self._frames.query(value, threshold):
                entry = self._owner[hit.entry_id]
                limit = (entry_threshold or {}).get(entry, threshold)
                if hit.distance <= limit:
                    matched_query[entry].add(position)
                    matched_target[entry].add(hit.entry_id)
        hits = [
            VideoHit(
                entry,
                len(positions) / len(query),
                len(matched_target[entry]) / self._frame_count[entry],
            )
            for entry, positions in matched_query.items()
        ]
        return sorted(hits, key=lambda h: (-h.query_share, -h.target_share, h.entry_id))
