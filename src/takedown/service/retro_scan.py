"""Retro-scan: known material that is already on the platform.

An upload is matched against the banks when it arrives; an entry that arrives later (an
exchange fetch, a bank import, a confirmation) would otherwise only ever stop the next upload.
So the worker takes the entries not yet scanned (``bank_entries.retro_scanned_at`` is NULL), in
batches, indexes them (:class:`takedown.matching.sweep.EntrySweep` for PDQ, sets for exact
digests, a vPDQ index for videos) and streams every content signal through them in chunks.

Each content item a batch matches becomes a case as a held or blocked upload would: P0 with a
CyberTipline draft for a child-abuse bank; restricted at once, or removed when the bank blocks
and the match is close (exact, vPDQ, or PDQ within the policy's auto-remove distance; a farther
PDQ match is restricted for a person to look at, as a confirmation treats far copies). Once per
content item (``retro_hits`` is unique on it), and never for an item already removed or blocked,
already in an open case, or reached by the case that confirmed the entry.

Resumable: a batch's cases, its scan records and the marks on its entries commit together, so
an interrupted scan leaves its batch unmarked and the next round scans it again.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from takedown.actions.kinds import ActionKind
from takedown.actions.outbox import emit
from takedown.audit.log import SYSTEM, record
from takedown.cases.clocks import plan_clocks
from takedown.cases.policy import Policy, triage
from takedown.cases.vocabulary import OPEN_STATES, CaseState, Category, MinorDepicted
from takedown.exchanges.feed_format import CASE_CATEGORIES
from takedown.matching.bank_index import BankIndex
from takedown.matching.pdq_index import parse_hashes
from takedown.matching.sweep import EntrySweep
from takedown.service import cybertip, sharing
from takedown.service.reports import restrict_content, start_clocks
from takedown.signals import InvalidSignal, get
from takedown.signals.pdq import NORMALISED_TYPE
from takedown.signals.wire import from_stored
from takedown.store.db import Database, serialize
from takedown.store.models import (
    Bank,
    BankEntry,
    Case,
    CaseContent,
    Content,
    ContentSignal,
    Exchange,
    RetroHit,
    RetroScan,
)

log = logging.getLogger("takedown.retro_scan")

PDQ_TYPES = ("pdq", NORMALISED_TYPE)
ENTRY_BATCH = 100_000
CONTENT_CHUNK = 100_000
GONE = frozenset({"removed", "blocked", "deleted"})
_MARK_CHUNK = 1000


@dataclass(frozen=True)
class PendingEntry:
    id: int
    bank_id: int
    signal_type: str
    value: str
    label: str
    enabled: bool
    case_id: int | None
    exchange_id: int | None
    added_at: datetime
    source: str = ""

    @property
    def from_feed(self) -> bool:
        """Brought by an exchange (now or once): its labels are the feed's words, not ours."""
        return self.exchange_id is not None or self.source.startswith("exchange:")


@dataclass(frozen=True)
class BankRule:
    """What a bank's entry means for a match: its action, threshold, and whether it acts."""

    id: int
    name: str
    action: str
    threshold: int | None
    enabled: bool

    def limit(self, signal_type: str) -> int:
        return self.threshold if self.threshold is not None else get(signal_type).default_threshold


@dataclass(frozen=True)
class Hit:
    content_pk: int
    entry_id: int
    signal_type: str
    distance: float


@dataclass
class ScanReport:
    """One batch: entries scanned, content signals streamed, cases opened, items skipped."""

    entries: int = 0
    signals_checked: int = 0
    cases: list[int] = field(default_factory=list)
    skipped: int = 0


