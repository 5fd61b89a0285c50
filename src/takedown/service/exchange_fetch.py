"""Fetching exchanges into their banks: streamed pages, one transaction per page, resumable.

Each page the client yields is written in one transaction together with the page's
checkpoint, so an interrupted fetch (a crash, a 5xx mid-feed, the worker stopping) resumes
after the last written page and never writes a page twice or half. Memory is bounded by one
page: the feed is never held whole.

Entries are keyed by (exchange, external id, signal type). An entry the feed withdraws (marked
removed, or, for a feed whose every version is the whole list, missing from a version read to
its end: ``FeedPage.snapshot``) is disabled and marked ``feed_removed``; if the feed lists it
again it is enabled again. An
entry a person disabled (``enabled`` false, not ``feed_removed``) stays disabled whatever
the feed says. Changes to existing entries go to ``bank_changes`` in the same transaction,
so that every API worker's index follows; new entries are found by id (``store.db.serialize``).

A fetch holds a lease on its exchange (``lease_until``, renewed per page) so that the
worker's schedule and an on-demand fetch never run the same exchange twice at once.
Failures never leave this module: they are recorded on the exchange (code, back-off, next
attempt) and returned, so that one failing exchange cannot stop the others or the API.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx
from sqlalchemy import CursorResult, insert, or_, select, update
from sqlalchemy.orm import Session

from takedown import exchanges
from takedown.actions.addresses import Networks
from takedown.audit.log import SYSTEM, record
from takedown.exchanges import (
    ExchangeAuthError,
    ExchangeError,
    ExchangeSettings,
    ExchangeUnavailable,
    FeedEntry,
    FeedPage,
)
from takedown.exchanges.guard import DEFAULT_NETWORKS, GuardedClient
from takedown.service.exchange_secrets import CredentialsUnreadable, kind_scope, unseal
from takedown.store.db import Database, serialize
from takedown.store.models import Bank, BankChange, BankEntry, Exchange, ExchangeApiCredentials

log = logging.getLogger("takedown.exchanges")

LEASE = timedelta(minutes=5)
RUN_PAGES = 2_000  # one run's share: the rest is fetched by the next run, from the checkpoint
RUN_ENTRIES = 2_000_000
RUN_TIME = timedelta(minutes=20)
READ_AHEAD = 2
BACKOFF_FIRST_S = 30.0
BACKOFF_MAX_S = 6 * 3600.0
_LOOKUP_CHUNK = 2000
_LABEL_MAX = 2000
_EXTERNAL_ID_MAX = 200

# states an exchange is shown in
IDLE, FETCHING, BACKOFF, AUTH_FAILED = "idle", "fetching", "backoff", "auth_failed"


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class FetchResult:
    """What one fetch did. ``status``: done, failed (will be retried), stopped (credentials
    refused: waits for new ones), busy (another fetch holds the exchange), interrupted."""

    exchange: str
    status: str
    pages: int = 0
    added: int = 0
    removed: int = 0
    updated: int = 0
    error: str = ""
    retry_at: datetime | None = None


@dataclass(frozen=True)
class _Claim:
    exchange_id: int
    bank_id: int
    settings: ExchangeSettings
    credentials: str
    checkpoint: str | None
    started_at: datetime | None = None  # the run's token: its ``run_started_at``
    sealed_to: str = ""
    """What ``credentials`` are sealed to: the exchange's name, or its kind's (``kind_scope``)
    where the exchange has none of its own and its kind has."""


class LeaseLost(Exception):
    """Another fetch took the exchange over (this run's lease ran out while it read): this
    run writes nothing more and leaves the exchange to the new holder."""


@dataclass
class _PageCounts:
    added: int = 0
    removed: int = 0
    updated: int = 0


Progress = Callable[[int, int], None]
"""Called after each written page with (entries written in this run, pages)."""


def backoff_s(failures: int, retry_after: float | None) -> float:
    """Exponential back-off from 30 s to 6 h; an exchange's own Retry-After wins when longer."""
    wait = min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2.0 ** min(20, max(0, failures - 1)))
    if retry_after is not None:
        wait = max(wait, min(retry_after, BACKOFF_MAX_S))
    return wait


