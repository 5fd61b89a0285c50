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
from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import func, select

from takedown.matching.bank_index import BankIndex, EntryHit
from takedown.matching.pdq_index import Words, parse_hashes
from takedown.signals import AnySignal, InvalidSignal
from takedown.store.db import Database
from takedown.store.models import Bank, BankChange, BankEntry, ContentSignal

log = logging.getLogger("takedown.index")

_BATCH = 100_000
_INFO_CACHE = 100_000


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


@dataclass(frozen=True)
class EntryInfo:
    """What a match reports of a bank entry, cached per worker (invalidated by bank changes)."""

    label: str
    external_id: str
    enabled: bool
    transform: str = ""  # the reference's turn/crop this entry holds (matching.transforms)


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
        self._refreshing = threading.Lock()  # one refresh at a time: they share the cursors
        self._banks: dict[int, LiveBank] = {}
        self._content = BankIndex()
        self._entry_cursor = 0
        self._change_cursor = 0
        self._content_cursor = 0
        self.ready = False
        self.stats = IndexStats()
        self._info: OrderedDict[int, EntryInfo] = OrderedDict()

    # ---- entry metadata of matched entries (few; read from the database once) ----

    def entry_info(self, entry_ids: Iterable[int]) -> tuple[dict[int, EntryInfo], list[int]]:
        """Cached metadata for these entries, and the ids that must be read from the database."""
        found: dict[int, EntryInfo] = {}
        missing: list[int] = []
        with self._lock:
            for entry_id in entry_ids:
                info = self._info.get(entry_id)
                if info is None:
                    missing.append(entry_id)
                else:
                    self._info.move_to_end(entry_id)
                    found[entry_id] = info
        return found, missing

    def remember(self, infos: dict[int, EntryInfo]) -> None:
        with self._lock:
            self._info.update(infos)
            while len(self._info) > _INFO_CACHE:
                self._info.popitem(last=False)

    # ---- queries (called from request handlers) ----

    def match(self, signals: Sequence[AnySignal]) -> list[BankHit]:
        return self.match_many([signals])[0]

    def match_many(self, items: Sequence[Sequence[AnySignal]]) -> list[list[BankHit]]:
        """Each item's bank hits, nearest first; every enabled bank is asked once for the whole
        batch (``/v1/lookup/batch``)."""
        found: list[list[BankHit]] = [[] for _ in items]
        with self._lock:
            for bank in self._banks.values():
                if not bank.enabled:
                    continue
                for number, hits in enumerate(bank.index.match_many(items)):
                    found[number] += (BankHit(bank.id, bank.name, bank.action, h) for h in hits)
        return [sorted(f, key=lambda h: (h.hit.distance, h.bank, h.hit.entry_id)) for f in found]

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
        with self._refreshing:
            applied = self._follow_changes(db) + self._follow_entries(db) + self._follow_content(db)
            self.stats.last_refresh = time.time()
            return applied

    def catch_up(self, db: Database) -> None:
        """Apply a bank change this worker has just committed before it answers, so that the
        caller's next lookup through the same worker sees it (the follower brings it to the
        other workers within ``index_poll_s``). Nothing while the index is still loading: the
        load reads it."""
        if self.ready:
            self.refresh(db)

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
        """Add entries above the cursor. Rows are streamed and PDQ hashes parsed in chunks,
        then added to each bank's index at once (one table build for a million hashes)."""
        pdq_words: dict[int, list[Words]] = defaultdict(list)
        pdq_ids: dict[int, list[npt.NDArray[np.int64]]] = defaultdict(list)
        other: list[tuple[int, int, str, str]] = []
        with db.engine.connect() as connection:
            # the top id first: every id below a visible one has committed (serialize)
            top = connection.execute(select(func.coalesce(func.max(BankEntry.id), 0))).scalar_one()
        if top <= self._entry_cursor:
            return 0
        for chunk in _stream_entries(db, self._entry_cursor, top):
            self._sort_chunk(chunk, pdq_words, pdq_ids, other)
        banks = set(pdq_words) | {bank_id for _, bank_id, _, _ in other}
        missing = {bank_id for bank_id in banks if bank_id not in self._banks}
        if missing:
            self._reload_banks(db, missing)
        added = 0
        with self._lock:
            for bank_id, words in pdq_words.items():
                ids = np.concatenate(pdq_ids[bank_id])
                self._banks[bank_id].index.add_pdq(np.concatenate(words), ids)
                added += len(ids)
            for entry_id, bank_id, signal_type, value in other:
                try:
                    self._banks[bank_id].index.add(entry_id, signal_type, value)
                    added += 1
                except (InvalidSignal, KeyError):
                    log.warning("skipped an unreadable bank entry", extra={"entry": entry_id})
            self.stats.bank_entries += added
        self._entry_cursor = top
        return added

    @staticmethod
    def _sort_chunk(
        chunk: Sequence[Any],
        pdq_words: dict[int, list[Words]],
        pdq_ids: dict[int, list[npt.NDArray[np.int64]]],
        other: list[tuple[int, int, str, str]],
    ) -> None:
        by_bank: dict[int, tuple[list[int], list[str]]] = defaultdict(lambda: ([], []))
        for entry_id, bank_id, signal_type, value in chunk:
            if signal_type == "pdq":
                ids, values = by_bank[bank_id]
                ids.append(entry_id)
                values.append(value)
            else:
                other.append((entry_id, bank_id, signal_type, value))
        for bank_id, (ids, values) in by_bank.items():
            pdq_words[bank_id].append(parse_hashes(values))
            pdq_ids[bank_id].append(np.asarray(ids, dtype=np.int64))

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
            if not changes:
                return 0
            entries = {
                e.id: e
                for e in session.execute(
                    select(BankEntry).where(
                        BankEntry.id.in_({c.entry_id for c in changes if c.entry_id is not None})
                    )
                ).scalars()
            }
        self._reload_banks(db, {c.bank_id for c in changes if c.kind == "bank"})
        with self._lock:
            for change in changes:
                bank = self._banks.get(change.bank_id)
                entry = entries.get(change.entry_id) if change.entry_id is not None else None
                if bank is None or entry is None or entry.id > self._entry_cursor:
                    continue  # not loaded yet: the entry cursor brings it in its current state
                self._info.pop(entry.id, None)
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