class EntryMatcher:
    """A batch of new entries, indexed to have the content signals streamed through them."""

    def __init__(self, entries: Sequence[PendingEntry], banks: Mapping[int, BankRule]) -> None:
        self._sweeps: dict[str, EntrySweep] = {}
        self._exact: dict[tuple[str, str], list[int]] = defaultdict(list)
        self._videos: dict[int, BankIndex] = {}
        self.types: set[str] = set()
        pdq: dict[str, tuple[list[str], list[int], list[int]]] = defaultdict(lambda: ([], [], []))
        for entry in entries:
            bank = banks[entry.bank_id]
            try:
                value = get(entry.signal_type).parse(entry.value)
            except (InvalidSignal, KeyError):
                log.warning("skipped an unreadable bank entry", extra={"entry": entry.id})
                continue
            self.types.add(entry.signal_type)
            if entry.signal_type in PDQ_TYPES:
                values, ids, limits = pdq[entry.signal_type]
                values.append(value)
                ids.append(entry.id)
                limits.append(bank.limit(entry.signal_type))
            elif entry.signal_type == "vpdq":
                index = self._videos.setdefault(bank.id, BankIndex(bank.threshold))
                index.add(entry.id, entry.signal_type, value)
            else:
                self._exact[(entry.signal_type, value)].append(entry.id)
        for signal_type, (values, ids, limits) in pdq.items():
            self._sweeps[signal_type] = EntrySweep(
                parse_hashes(values),
                np.asarray(ids, dtype=np.int64),
                np.asarray(limits, dtype=np.int32),
            )

    def __bool__(self) -> bool:
        return bool(self.types)

    def match(self, rows: Sequence[tuple[int, int, str, str]]) -> list[Hit]:
        """Hits of content signal rows ``(id, content_pk, signal_type, value)``."""
        hits: list[Hit] = []
        pdq_rows: dict[str, list[tuple[int, str]]] = defaultdict(list)
        for _, content_pk, signal_type, value in rows:
            if signal_type in self._sweeps:
                pdq_rows[signal_type].append((content_pk, value))
            elif signal_type == "vpdq" and self._videos:
                hits += self._match_video(content_pk, value)
            else:
                for entry_id in self._exact.get((signal_type, value), ()):
                    hits.append(Hit(content_pk, entry_id, signal_type, 0.0))
        for signal_type, pairs in pdq_rows.items():
            hits += self._match_pdq(signal_type, pairs)
        return hits

    def _match_pdq(self, signal_type: str, pairs: Sequence[tuple[int, str]]) -> list[Hit]:
        try:
            words = parse_hashes(value for _, value in pairs)
        except ValueError:  # a malformed stored hash: drop it, keep the rest
            pairs = [(pk, v) for pk, v in pairs if _is_hex_hash(v)]
            words = parse_hashes(value for _, value in pairs)
        found = self._sweeps[signal_type].match(words)
        return [
            Hit(pairs[int(q)][0], int(entry), signal_type, float(d))
            for q, entry, d in zip(found.queries, found.entries, found.distances, strict=True)
        ]

    def _match_video(self, content_pk: int, value: str) -> list[Hit]:
        try:
            signal = from_stored("vpdq", value)
        except InvalidSignal:
            return []
        return [
            Hit(content_pk, hit.entry_id, "vpdq", hit.distance)
            for index in self._videos.values()
            for hit in index.match([signal])
        ]


def _is_hex_hash(value: str) -> bool:
    return len(value) == 64 and all(c in "0123456789abcdefABCDEF" for c in value)


def pending_entries(session: Session, limit: int) -> list[PendingEntry]:
    rows = session.execute(
        select(
            BankEntry.id,
            BankEntry.bank_id,
            BankEntry.signal_type,
            BankEntry.value,
            BankEntry.label,
            BankEntry.enabled,
            BankEntry.case_id,
            BankEntry.exchange_id,
            BankEntry.added_at,
            BankEntry.source,
        )
        .where(BankEntry.retro_scanned_at.is_(None))
        .order_by(BankEntry.id)
        .limit(limit)
    ).all()
    return [
        PendingEntry(
            id=row.id,
            bank_id=row.bank_id,
            signal_type=row.signal_type,
            value=row.value,
            label=row.label,
            enabled=row.enabled,
            case_id=row.case_id,
            exchange_id=row.exchange_id,
            added_at=row.added_at,
            source=row.source or "",
        )
        for row in rows
    ]


def bank_rules(session: Session) -> dict[int, BankRule]:
    return {
        bank.id: BankRule(bank.id, bank.name, bank.action, bank.threshold, bank.enabled)
        for bank in session.execute(select(Bank)).scalars()
    }


