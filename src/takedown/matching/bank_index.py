"""One bank's live entries, indexed by signal type: the unit both the CLI and the service match
against.

Entries are added and removed one at a time or in bulk, without a rebuild, because the service
follows bank changes while it answers lookups. Entry ids are the caller's (a row number in a bank
file, a database id); what an entry *is* (label, provenance) stays with the caller, so that a
worker holding a million hashes keeps only arrays, not a million Python objects.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from takedown.matching.exact_index import ExactIndex
from takedown.matching.pdq_index import PdqIndex, Words, parse_hashes
from takedown.matching.vpdq_index import VpdqIndex
from takedown.signals import AnySignal, Signal, VideoSignal, get
from takedown.signals.pdq import NORMALISED_TYPE
from takedown.signals.vpdq import NORMALISED_TYPE as VIDEO_NORMALISED
from takedown.signals.vpdq import VIDEO_TYPES, parse_frames


@dataclass(frozen=True)
class EntryHit:
    """One entry an item matched: ``distance`` is bits for PDQ, 1 - query share for vPDQ and
    0 for exact digests; ``transform`` names the turn or flip of the query that matched."""

    entry_id: int
    signal_type: str
    distance: float
    transform: str | None = None
    query_share: float | None = None
    target_share: float | None = None


class BankIndex:
    """A bank's PDQ, vPDQ and exact indexes under one threshold (the signal type's default
    when ``threshold`` is None)."""

    def __init__(self, threshold: int | None = None) -> None:
        self.threshold = threshold
        self._pdq = PdqIndex()
        self._normalised = PdqIndex()  # pdq_normalised: compared only with its own type
        self._videos = VpdqIndex()
        self._normalised_videos = VpdqIndex()  # vpdq_normalised: compared only with its own type
        self._exact: dict[str, ExactIndex] = defaultdict(ExactIndex)
        self._other: dict[int, str] = {}  # vPDQ and exact entries: few, kept by type

    def __len__(self) -> int:
        return len(self._pdq) + len(self._other)

    def limit(self, signal_type: str) -> int:
        return self.threshold if self.threshold is not None else get(signal_type).default_threshold

    def add(self, entry_id: int, signal_type: str, value: str) -> None:
        """Add one entry; raises :class:`takedown.signals.InvalidSignal` for a bad value."""
        value = get(signal_type).parse(value)
        if signal_type == "pdq":
            self._pdq.add(parse_hashes([value]), [entry_id])
            return
        if signal_type == NORMALISED_TYPE:
            self._normalised.add(parse_hashes([value]), [entry_id])
        elif signal_type in VIDEO_TYPES:
            self._video_index(signal_type).add(parse_frames(value), entry_id)
        else:
            self._exact[signal_type].add(value, entry_id)
        self._other[entry_id] = signal_type

    def add_pdq(self, words: Words, entry_ids: Sequence[int] | npt.NDArray[np.int64]) -> None:
        """Bulk-add PDQ hashes already parsed to words (a worker loading a large bank)."""
        self._pdq.add(words, entry_ids)

    def remove(self, entry_id: int) -> bool:
        signal_type = self._other.pop(entry_id, None)
        if signal_type is None:
            return self._pdq.remove(entry_id) > 0
        if signal_type == NORMALISED_TYPE:
            self._normalised.remove(entry_id)
        elif signal_type in VIDEO_TYPES:
            self._video_index(signal_type).remove(entry_id)
        else:
            self._exact[signal_type].remove(entry_id)
        return True

    def match(self, signals: Sequence[AnySignal]) -> list[EntryHit]:
        """Every entry any of the signals matches, each once through its nearest signal."""
        return self.match_many([signals])[0]

    def match_many(self, items: Sequence[Sequence[AnySignal]]) -> list[list[EntryHit]]:
        """:meth:`match` for each item's signals: the PDQ hashes of all items (and their turns)
        go to each PDQ index in one batch, which is what makes a batch lookup cheaper than as
        many single ones."""
        best: list[dict[int, EntryHit]] = [{} for _ in items]
        for index, signal_type in ((self._pdq, "pdq"), (self._normalised, NORMALISED_TYPE)):
            self._match_pdq_many(index, signal_type, items, best)
        for number, signals in enumerate(items):
            for signal in signals:
                if signal.type not in ("pdq", NORMALISED_TYPE) or isinstance(signal, VideoSignal):
                    _keep_nearest(best[number], self._match_one(signal))
        return [sorted(found.values(), key=lambda h: (h.distance, h.entry_id)) for found in best]

    def _match_pdq_many(
        self,
        index: PdqIndex,
        signal_type: str,
        items: Sequence[Sequence[AnySignal]],
        best: list[dict[int, EntryHit]],
    ) -> None:
        """Query every usable ``signal_type`` signal of the items, each turn and flip it
        carries, as one batch; keep each entry's nearest hit per item (the first signal and
        turn at equal distance, as one by one)."""
        if not len(index):
            return
        owners: list[tuple[int, str]] = []  # per query row: (item number, transform)
        values: list[str] = []
        for number, signals in enumerate(items):
            for signal in signals:
                if signal.type != signal_type or not isinstance(signal, Signal):
                    continue
                if not signal.usable:
                    continue
                variants = signal.dihedral or {"original": signal.value}
                for transform, value in variants.items():
                    owners.append((number, transform))
                    values.append(value)
        if not values:
            return
        queries, entries, found = index.query_many(parse_hashes(values), self.limit(signal_type))
        for query, entry, distance in zip(
            queries.tolist(), entries.tolist(), found.tolist(), strict=True
        ):
            number, transform = owners[query]
            _keep_nearest(best[number], [EntryHit(entry, signal_type, distance, transform)])

    def _match_one(self, signal: AnySignal) -> list[EntryHit]:
        """A vPDQ or exact signal's hits (PDQ types go through :meth:`_match_pdq_many`)."""
        if isinstance(signal, VideoSignal):
            return self._match_video(signal)
        if signal.type in self._exact:
            return [
                EntryHit(entry, signal.type, 0)
                for entry in self._exact[signal.type].query(signal.value)
            ]
        return []

    def _video_index(self, signal_type: str) -> VpdqIndex:
        return self._normalised_videos if signal_type == VIDEO_NORMALISED else self._videos

    def _match_video(self, signal: VideoSignal) -> list[EntryHit]:
        videos = self._video_index(signal.type)
        if not len(videos):
            return []
        return [
            EntryHit(
                hit.entry_id,
                signal.type,
                round(1.0 - hit.query_share, 3),
                query_share=hit.query_share,
                target_share=hit.target_share,
            )
            for hit in videos.query(signal.frames, self.limit(signal.type))
            if hit.matched
        ]


def _keep_nearest(best: dict[int, EntryHit], hits: Sequence[EntryHit]) -> None:
    """Each entry once, through its nearest hit (an earlier one at equal distance stays)."""
    for hit in hits:
        known = best.get(hit.entry_id)
        if known is None or hit.distance < known.distance:
            best[hit.entry_id] = hit
