"""Match an item's signals against banks: PDQ (with dihedral variants), vPDQ and exact digests."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from takedown.matching.banks import Bank, BankEntry
from takedown.matching.pdq_index import PdqIndex, parse_hashes
from takedown.signals import AnySignal, Signal, VideoSignal, get
from takedown.signals.vpdq import MATCH_SHARE


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
        self._frames = PdqIndex()
        self._frame_owner: list[int] = []
        self._frames_per_video: dict[int, int] = {}
        self._exact: dict[tuple[str, str], list[int]] = defaultdict(list)

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
            elif entry.signal_type == "vpdq":
                self._add_video(stored_id, entry.value)
            else:
                self._exact[(entry.signal_type, entry.value)].append(stored_id)
        if pdq_values:
            self._pdq.add(parse_hashes(pdq_values), pdq_ids)

    def _add_video(self, stored_id: int, value: str) -> None:
        frames = [f.split(",") for f in value.split(";")]
        usable = [h for h, quality, _ in frames if int(quality) >= 50]
        if not usable:
            return
        first_row = len(self._frame_owner)
        self._frames.add(parse_hashes(usable), list(range(first_row, first_row + len(usable))))
        self._frame_owner.extend([stored_id] * len(usable))
        self._frames_per_video[stored_id] = len(usable)

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
            else:
                found = [
                    (i, Match(*self._describe(i), signal.type, 0))
                    for i in self._exact.get((signal.type, signal.value), [])
                ]
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
        widest = max((s.threshold for s in self._stored), default=31)
        found: list[tuple[int, Match]] = []
        for transform, value in variants.items():
            for hit in self._pdq.query(value, widest):
                stored = self._stored[hit.entry_id]
                if hit.distance <= stored.threshold:
                    match = Match(
                        *self._describe(hit.entry_id),
                        "pdq",
                        hit.distance,
                        transform=transform,
                    )
                    found.append((hit.entry_id, match))
        return found

    def _match_video(self, signal: VideoSignal) -> list[tuple[int, Match]]:
        query = [f for f in signal.frames if f.usable]
        if not query or not len(self._frames):
            return []
        widest = max((s.threshold for s in self._stored), default=31)
        matched_query: dict[int, set[int]] = defaultdict(set)
        matched_target: dict[int, set[int]] = defaultdict(set)
        owner = np.asarray(self._frame_owner)
        for q_index, frame in enumerate(query):
            for hit in self._frames.query(frame.value, widest):
                stored_id = int(owner[hit.entry_id])
                if hit.distance <= self._stored[stored_id].threshold:
                    matched_query[stored_id].add(q_index)
                    matched_target[stored_id].add(hit.entry_id)
        found = []
        for stored_id, frames in matched_query.items():
            query_share = len(frames) / len(query)
            target_share = len(matched_target[stored_id]) / self._frames_per_video[stored_id]
            if query_share >= MATCH_SHARE:
                match = Match(
                    *self._describe(stored_id),
                    "vpdq",
                    round(1.0 - query_share, 3),
                    query_share=query_share,
                    target_share=target_share,
                )
                found.append((stored_id, match))
        return found