def content_signals(
    db: Database, types: set[str], chunk: int = CONTENT_CHUNK
) -> Iterator[list[tuple[int, int, str, str]]]:
    """Every content signal of ``types`` in id order, ``chunk`` rows per read (keyset paging:
    each read is short, so the scan holds no transaction open across the whole stream)."""
    after = 0
    query = (
        select(
            ContentSignal.id,
            ContentSignal.content_pk,
            ContentSignal.signal_type,
            ContentSignal.value,
        )
        .where(ContentSignal.signal_type.in_(sorted(types)))
        .order_by(ContentSignal.id)
        .limit(chunk)
    )
    while True:
        with db.engine.connect() as connection:
            rows = [
                (int(r[0]), int(r[1]), str(r[2]), str(r[3]))
                for r in connection.execute(query.where(ContentSignal.id > after))
            ]
        if not rows:
            return
        yield rows
        after = rows[-1][0]


def scan_pending(
    db: Database,
    policy: Policy,
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    batch: int = ENTRY_BATCH,
    chunk: int = CONTENT_CHUNK,
    max_batches: int | None = None,
    stop: threading.Event | None = None,
) -> list[ScanReport]:
    """Scan the entries not yet scanned, ``batch`` at a time, until none is left (or
    ``max_batches``, or ``stop``); each batch commits on its own."""
    reports: list[ScanReport] = []
    while max_batches is None or len(reports) < max_batches:
        if stop is not None and stop.is_set():
            break
        report = scan_batch(db, policy, now=now, batch=batch, chunk=chunk, stop=stop)
        if report is None:
            break
        reports.append(report)
    return reports


def scan_batch(
    db: Database,
    policy: Policy,
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    batch: int = ENTRY_BATCH,
    chunk: int = CONTENT_CHUNK,
    stop: threading.Event | None = None,
) -> ScanReport | None:
    """Scan one batch of new entries; None when there is none, or when ``stop`` is set while
    the content streams (nothing is written then: the batch is scanned again next time)."""
    started = now()
    with db.read() as session:
        entries = pending_entries(session, batch)
        banks = bank_rules(session)
    if not entries:
        return None
    scannable = [
        e
        for e in entries
        if e.enabled and banks[e.bank_id].enabled and banks[e.bank_id].name != policy.watch_bank
    ]
    matcher = EntryMatcher(scannable, banks)
    hits: list[Hit] = []
    checked = 0
    if matcher:
        for rows in content_signals(db, matcher.types, chunk):
            if stop is not None and stop.is_set():
                return None
            hits += matcher.match(rows)
            checked += len(rows)
    with db.write() as session:
        serialize(session)
        return settle(session, entries, hits, banks, policy, started, now(), checked)


def _hit_rank(
    hit: Hit, entry: PendingEntry, banks: Mapping[int, BankRule], policy: Policy
) -> tuple[bool, bool, float, int]:
    bank = banks[entry.bank_id]
    return (
        bank.name not in policy.child_abuse_banks,
        bank.action != "block",
        hit.distance,
        hit.entry_id,
    )


def settle(
    session: Session,
    entries: Sequence[PendingEntry],
    hits: Sequence[Hit],
    banks: Mapping[int, BankRule],
    policy: Policy,
    started: datetime,
    now: datetime,
    checked: int,
) -> ScanReport:
    """Open the cases of a batch's hits, record the scan per bank, and mark the entries
    scanned, in the caller's transaction."""
    by_id = {entry.id: entry for entry in entries}
    best: dict[int, Hit] = {}
    for hit in hits:
        known = best.get(hit.content_pk)
        rank = _hit_rank(hit, by_id[hit.entry_id], banks, policy)
        if known is None or rank < _hit_rank(known, by_id[known.entry_id], banks, policy):
            best[hit.content_pk] = hit
    scans = _scan_rows(session, entries, started, now, checked)
    report = ScanReport(entries=len(entries), signals_checked=checked)
    skip = _already_handled(session, best, by_id)
    contents = {
        c.id: c for c in session.execute(select(Content).where(Content.id.in_(best))).scalars()
    }
    for content_pk, hit in sorted(best.items()):
        content = contents.get(content_pk)
        entry = by_id[hit.entry_id]
        scan = scans[entry.bank_id]
        if content is None or content_pk in skip or content.status in GONE:
            scan.skipped += 1
            report.skipped += 1
            continue
        case = open_case(session, content, hit, entry, banks[entry.bank_id], policy, now)
        session.add(
            RetroHit(
                content_pk=content_pk,
                case_id=case.id,
                entry_id=hit.entry_id,
                scan_id=scan.id,
                signal_type=hit.signal_type,
                distance=hit.distance,
                at=now,
            )
        )
        scan.matched += 1
        report.cases.append(case.id)
    ids = [entry.id for entry in entries]
    for start in range(0, len(ids), _MARK_CHUNK):
        session.execute(
            update(BankEntry)
            .where(BankEntry.id.in_(ids[start : start + _MARK_CHUNK]))
            .values(retro_scanned_at=now)
        )
    for bank_id, scan in scans.items():
        record(
            session,
            SYSTEM,
            "bank.retro_scan",
            f"bank:{banks[bank_id].name}",
            {
                "scan": scan.id,
                "entries": scan.entries,
                "signals_checked": checked,
                "matched": scan.matched,
                "skipped": scan.skipped,
            },
        )
    session.flush()
    return report


