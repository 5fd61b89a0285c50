"""The in-memory indexes of one API worker, kept in step with the database.

A worker loads every enabled bank entry and every content signal at start, then follows:
entries and content signals with an id above its cursors (ids are allocated in commit order,
see ``store.db.serialize``) and the ``bank_changes`` log (disabled entries, bank settings).
Queries run against arrays only; metadata of matched entries is read from the database.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import func, select

from takedown.matching.bank_index import BankIndex, EntryHit
from takedown.matching.pdq_index import parse_hashes
from takedown.signals import AnySignal, InvalidSignal
from takedown.store.db import Database
from takedown.store.models import Bank, BankChange, BankEntry, ContentSignal

log = logging.getLogger("takedown.index")

_BATCH = 100_000


@dataclass
class LiveBank:
    id: int
    name: str
    action: str
    enabled: bool
    index: BankIndex


@dataclass(frozen=True)
class BankHit:
    bank_id: int
    bank: str
    action: str
    hit: EntryHit


@dataclass
class IndexStats:
    bank_entries: int = 0
    content_signals: int = 0
    loaded_in_s: float = 0.0
    last_refresh: float = 0.0
    per_bank: dict[str, int] = field(default_factory=dict)


class LiveIndex:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._banks: dict[int, LiveBank] = {}
        self._content = BankIndex()
        self._entry_cursor = 0
        self._change_cursor = 0
        self._content_cursor = 0
        self.ready = False
        self.stats = IndexStats()

    # ---- queries (called from request handlers) ----

    def match(self, signals: Sequence[AnySignal]) -> list[BankHit]:
        with self._lock:
            found = [
                BankHit(bank.id, bank.name, bank.action, hit)
                for bank in self._banks.values()
                if bank.enabled
                for hit in bank.index.match(signals)
            ]
        return sorted(found, key=lambda h: (h.hit.distance, h.bank, h.hit.entry_id))

    def match_content(self, signals: Sequence[AnySignal]) -> list[EntryHit]:
        """Content items (database ids) that any of the signals matches: the copies."""
        with self._lock:
            return self._content.match(signals)

    def sizes(self) -> dict[str, int]:
        with self._lock:
            sizes = {bank.name: len(bank.index) for bank in self._banks.values()}
            sizes["_content"] = len(self._content)
            return sizes

    # ---- loading and following (called from the follower thread) ----

    def load(self, db: Database) -> None:
        started = time.perf_counter()
        with db.read() as session:
            self._change_cursor = session.execute(
                select(func.coalesce(func.max(BankChange.seq), 0))
            ).scalar_one()
            banks = session.execute(select(Bank)).scalars().all()
        with self._lock:
            for bank in banks:
                self._banks[bank.id] = LiveBank(
                    bank.id, bank.name, bank.action, bank.enabled, BankIndex(bank.threshold)
                )
        self._follow_entries(db)
        self._follow_content(db)
        self.stats.loaded_in_s = time.perf_counter() - started
        self.stats.last_refresh = time.time()
        self.ready = True
        log.info(
            "indexes loaded",
            extra={"entries": self._entry_cursor, "seconds": self.stats.loaded_in_s},
        )

    def refresh(self, db: Database) -> int:
        """Apply what changed since the last call; returns how many rows were applied."""
        applied = self._follow_changes(db) + self._follow_entries(db) + self._follow_content(db)
        self.stats.last_refresh = time.time()
        return applied

    def follow(self, db: Database, interval_s: float, stop: threading.Event) -> None:
        """Load, then refresh every ``interval_s`` until ``stop``; errors are logged and retried."""
        while not stop.is_set():
            try:
                if self.ready:
                    self.refresh(db)
                else:
                    self.load(db)
            except Exception:
                log.exception("index refresh failed; retrying")
            stop.wait(interval_s)

    def _follow_entries(self, db: Database) -> int:
        applied = 0
        while True:
            with db.read() as session:
                # the top id first: every id below a visible one has committed (serialize)
                top = session.execute(select(func.coalesce(func.max(BankEntry.id), 0))).scalar_one()
                rows = session.execute(
                    select(BankEntry.id, BankEntry.bank_id, BankEntry.signal_type, BankEntry.value)
                    .where(
                        BankEntry.id > self._entry_cursor,
                        BankEntry.id <= top,
                        BankEntry.enabled.is_(True),
                    )
                    .order_by(BankEntry.id)
                    .limit(_BATCH)
                ).all()
            if rows:
                self._add_entries(db, [(r[0], r[1], r[2], r[3]) for r in rows])
                applied += len(rows)
            if len(rows) < _BATCH:
                self._entry_cursor = max(self._entry_cursor, top)
                return applied
            self._entry_cursor = rows[-1][0]

    def _add_entries(self, db: Database, rows: Sequence[tuple[int, int, str, str]]) -> None:
        pdq: dict[int, tuple[list[int], list[str]]] = defaultdict(lambda: ([], []))
        other = []
        for entry_id, bank_id, signal_type, value in rows:
            if signal_type == "pdq":
                ids, values = pdq[bank_id]
                ids.append(entry_id)
                values.append(value)
            else:
                other.append((entry_id, bank_id, signal_type, value))
        missing = {bank_id for _, bank_id, _, _ in rows if bank_id not in self._banks}
        if missing:
            self._reload_banks(db, missing)
        with self._lock:
            for bank_id, (ids, values) in pdq.items():
                self._banks[bank_id].index.add_pdq(parse_hashes(values), ids)
            for entry_id, bank_id, signal_type, value in other:
                try:
                    self._banks[bank_id].index.add(entry_id, signal_type, value)
                except (InvalidSignal, KeyError):
                    log.warning("skipped an unreadable bank entry", extra={"entry": entry_id})
            self.stats.bank_entries += len(rows)

    def _reload_banks(self, db: Database, bank_ids: set[int]) -> None:
        with db.read() as session:
            banks = session.execute(select(Bank).where(Bank.id.in_(bank_ids))).scalars().all()
        with self._lock:
            for bank in banks:
                live = self._banks.get(bank.id)
                if live is None:
                    self._banks[bank.id] = LiveBank(
                        bank.id, bank.name, bank.action, bank.enabled, BankIndex(bank.threshold)
                    )
                else:
                    live.name, live.action, live.enabled = bank.name, bank.action, bank.enabled
                    live.index.threshold = bank.threshold

    def _follow_changes(self, db: Database) -> int:
        with db.read() as session:
            changes = (
                session.execute(
                    select(BankChange)
                    .where(BankChange.seq > self._change_cursor)
                    .order_by(BankChange.seq)
                )
                .scalars()
                .all()
            )
            entries = {
                e.id: e
                for e in session.execute(
                    select(BankEntry).where(
                        BankEntry.id.in_({c.entry_id for c in changes if c.entry_id is not None})
                    )
                ).scalars()
            }
        if not changes:
            return 0
        self._reload_banks(db, {c.bank_id for c in changes if c.kind == "bank"})
        with self._lock:
            for change in changes:
                bank = self._banks.get(change.bank_id)
                entry = entries.get(change.entry_id) if change.entry_id is not None else None
                if bank is None or entry is None or entry.id > self._entry_cursor:
                    continue  # not loaded yet: the entry cursor brings it in its current state
                bank.index.remove(entry.id)
                if entry.enabled:
                    bank.index.add(entry.id, entry.signal_type, entry.value)
        self._change_cursor = changes[-1].seq
        return len(changes)

    def _follow_content(self, db: Database) -> int:
        applied = 0
        while True:
            with db.read() as session:
                rows = session.execute(
                    select(
                        ContentSignal.id,
                        ContentSignal.content_pk,
                        ContentSignal.signal_type,
                        ContentSignal.value,
                    )
                    .where(ContentSignal.id > self._content_cursor)
                    .order_by(ContentSignal.id)
                    .limit(_BATCH)
                ).all()
            if not rows:
                return applied
            with self._lock:
                for _, content_pk, signal_type, value in rows:
                    try:
                        self._content.add(content_pk, signal_type, value)
                    except (InvalidSignal, KeyError):
                        log.warning("skipped an unreadable content signal")
                self.stats.content_signals += len(rows)
            self._content_cursor = rows[-1][0]
            applied += len(rows)
