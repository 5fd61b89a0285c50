"""Sending an exchange the hashes this platform shares with it (sharing back).

The sharing settings (``service.sharing``) decide what an exchange gets: per category, with the
exchange's name as the target, the publisher appends feed events (a confirmed hash added, or
withdrawn). This module sends those events to the exchange through its kind's ``share`` (NCMEC
feedback, StopNCII feedback, ThreatExchange descriptors), a page at a time, and moves the
exchange's ``share_cursor`` past what was sent. A hash the exchange's own feed brought carries
that entry's external id, which NCMEC's feedback needs. A failure leaves the cursor where it was
(the same events are sent again next time) and is recorded as ``share_error``; a kind without
``share`` takes nothing, so its events are passed over.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import httpx
from sqlalchemy import select

from takedown import exchanges
from takedown.audit.log import SYSTEM, record
from takedown.exchanges import ExchangeError, ExchangeSettings, SharedEntry, ShareResult
from takedown.exchanges.feed_format import FeedItem
from takedown.service import sharing
from takedown.service.exchange_secrets import CredentialsUnreadable, unseal
from takedown.store.db import Database
from takedown.store.models import Bank, BankEntry, Exchange

log = logging.getLogger("takedown.exchanges")

PAGE = 500


@dataclass(frozen=True)
class ShareRun:
    """What one send did: events sent, the exchange's answer, or the error code."""

    exchange: str
    sent: int = 0
    accepted: int = 0
    rejected: int = 0
    error: str = ""


@dataclass(frozen=True)
class _Pending:
    settings: ExchangeSettings
    credentials: str
    items: tuple[FeedItem, ...]
    next: str
    external_ids: dict[tuple[str, str], str]


def _pending(db: Database, name: str) -> _Pending | None:
    with db.read() as session:
        row = session.execute(select(Exchange).where(Exchange.name == name)).scalar_one_or_none()
        if row is None:
            raise KeyError(name)
        if not row.enabled:
            return None
        page = sharing.page(session, name, row.share_cursor, PAGE)
        if not page.entries:
            return None
        values = sorted({item.value for item in page.entries})
        found = session.execute(
            select(BankEntry.signal_type, BankEntry.value, BankEntry.external_id).where(
                BankEntry.exchange_id == row.id, BankEntry.value.in_(values)
            )
        ).all()
        bank = session.get(Bank, row.bank_id)
        settings = ExchangeSettings(
            row.name,
            row.kind,
            bank.name if bank is not None else "",
            {str(k): str(v) for k, v in (row.options or {}).items()},
        )
        return _Pending(
            settings,
            row.credentials,
            page.entries,
            page.next,
            {(t, v): e for t, v, e in found if e},
        )


def _entries(pending: _Pending) -> list[SharedEntry]:
    return [
        SharedEntry(
            item.signal_type,
            item.value,
            item.category,
            removed=item.removed,
            external_id=pending.external_ids.get((item.signal_type, item.value)),
        )
        for item in pending.items
    ]


def _finish(db: Database, name: str, run: ShareRun, cursor: str | None) -> ShareRun:
    with db.write() as session:
        row = session.execute(select(Exchange).where(Exchange.name == name)).scalar_one()
        if cursor is not None:
            row.share_cursor = cursor
            row.shared_total += run.accepted
        row.share_error = run.error[:60]
        record(
            session,
            SYSTEM,
            "exchange.share_failed" if run.error else "exchange.shared",
            f"exchange:{name}",
            {"sent": run.sent, "accepted": run.accepted, "rejected": run.rejected}
            | ({"code": run.error} if run.error else {}),
        )
    return run


def share_pending(
    db: Database, name: str, *, secret: str, http: httpx.Client, now: datetime
) -> list[ShareRun]:
    """Bring the shared events up to date (the publisher), then send the exchange every event
    shared with it since its cursor, a page at a time, until none is left or a send fails.
    Raises KeyError only for an unknown exchange."""
    with db.write() as session:
        sharing.publish(session, now)
    runs: list[ShareRun] = []
    while True:
        pending = _pending(db, name)
        if pending is None:
            return runs
        entries = _entries(pending)
        run = _send(pending, entries, secret, http)
        runs.append(_finish(db, name, run, None if run.error else pending.next))
        if run.error:
            return runs


def _send(
    pending: _Pending, entries: Sequence[SharedEntry], secret: str, http: httpx.Client
) -> ShareRun:
    name = pending.settings.name
    try:
        kind = exchanges.kind_named(pending.settings.kind)
        credentials = unseal(secret, name, pending.credentials)
        client = kind.build(pending.settings, credentials, http)
        share = getattr(client, "share", None)
        if share is None:  # this kind takes nothing back: pass its events over
            return ShareRun(name, sent=0, rejected=len(entries))
        result: ShareResult = share(entries)
    except (ExchangeError, CredentialsUnreadable) as exc:
        log.warning("sharing with an exchange failed", extra={"exchange": name, "code": exc.code})
        return ShareRun(name, sent=len(entries), error=exc.code)
    except Exception:
        log.exception("sharing with an exchange failed", extra={"exchange": name})
        return ShareRun(name, sent=len(entries), error="internal_error")
    return ShareRun(name, len(entries), result.accepted, result.rejected)