def _scan_rows(
    session: Session,
    entries: Sequence[PendingEntry],
    started: datetime,
    now: datetime,
    checked: int,
) -> dict[int, RetroScan]:
    """One scan record per bank of the batch (per exchange too, when entries of one bank came
    from several: the first's is named)."""
    per_bank: dict[int, list[PendingEntry]] = defaultdict(list)
    for entry in entries:
        per_bank[entry.bank_id].append(entry)
    scans: dict[int, RetroScan] = {}
    for bank_id, group in per_bank.items():
        scans[bank_id] = RetroScan(
            bank_id=bank_id,
            exchange_id=next((e.exchange_id for e in group if e.exchange_id is not None), None),
            entries=len(group),
            signals_checked=checked,
            matched=0,
            skipped=0,
            entries_added_at=max(e.added_at for e in group),
            started_at=started,
            finished_at=now,
        )
        session.add(scans[bank_id])
    session.flush()
    return scans


def _already_handled(
    session: Session, best: Mapping[int, Hit], entries: Mapping[int, PendingEntry]
) -> set[int]:
    """Items not to open a case about: already put into a case by a retro-scan, in an open
    case, or reached by the case that confirmed the matched entry."""
    pks = list(best)
    if not pks:
        return set()
    handled = set(
        session.execute(select(RetroHit.content_pk).where(RetroHit.content_pk.in_(pks))).scalars()
    )
    open_states = [state.value for state in OPEN_STATES]
    links = session.execute(
        select(CaseContent.content_pk, CaseContent.case_id, Case.state)
        .join(Case, Case.id == CaseContent.case_id)
        .where(CaseContent.content_pk.in_(pks))
    ).all()
    for content_pk, case_id, state in links:
        confirming = entries[best[content_pk].entry_id].case_id
        if state in open_states or case_id == confirming:
            handled.add(content_pk)
    return handled


_LABEL_WORDS = re.compile(r"[^a-z_]+")


def category_for(label: str, child_abuse: bool, bank_name: str = "") -> Category:
    """A child-abuse bank's match is child sexual abuse; a ``confirmed-<category>`` bank's is
    its category; otherwise the category the entry's label names (a case category, or an
    exchange's word for one: "csam", "ncii"), else other. Callers pass no label for an entry a
    feed brought: a feed's labels must not choose a case's category and priority."""
    if child_abuse:
        return Category.CHILD_SEXUAL_ABUSE
    if bank_name.startswith("confirmed-"):
        named = bank_name.removeprefix("confirmed-")
        if named in Category.__members__.values():
            return Category(named)
    for word in _LABEL_WORDS.split(label.lower()):
        name = CASE_CATEGORIES.get(word, word)
        if name in Category.__members__.values() and name != Category.OTHER.value:
            return Category(name)
    return Category.OTHER


