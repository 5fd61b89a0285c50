"""vPDQ index: frames of every stored video in one PDQ index, matches aggregated per video.

A query video matches a stored one when enough of the query's usable time (usable frames, each
distinct hash once, on its timeline: :class:`takedown.signals.vpdq.Timeline`) has a stored
frame within the threshold, or enough of the stored video's time has a query frame; both
shares are reported, because "the query is inside the stored video" (high query share, low
target share) and "the stored video is inside the query" read differently to a reviewer.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from takedown.matching.pdq_index import PdqIndex, parse_hashes
from takedown.signals import FrameHash
from takedown.signals.vpdq import Timeline, is_match


@dataclass(frozen=True)
class VideoHit:
    entry_id: int
    query_share: float
    target_share: float

    @property
    def matched(self) -> bool:
        return is_match(self.query_share, self.target_share)


class VpdqIndex:
    """Stored videos, each counted on its own. One entry id may hold several videos (a content
    item's original and mirrored vPDQ signals): their time is never pooled, or a copy found
    whole in one of them would show half a share, and the best video of each entry answers."""

    def __init__(self) -> None:
        self._frames = PdqIndex()
        self._owner: list[int] = []  # per stored frame: its video's number
        self._position: list[int] = []  # per stored frame: its place on its video's timeline
        self._lines: list[Timeline] = []  # per video: its compared frames' timeline
        self._video_entry: list[int] = []  # per video: the entry id it belongs to
        self._videos: dict[int, list[int]] = {}  # per live entry id: its videos

    def __len__(self) -> int:
        return len(self._videos)

    def add(self, frames: Sequence[FrameHash], entry_id: int) -> None:
        """Store a video's compared frames; a video with none cannot be matched and is skipped."""
        line = Timeline.of(frames)
        if not len(line):
            return
        video = len(self._video_entry)
        first = len(self._owner)
        self._frames.add(parse_hashes(list(line.values)), list(range(first, first + len(line))))
        self._owner.extend([video] * len(line))
        self._position.extend(range(len(line)))
        self._lines.append(line)
        self._video_entry.append(entry_id)
        self._videos.setdefault(entry_id, []).append(video)

    def remove(self, entry_id: int) -> int:
        """Forget an entry's stored videos; returns how many of their frames were live."""
        videos = self._videos.pop(entry_id, None)
        if videos is None:
            return 0
        gone = set(videos)
        frames = [i for i, owner in enumerate(self._owner) if owner in gone]
        return self._frames.remove_many(frames)

    def query(
        self,
        frames: Sequence[FrameHash],
        threshold: int = 31,
        entry_threshold: dict[int, int] | None = None,
    ) -> list[VideoHit]:
        """Every stored entry sharing a frame with the query, with both shares of its best
        video (a match first, then the larger shares), best first.

        ``entry_threshold`` narrows the frame distance per stored entry (per-bank thresholds).
        """
        query = Timeline.of(frames)
        if not len(query) or not self._videos:
            return []
        matched_query: dict[int, set[int]] = defaultdict(set)
        matched_target: dict[int, set[int]] = defaultdict(set)
        for i, value in enumerate(query.values):
            for hit in self._frames.query(value, threshold):
                video = self._owner[hit.entry_id]
                entry = self._video_entry[video]
                limit = (entry_threshold or {}).get(entry, threshold)
                if entry in self._videos and hit.distance <= limit:
                    matched_query[video].add(i)
                    matched_target[video].add(self._position[hit.entry_id])
        best: dict[int, VideoHit] = {}
        for video, found in matched_query.items():
            entry = self._video_entry[video]
            share = VideoHit(
                entry, query.share(found), self._lines[video].share(matched_target[video])
            )
            known = best.get(entry)
            if known is None or _rank(share) > _rank(known):
                best[entry] = share
        return sorted(best.values(), key=lambda h: (-h.query_share, -h.target_share, h.entry_id))


def _rank(hit: VideoHit) -> tuple[bool, float, float]:
    return hit.matched, max(hit.query_share, hit.target_share), hit.query_share