def due(db: Database, now: datetime) -> list[str]:
    """Enabled exchanges whose next attempt has come and that no fetch holds."""
    with db.read() as session:
        rows = session.execute(
            select(Exchange.name)
            .where(
                Exchange.enabled.is_(True),
                Exchange.state != AUTH_FAILED,
                or_(Exchange.next_attempt_at.is_(None), Exchange.next_attempt_at <= now),
                or_(Exchange.lease_until.is_(None), Exchange.lease_until <= now),
            )
            .order_by(Exchange.next_attempt_at, Exchange.id)
        ).all()
    return [name for (name,) in rows]


def _claim(db: Database, name: str, now: datetime, *, force: bool) -> _Claim | FetchResult:
    """Take the exchange's lease, or say why not (busy, or stopped by refused credentials)."""
    with db.write() as session:
        row = session.execute(select(Exchange).where(Exchange.name == name)).scalar_one_or_none()
        if row is None:
            raise KeyError(name)
        if row.lease_until is not None and row.lease_until > now:
            return FetchResult(name, "busy")
        if row.state == AUTH_FAILED and not force:
            return FetchResult(name, "stopped", error=row.last_error)
        row.lease_until = now + LEASE
        row.state = FETCHING
        row.last_attempt_at = now
        row.run_started_at = now
        row.run_entries = 0
        bank = session.get(Bank, row.bank_id)
        assert bank is not None
        settings = ExchangeSettings(
            name=row.name,
            kind=row.kind,
            bank=bank.name,
            options={str(k): str(v) for k, v in (row.options or {}).items()},
        )
        sealed, sealed_to = row.credentials, row.name
        if not sealed:
            shared = session.get(ExchangeApiCredentials, row.kind)
            if shared is not None and shared.credentials:
                sealed, sealed_to = shared.credentials, kind_scope(row.kind)
        return _Claim(row.id, row.bank_id, settings, sealed, row.checkpoint, now, sealed_to)


def fetch_exchange(
    db: Database,
    name: str,
    *,
    secret: str,
    http: httpx.Client | None = None,
    stop: threading.Event | None = None,
    progress: Progress | None = None,
    now: Callable[[], datetime] = utcnow,
    force: bool = False,
    networks: Networks = DEFAULT_NETWORKS,
) -> FetchResult:
    """Fetch one exchange from its checkpoint to the end of its feed (or until ``stop``).

    ``force`` (an admin's on-demand fetch) also tries an exchange whose credentials were
    refused. Raises KeyError only for an unknown name; every other failure is recorded on the
    exchange and returned."""
    claim = _claim(db, name, now(), force=force)
    if isinstance(claim, FetchResult):
        return claim
    own_http = http is None
    client_http = http or GuardedClient(networks)
    pages = written = 0
    started = now()
    totals = _PageCounts()
    try:
        kind = exchanges.kind_named(claim.settings.kind)
        credentials = unseal(secret, claim.sealed_to or name, claim.credentials)
        client = kind.build(claim.settings, credentials, client_http)
        for page in _read_ahead(client.fetch(claim.checkpoint)):
            counts = _write_page(db, claim, page, now())
            pages += 1
            written += len(page.entries)
            totals.added += counts.added
            totals.removed += counts.removed
            totals.updated += counts.updated
            if progress is not None:
                progress(written, pages)
            if stop is not None and stop.is_set() and page.more:
                _release(db, claim, state=IDLE, next_at=now())
                return FetchResult(name, "interrupted", pages, totals.added, totals.removed)
            if page.more and (
                pages >= RUN_PAGES or written >= RUN_ENTRIES or now() - started >= RUN_TIME
            ):
                log.info("exchange run bounded; resuming next run", extra={"exchange": name})
                _release(db, claim, state=IDLE, next_at=now())
                return FetchResult(name, "interrupted", pages, totals.added, totals.removed)
    except LeaseLost:
        log.warning("exchange fetch lost its lease", extra={"exchange": name})
        return FetchResult(name, "busy", pages, totals.added, totals.removed)
    except (ExchangeAuthError, CredentialsUnreadable) as exc:
        code = exc.code
        log.warning("exchange credentials refused", extra={"exchange": name, "code": code})
        _failed(db, claim, code, now(), retry_at=None)
        return FetchResult(name, "stopped", pages, totals.added, totals.removed, error=code)
    except ExchangeUnavailable as exc:
        return _retry_later(db, claim, exc.code, exc.retry_after, now(), pages, totals)
    except ExchangeError as exc:
        log.warning("exchange fetch failed: %s", exc, extra={"exchange": name, "code": exc.code})
        return _retry_later(db, claim, exc.code, None, now(), pages, totals)
    except Exception:
        log.exception("exchange fetch failed", extra={"exchange": name})
        return _retry_later(db, claim, "internal_error", None, now(), pages, totals)
    finally:
        if own_http:
            client_http.close()
    _succeeded(db, claim, now())
    return FetchResult(name, "done", pages, totals.added, totals.removed, totals.updated)