def open_case(
    session: Session,
    content: Content,
    hit: Hit,
    entry: PendingEntry,
    bank: BankRule,
    policy: Policy,
    now: datetime,
) -> Case:
    """A case about one item already on the platform that a new entry matches: removed when
    the bank blocks and the match is close, else restricted for a person's look; P0 with a
    CyberTipline draft when the bank is a child-abuse bank."""
    child = bank.name in policy.child_abuse_banks
    category = category_for("" if entry.from_feed else entry.label, child, bank.name)
    plan = triage(policy, category, MinorDepicted.NO, child_abuse_match=child)
    close = hit.signal_type not in PDQ_TYPES or hit.distance <= policy.auto_remove_distance
    remove = bank.action == "block" and close
    case = Case(
        state=(CaseState.ACTIONED if remove else CaseState.RESTRICTED).value,
        priority=plan.priority.value,
        queue=plan.queue.value,
        category=category.value,
        minor_alleged=False,
        unresolved=False,
        takedown_request=False,
        created_at=now,
        updated_at=now,
        decided_at=now if remove else None,
    )
    session.add(case)
    session.flush()
    link = CaseContent(
        case_id=case.id,
        content_pk=content.id,
        role="reported",
        match_type=hit.signal_type,
        distance=hit.distance,
        added_at=now,
    )
    session.add(link)
    session.flush()
    if remove:
        emit(
            session,
            ActionKind.REMOVE,
            content_id=content.content_id,
            case_id=str(case.id),
            reason="retro_scan_match",
            data={"category": category.value, "bank": bank.name},
        )
        content.status = link.status = "removed"
        content.updated_at = now
    else:
        start_clocks(session, case.id, plan_clocks(policy, plan.priority, False, now))
        restrict_content(session, case, [content.id], now, reason="retro_scan_match")
    if child:
        cybertip.open_draft(session, case, policy, now)
    record(
        session,
        SYSTEM,
        "content.retro_match",
        f"case:{case.id}",
        {
            "content": content.content_id,
            "bank": bank.name,
            "entry": entry.id,
            "signal_type": hit.signal_type,
            "distance": hit.distance,
            "outcome": "removed" if remove else "restricted",
        },
    )
    return case


@dataclass(frozen=True)
class ScanLine:
    """A retro-scan as the console and the API tell it."""

    id: int
    bank: str
    exchange: str | None
    entries: int
    signals_checked: int
    matched: int
    skipped: int
    entries_added_at: datetime
    finished_at: datetime

    @property
    def summary(self) -> str:
        items = "1 item" if self.matched == 1 else f"{self.matched} items"
        source = f"the {self.exchange} list" if self.exchange else f"bank {self.bank}"
        verb = "fetched" if self.exchange else "added"
        entries = "1 new entry" if self.entries == 1 else f"{self.entries} new entries"
        when = self.entries_added_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        also = f" ({self.skipped} already handled)" if self.skipped else ""
        return (
            f"{items} already on the platform matched {source} {verb} at {when}"
            f" ({entries} into {self.bank}){also}"
        )


def recent_scans(
    session: Session, *, limit: int = 20, bank: str | None = None, only_matched: bool = False
) -> list[ScanLine]:
    query = (
        select(RetroScan, Bank.name, Exchange.name)
        .join(Bank, Bank.id == RetroScan.bank_id)
        .outerjoin(Exchange, Exchange.id == RetroScan.exchange_id)
        .order_by(RetroScan.id.desc())
        .limit(limit)
    )
    if bank is not None:
        query = query.where(Bank.name == bank)
    if only_matched:
        query = query.where(RetroScan.matched > 0)
    return [
        ScanLine(
            scan.id,
            bank_name,
            exchange_name,
            scan.entries,
            scan.signals_checked,
            scan.matched,
            scan.skipped,
            scan.entries_added_at,
            scan.finished_at,
        )
        for scan, bank_name, exchange_name in session.execute(query).all()
    ]


def run_until(db: Database, policy: Policy, interval_s: float, stop: threading.Event) -> None:
    """The worker's retro-scan loop: scan what arrived, publish what is shared, wait; errors
    are logged and retried next round, never fatal (a failing scan never stops the worker)."""
    while not stop.is_set():
        try:
            for report in scan_pending(db, policy, stop=stop):
                if report.cases:
                    log.info("retro-scan opened cases", extra={"cases": len(report.cases)})
            with db.write() as session:
                sharing.publish(session, datetime.now(UTC))
        except Exception:
            log.exception("retro-scan round failed; retrying")
        stop.wait(interval_s)