def read_entry_info(db: Database, entry_ids: Sequence[int]) -> dict[int, EntryInfo]:
    with db.read() as session:
        rows = session.execute(
            select(
                BankEntry.id,
                BankEntry.label,
                BankEntry.external_id,
                BankEntry.enabled,
                BankEntry.transform,
            ).where(BankEntry.id.in_(entry_ids))
        ).all()
    return {r[0]: EntryInfo(r[1], r[2], r[3], r[4]) for r in rows}


_ENTRY_ROWS = (
    "SELECT id, bank_id, signal_type, value FROM bank_entries "
    "WHERE id > {p} AND id <= {p} AND enabled ORDER BY id"
)


def _stream_entries(db: Database, after: int, top: int) -> Iterator[Sequence[Any]]:
    """Enabled entries with ``after < id <= top`` in chunks, through the driver's own cursor:
    a server-side cursor on PostgreSQL fetching ``_BATCH`` rows per round trip (SQLAlchemy's
    result layer costs more than the rows themselves at a million)."""
    raw = db.engine.raw_connection()
    try:
        if db.is_sqlite:
            cursor = raw.cursor()
            cursor.execute(_ENTRY_ROWS.format(p="?"), (after, top))
        else:
            cursor = raw.driver_connection.cursor(name="takedown_index_load")  # type: ignore[union-attr]
            cursor.execute(_ENTRY_ROWS.format(p="%s"), (after, top))
        while rows := cursor.fetchmany(_BATCH):
            yield rows
        cursor.close()
    finally:
        raw.rollback()
        raw.close()