_END = object()


def _read_ahead(pages: Iterator[FeedPage]) -> Iterator[FeedPage]:
    """The client's pages, read on a thread up to ``READ_AHEAD`` pages ahead of the one being
    written, so that the exchange's network and parsing overlap the database's work. Memory
    stays bounded (a few pages); an error of the client is raised here, in page order."""
    ahead: queue.Queue[object] = queue.Queue(maxsize=READ_AHEAD)
    done = threading.Event()

    def put(item: object) -> bool:
        while not done.is_set():
            try:
                ahead.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            for page in pages:
                if not put(page):
                    return
            put(_END)
        except BaseException as exc:  # handed to the writing thread, raised there
            put(exc)
        finally:
            close = getattr(pages, "close", None)
            if close is not None:
                close()

    reader = threading.Thread(target=read, name="exchange-read-ahead", daemon=True)
    reader.start()
    try:
        while True:
            item = ahead.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield cast(FeedPage, item)
    finally:
        done.set()
        reader.join(timeout=30)


def _retry_later(
    db: Database,
    claim: _Claim,
    code: str,
    retry_after: float | None,
    at: datetime,
    pages: int,
    totals: _PageCounts,
) -> FetchResult:
    with db.read() as session:
        failures = (
            session.execute(
                select(Exchange.failures).where(Exchange.id == claim.exchange_id)
            ).scalar_one()
            + 1
        )
    retry_at = at + timedelta(seconds=backoff_s(failures, retry_after))
    log.warning(
        "exchange unavailable; retrying later",
        extra={"exchange": claim.settings.name, "code": code, "retry_at": retry_at.isoformat()},
    )
    _failed(db, claim, code, at, retry_at=retry_at)
    return FetchResult(
        claim.settings.name,
        "failed",
        pages,
        totals.added,
        totals.removed,
        totals.updated,
        error=code,
        retry_at=retry_at,
    )


def _release(db: Database, claim: _Claim, *, state: str, next_at: datetime | None) -> None:
    with db.write() as session:
        session.execute(
            update(Exchange)
            .where(Exchange.id == claim.exchange_id)
            .values(state=state, lease_until=None, next_attempt_at=next_at)
        )


def _failed(
    db: Database, claim: _Claim, code: str, at: datetime, *, retry_at: datetime | None
) -> None:
    with db.write() as session:
        session.execute(
            update(Exchange)
            .where(Exchange.id == claim.exchange_id)
            .values(
                state=BACKOFF if retry_at is not None else AUTH_FAILED,
                lease_until=None,
                next_attempt_at=retry_at,
                last_error=code[:60],
                last_error_at=at,
                failures=Exchange.failures + 1,
                errors_total=Exchange.errors_total + 1,
            )
        )
        record(
            session,
            SYSTEM,
            "exchange.fetch_failed",
            f"exchange:{claim.settings.name}",
            {"code": code, "retry_at": retry_at.isoformat() if retry_at else None},
        )


def _succeeded(db: Database, claim: _Claim, at: datetime) -> None:
    with db.write() as session:
        row = session.get(Exchange, claim.exchange_id)
        if row is None:
            return
        row.state = IDLE
        row.lease_until = None
        row.last_success_at = at
        row.last_error = ""
        row.failures = 0
        row.next_attempt_at = at + timedelta(seconds=row.schedule_s)


# ---- writing one page ----


def _external_id(entry: FeedEntry) -> str:
    return entry.external_id[:_EXTERNAL_ID_MAX]


def _label(entry: FeedEntry) -> str:
    return ",".join(entry.labels)[:_LABEL_MAX]


