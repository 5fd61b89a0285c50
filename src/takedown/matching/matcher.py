"""Match an item's signals against banks: PDQ (with dihedral variants), vPDQ and exact digests."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from takedown.matching.banks import Bank, BankEntry
from takedown.matching.exact_index import ExactIndex
from takedown.matching.pdq_index import PdqIndex, parse_hashes
from takedown.matching.vpdq_index import VpdqIndex
from takedown.signals import AnySignal, Signal, VideoSignal, get
from takedown.signals.vpdq import parse_frames


@dataclass(frozen=True)
class Match:
    """One bank entry an item matched, how closely, and through which variant of the item."""

    bank: str
    label: str
    external_id: str
    signal_type: str
    distance: float
    transform: str | None = None
    query_share: float | None = None
    target_share: float | None = None

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "bank": self.bank,
            "label": self.label,
            "external_id": self.external_id,
            "signal_type": self.signal_type,
            "distance": int(self.distance)
            if self.distance == int(self.distance)
            else round(self.distance, 3),
            "transform": self.transform,
        }
        if self.query_share is not None:
            out["query_share"] = round(self.query_share, 3)
            out["target_share"] = round(self.target_share or 0.0, 3)
        return out


@dataclass(frozen=True)
class _Stored:
    bank: str
    entry: BankEntry
    threshold: int


class Matcher:
    """Indexes for a set of banks; ``threshold`` overrides every type's default when given."""

    def __init__(self, threshold: int | None = None) -> None:
        self._threshold = threshold
        self._stored: list[_Stored] = []
        self._pdq = PdqIndex()
        self._videos = VpdqIndex()
        self._exact: dict[str, ExactIndex] = defaultdict(ExactIndex)
        # kept as banks are added, not recomputed on every query
        self._widest = 0  # the largest perceptual threshold of any bank
        self._video_limits: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self._stored)

    def add_bank(self, bank: Bank, threshold: int | None = None) -> None:
        pdq_values: list[str] = []
        pdq_ids: list[int] = []
        for entry in bank.entries:
            if not entry.enabled:
                continue
            limit = threshold if threshold is not None else self._threshold
            if limit is None:
                limit = get(entry.signal_type).default_threshold
            stored_id = len(self._stored)
            self._stored.append(_Stored(bank.name, entry, limit))
            if entry.signal_type == "pdq":
                pdq_values.append(entry.value)
                pdq_ids.append(stored_id)
                self._widest = max(self._widest, limit)
            elif entry.signal_type == "vpdq":
                self._videos.add(parse_frames(entry.value), stored_id)
                self._video_limits[stored_id] = limit
                self._widest = max(self._widest, limit)
            else:
                self._exact[entry.signal_type].add(entry.value, stored_id)
        if pdq_values:
            self._pdq.add(parse_hashes(pdq_values), pdq_ids)

    def match(self, signals: Sequence[AnySignal]) -> list[Match]:
        """Every bank item matched by any of the signals, nearest first.

        Rows of one bank that share an external id (the variants of one item: trimmed, cropped)
        are one item, reported once with its best distance.
        """
        best: dict[tuple[str, str, str], Match] = {}
        for signal in signals:
            if isinstance(signal, VideoSignal):
                found = self._match_video(signal)
            elif signal.type == "pdq":
                found = self._match_pdq(signal)
            elif signal.type in self._exact:
                found = [
                    (i, Match(*self._describe(i), signal.type, 0))
                    for i in self._exact[signal.type].query(signal.value)
                ]
            else:
                found = []
            for stored_id, match in found:
                key = (match.bank, match.external_id or f"#{stored_id}", match.signal_type)
                if key not in best or match.distance < best[key].distance:
                    best[key] = match
        return sorted(best.values(), key=lambda m: (m.distance, m.bank, m.external_id))

    def _describe(self, stored_id: int) -> tuple[str, str, str]:
        stored = self._stored[stored_id]
        return stored.bank, stored.entry.label, stored.entry.external_id

    def _match_pdq(self, signal: Signal) -> list[tuple[int, Match]]:
        if not signal.usable or not len(self._pdq):
            return []
        variants = dict(signal.dihedral) if signal.dihedral else {"original": signal.value}
        return [
            (hit.entry_id, Match(*self._describe(hit.entry_id), "pdq", hit.distance, transform))
            for transform, hit in self._pdq.query_dihedral(variants, self._widest)
            if hit.distance <= self._stored[hit.entry_id].threshold
        ]

    def _match_video(self, signal: VideoSignal) -> list[tuple[int, Match]]:
        return [
            (
                hit.entry_id,
                Match(
                    *self._describe(hit.entry_id),
                    "vpdq",
                    round(1.0 - hit.query_share, 3),
                    query_share=hit.query_share,
                    target_share=hit.target_share,
                ),
            )
            for hit in self._videos.query(signal.frames, self._widest, self._video_limits)
            if hit.matched
        ]
