"""Match an item's signals against banks: PDQ (with dihedral variants), vPDQ and exact digests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from takedown.matching.bank_index import BankIndex
from takedown.matching.banks import Bank, BankEntry
from takedown.matching.pdq_index import parse_hashes
from takedown.signals import AnySignal


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


class Matcher:
    """Indexes for a set of banks read from files; ``threshold`` overrides every type's default.

    Each bank is a :class:`BankIndex` keyed by row number; the rows themselves (label, external
    id) are kept here to describe matches.
    """

    def __init__(self, threshold: int | None = None) -> None:
        self._threshold = threshold
        self._banks: dict[str, tuple[BankIndex, list[BankEntry]]] = {}

    def __len__(self) -> int:
        return sum(len(index) for index, _ in self._banks.values())

    def add_bank(self, bank: Bank, threshold: int | None = None) -> None:
        index = BankIndex(threshold if threshold is not None else self._threshold)
        entries = list(bank.entries)
        pdq_values: list[str] = []
        pdq_ids: list[int] = []
        for row, entry in enumerate(entries):
            if not entry.enabled:
                continue
            if entry.signal_type == "pdq":
                pdq_values.append(entry.value)
                pdq_ids.append(row)
            else:
                index.add(row, entry.signal_type, entry.value)
        if pdq_values:
            index.add_pdq(parse_hashes(pdq_values), pdq_ids)
        self._banks[bank.name] = (index, entries)

    def match(self, signals: Sequence[AnySignal]) -> list[Match]:
        """Every bank item matched by any of the signals, nearest first.

        Rows of one bank that share an external id (the variants of one item: trimmed, cropped)
        are one item, reported once with its best distance.
        """
        best: dict[tuple[str, str, str], Match] = {}
        for name, (index, entries) in self._banks.items():
            for hit in index.match(signals):
                entry = entries[hit.entry_id]
                match = Match(
                    name,
                    entry.label,
                    entry.external_id,
                    hit.signal_type,
                    hit.distance,
                    hit.transform,
                    hit.query_share,
                    hit.target_share,
                )
                key = (name, entry.external_id or f"#{hit.entry_id}", hit.signal_type)
                if key not in best or match.distance < best[key].distance:
                    best[key] = match
        return sorted(best.values(), key=lambda m: (m.distance, m.bank, m.external_id))