_LOOKUP_PG = (
    "SELECT id, external_id, signal_type, value, label, enabled, feed_removed FROM bank_entries "
    "WHERE exchange_id = %s AND external_id = ANY(%s)"
)
_LOOKUP_SQLITE = (
    "SELECT id, external_id, signal_type, value, label, enabled, feed_removed FROM bank_entries "
    "WHERE exchange_id = ? AND external_id IN (SELECT value FROM json_each(?))"
)
_INSERT_SQLITE = (
    "INSERT INTO bank_entries (bank_id, signal_type, value, label, source, external_id, "
    "enabled, added_at, added_by, transform, exchange_id, feed_removed, feed_seen) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


@dataclass(frozen=True)
class _Stored:
    id: int
    value: str
    label: str
    enabled: bool
    feed_removed: bool


def _existing(
    session: Session, exchange_id: int, keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], _Stored]:
    """The stored entries of these (external id, signal type) keys, through the driver: at a
    million entries SQLAlchemy's statement building would cost more than the lookups."""
    ids = sorted({external_id for external_id, _ in keys})
    connection = session.connection()
    found: dict[tuple[str, str], _Stored] = {}
    for start in range(0, len(ids), _LOOKUP_CHUNK):
        chunk = ids[start : start + _LOOKUP_CHUNK]
        if connection.dialect.name == "postgresql":
            rows = connection.exec_driver_sql(_LOOKUP_PG, (exchange_id, chunk)).all()
        else:
            rows = connection.exec_driver_sql(
                _LOOKUP_SQLITE, (exchange_id, json.dumps(chunk))
            ).all()
        for entry_id, external_id, signal_type, value, label, enabled, removed in rows:
            found[(external_id, signal_type)] = _Stored(
                entry_id, value, label, bool(enabled), bool(removed)
            )
    return found


def _write_page(db: Database, claim: _Claim, page: FeedPage, at: datetime) -> _PageCounts:
    """Apply one page and store its checkpoint, all in one transaction."""
    latest: dict[tuple[str, str], FeedEntry] = {}
    for entry in page.entries:
        latest[(_external_id(entry), entry.signal_type)] = entry
    counts = _PageCounts()
    with db.write() as session:
        serialize(session)
        stored = _existing(session, claim.exchange_id, latest) if latest else {}
        new_rows: list[Row] = []
        stored_at = _stored_time(session, at)
        changed: list[int] = []
        source = f"exchange:{claim.settings.name}"
        for key, entry in latest.items():
            row = stored.get(key)
            if row is None:
                if not entry.removed:
                    new_rows.append(_new_row(claim, key, entry, source, stored_at, page.snapshot))
                continue
            values = _changes(row, entry)
            if values:
                session.execute(update(BankEntry).where(BankEntry.id == row.id).values(**values))
                changed.append(row.id)
                if values.get("feed_removed") is True:
                    counts.removed += 1
                elif values.get("feed_removed") is False:
                    counts.added += 1
                else:
                    counts.updated += 1
        if new_rows:
            new_rows = _keep_local_disables(session, claim.bank_id, new_rows)
        _insert(session, new_rows)
        counts.added += len(new_rows)
        if page.snapshot is not None:
            _mark_seen(session, [row.id for row in stored.values()], page.snapshot)
            if page.snapshot_complete:
                gone = _not_seen(session, claim.exchange_id, page.snapshot)
                changed += gone
                counts.removed += len(gone)
        if changed:
            session.execute(
                insert(BankChange),
                [
                    {"bank_id": claim.bank_id, "entry_id": i, "kind": "entry", "at": at}
                    for i in changed
                ],
            )
        renewed = session.execute(
            update(Exchange)
            .where(Exchange.id == claim.exchange_id, Exchange.run_started_at == claim.started_at)
            .values(
                checkpoint=page.checkpoint,
                lease_until=at + LEASE,
                entries_added=Exchange.entries_added + counts.added,
                entries_removed=Exchange.entries_removed + counts.removed,
                run_entries=Exchange.run_entries + len(page.entries),
            )
        )
        if cast(CursorResult[Any], renewed).rowcount != 1:
            raise LeaseLost(claim.settings.name)  # rolls the whole page back
        if counts.added or counts.removed or counts.updated:
            record(
                session,
                SYSTEM,
                "exchange.page",
                f"exchange:{claim.settings.name}",
                {"added": counts.added, "removed": counts.removed, "updated": counts.updated},
            )
    return counts


def _mark_seen(session: Session, entry_ids: Sequence[int], snapshot: str) -> None:
    """The page's stored entries are listed by this version of the whole-list feed."""
    for start in range(0, len(entry_ids), _LOOKUP_CHUNK):
        session.execute(
            update(BankEntry)
            .where(BankEntry.id.in_(entry_ids[start : start + _LOOKUP_CHUNK]))
            .values(feed_seen=snapshot)
        )


def _not_seen(session: Session, exchange_id: int, snapshot: str) -> list[int]:
    """Withdraw the exchange's enabled entries that this version, read whole, no longer lists
    (a person's disable is left as it is); their ids, for ``bank_changes``."""
    gone = list(
        session.execute(
            select(BankEntry.id).where(
                BankEntry.exchange_id == exchange_id,
                BankEntry.enabled.is_(True),
                or_(BankEntry.feed_seen.is_(None), BankEntry.feed_seen != snapshot),
            )
        ).scalars()
    )
    for start in range(0, len(gone), _LOOKUP_CHUNK):
        session.execute(
            update(BankEntry)
            .where(BankEntry.id.in_(gone[start : start + _LOOKUP_CHUNK]))
            .values(enabled=False, feed_removed=True)
        )
    return gone


def _changes(row: _Stored, entry: FeedEntry) -> dict[str, object]:
    """What to change on a stored entry the feed lists again (nothing for a person's disable)."""
    values: dict[str, object] = {}
    if entry.removed:
        if row.enabled:
            values.update(enabled=False, feed_removed=True)
        return values
    if row.feed_removed:
        # back on: scanned against existing content again (skipped while it was off)
        values.update(enabled=True, feed_removed=False, retro_scanned_at=None)
    if row.value != entry.value:
        values["value"] = entry.value
    label = _label(entry)
    if row.label != label:
        values["label"] = label
    return values


Row = tuple[object, ...]
"""A new entry's values in ``_COPY_COLUMNS`` order."""

_ENABLED = 6  # ``enabled`` in ``_COPY_COLUMNS``


def _keep_local_disables(session: Session, bank_id: int, rows: list[Row]) -> list[Row]:
    """A hash a person disabled in this bank (a false positive) stays off when the feed
    brings it again under another id: the new row is stored disabled. Withdrawals by the
    feed (``feed_removed``) are not a person's decision and do not count."""
    values = sorted({str(row[2]) for row in rows})
    off: set[tuple[str, str]] = set()
    for start in range(0, len(values), _LOOKUP_CHUNK):
        found = session.execute(
            select(BankEntry.signal_type, BankEntry.value).where(
                BankEntry.bank_id == bank_id,
                BankEntry.value.in_(values[start : start + _LOOKUP_CHUNK]),
                BankEntry.enabled.is_(False),
                BankEntry.feed_removed.is_(False),
            )
        ).all()
        off.update((str(t), str(v)) for t, v in found)
    if not off:
        return rows
    return [
        (*row[:_ENABLED], False, *row[_ENABLED + 1 :]) if (row[1], row[2]) in off else row
        for row in rows
    ]


def _new_row(
    claim: _Claim,
    key: tuple[str, str],
    entry: FeedEntry,
    source: str,
    at: object,
    snapshot: str | None,
) -> Row:
    return (
        claim.bank_id,
        entry.signal_type,
        entry.value,
        _label(entry),
        source,
        key[0],
        True,
        at,
        source,
        "",
        claim.exchange_id,
        False,
        snapshot,
    )


_COPY_COLUMNS = (
    "bank_id",
    "signal_type",
    "value",
    "label",
    "source",
    "external_id",
    "enabled",
    "added_at",
    "added_by",
    "transform",
    "exchange_id",
    "feed_removed",
    "feed_seen",
)


def _stored_time(session: Session, at: datetime) -> object:
    """``at`` as the driver takes it: SQLite keeps SQLAlchemy's text form of the UTC time."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        return at
    to_db = BankEntry.__table__.c.added_at.type.bind_processor(connection.dialect)
    return to_db(at) if to_db else at


def _insert(session: Session, rows: Sequence[Row]) -> None:
    """COPY on PostgreSQL, the driver's executemany on SQLite (per-row statements through the
    ORM bound a million-entry feed); both inside the page's transaction."""
    if not rows:
        return
    connection = session.connection()
    driver = connection.connection.driver_connection
    if connection.dialect.name != "postgresql":
        driver.executemany(_INSERT_SQLITE, rows)  # type: ignore[union-attr]
        return
    statement = f"COPY bank_entries ({', '.join(_COPY_COLUMNS)}) FROM STDIN"
    with driver.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[union-attr]
        for row in rows:
            copy.write_row(row)
