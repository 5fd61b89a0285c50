"""Sharing confirmed hashes back: opt-in per category and per target, and the publisher.

A target is ``feed`` (takedown's own signed feed, ``GET /v1/exchange/feed``) or the name of a
configured exchange. Nothing is shared until an admin switches a category on for a target.

What is shared are the as-posted hashes of items this platform's reviewers confirmed (entries
of the ``confirmed-<category>`` banks that a case put there; not the turn and crop variants a
confirmation adds for its own matching), one event per change of what the target holds: added
when the first such entry of a hash is enabled, removed when the last one is disabled (a
confirmation reversed on appeal, an entry disabled by hand). Removals are published whatever
the settings say now, so that a target never keeps a hash this platform withdrew. Switching a
category on shares the confirmations made before too; switching it off stops new ones.

The publisher follows bank entries and ``bank_changes`` from cursors, under the log lock, so
a worker round and a feed request publishing at once never write an event twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from takedown.audit.log import record
from takedown.cases.vocabulary import Category
from takedown.exchanges.feed_format import FEED_CATEGORIES as FEED_WORDS
from takedown.exchanges.feed_format import FeedItem, WirePage, page_of
from takedown.service.cases import confirmed_bank_name
from takedown.store.db import serialize
from takedown.store.models import (
    Bank,
    BankChange,
    BankEntry,
    Exchange,
    FeedCursor,
    FeedEvent,
    ShareRule,
)

FEED_TARGET = "feed"
CATEGORIES = tuple(c.value for c in Category)
_CURSOR_ID = 1
_BATCH = 5000


class SharingError(ValueError):
    def __init__(self, code: str, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


@dataclass(frozen=True)
class ShareSetting:
    target: str
    category: str
    enabled: bool
    updated_at: datetime | None
    updated_by: str


def targets(session: Session) -> list[str]:
    """``feed`` and every configured exchange, in that order."""
    names = session.execute(select(Exchange.name).order_by(Exchange.name)).scalars()
    return [FEED_TARGET, *names]


def settings(session: Session) -> list[ShareSetting]:
    """Every (target, category), switched on or off (off when never set)."""
    rules = {(r.target, r.category): r for r in session.execute(select(ShareRule)).scalars()}
    out = []
    for target in targets(session):
        for category in CATEGORIES:
            rule = rules.get((target, category))
            out.append(
                ShareSetting(
                    target,
                    category,
                    bool(rule and rule.enabled),
                    rule.updated_at if rule else None,
                    rule.updated_by if rule else "",
                )
            )
    return out


def shared_categories(session: Session, target: str) -> set[str]:
    rows = session.execute(
        select(ShareRule.category).where(ShareRule.target == target, ShareRule.enabled.is_(True))
    ).scalars()
    return set(rows)


def set_sharing(
    session: Session, target: str, category: str, enabled: bool, *, actor: str, now: datetime
) -> ShareSetting:
    """Switch one category on or off for one target; switching on publishes the category's
    earlier confirmations at once."""
    if category not in CATEGORIES:
        raise SharingError("invalid_field", f"category must be one of {', '.join(CATEGORIES)}")
    if target not in targets(session):
        raise SharingError(
            "target_not_found", f"no exchange named {target!r}; use 'feed' or an exchange", 404
        )
    serialize(session)
    rule = session.execute(
        select(ShareRule).where(ShareRule.target == target, ShareRule.category == category)
    ).scalar_one_or_none()
    if rule is None:
        rule = ShareRule(target=target, category=category)
        session.add(rule)
    changed = rule.enabled != enabled
    rule.enabled, rule.updated_at, rule.updated_by = enabled, now, actor
    session.flush()
    if changed:
        record(
            session,
            actor,
            "sharing.enable" if enabled else "sharing.disable",
            f"sharing:{target}",
            {"category": category},
        )
        if enabled:
            _backfill(session, target, category, now)
    return ShareSetting(target, category, enabled, now, actor)


# ---- the publisher ----


def _key(category: str, signal_type: str, value: str) -> str:
    return hashlib.sha256(f"{category}\n{signal_type}\n{value}".encode()).hexdigest()


def _confirmed_category(bank_name: str) -> str | None:
    for category in CATEGORIES:
        if bank_name == confirmed_bank_name(category):
            return category
    return None


def _confirmed_banks(session: Session) -> dict[int, str]:
    """Bank id -> category of the banks confirmations fill."""
    found = {}
    for bank_id, name in session.execute(select(Bank.id, Bank.name)).all():
        category = _confirmed_category(name)
        if category is not None:
            found[bank_id] = category
    return found


SHAREABLE = (BankEntry.case_id.is_not(None), BankEntry.transform == "")
"""Entries a case put into a confirmed bank, as posted (no turn or crop variant)."""


def _published(session: Session, target: str, keys: Iterable[str]) -> set[str]:
    """Of these keys, those the target holds now (their latest event is an addition)."""
    wanted = sorted(set(keys))
    held: set[str] = set()
    for start in range(0, len(wanted), 500):
        part = wanted[start : start + 500]
        latest = (
            select(FeedEvent.key, func.max(FeedEvent.seq).label("seq"))
            .where(FeedEvent.target == target, FeedEvent.key.in_(part))
            .group_by(FeedEvent.key)
            .subquery()
        )
        rows = session.execute(
            select(FeedEvent.key)
            .join(latest, FeedEvent.seq == latest.c.seq)
            .where(FeedEvent.removed.is_(False))
        ).scalars()
        held.update(rows)
    return held


def _append(
    session: Session,
    target: str,
    items: Sequence[tuple[str, str, str]],
    removed: bool,
    now: datetime,
) -> int:
    for category, signal_type, value in items:
        session.add(
            FeedEvent(
                target=target,
                key=_key(category, signal_type, value),
                signal_type=signal_type,
                value=value,
                category=category,
                removed=removed,
                at=now,
            )
        )
    session.flush()
    return len(items)


def _add_new(
    session: Session, target: str, items: Iterable[tuple[str, str, str]], now: datetime
) -> int:
    """Publish the items the target does not hold yet (each once)."""
    unique = {_key(*item): item for item in items}
    held = _published(session, target, unique)
    return _append(
        session, target, [item for k, item in unique.items() if k not in held], False, now
    )


def _backfill(session: Session, target: str, category: str, now: datetime) -> int:
    bank = session.execute(
        select(Bank.id).where(Bank.name == confirmed_bank_name(category))
    ).scalar_one_or_none()
    if bank is None:
        return 0
    rows = session.execute(
        select(BankEntry.signal_type, BankEntry.value)
        .where(*SHAREABLE, BankEntry.bank_id == bank, BankEntry.enabled.is_(True))
        .order_by(BankEntry.id)
    ).all()
    return _add_new(session, target, [(category, t, v) for t, v in rows], now)


def _cursor(session: Session) -> FeedCursor:
    cursor = session.get(FeedCursor, _CURSOR_ID)
    if cursor is None:
        cursor = FeedCursor(id=_CURSOR_ID, entry_cursor=0, change_cursor=0)
        session.add(cursor)
        session.flush()
    return cursor


def publish(session: Session, now: datetime) -> int:
    """Bring every target's events up to date with the confirmed banks; returns how many
    events were written. Takes the log lock (entry ids are then final up to the top)."""
    serialize(session)
    cursor = _cursor(session)
    banks = _confirmed_banks(session)
    rules = {
        (r.target, r.category) for r in session.execute(select(ShareRule)).scalars() if r.enabled
    }
    written = 0
    top = session.execute(select(func.coalesce(func.max(BankEntry.id), 0))).scalar_one()
    if banks and top > cursor.entry_cursor:
        rows = session.execute(
            select(BankEntry.bank_id, BankEntry.signal_type, BankEntry.value)
            .where(
                *SHAREABLE,
                BankEntry.id > cursor.entry_cursor,
                BankEntry.id <= top,
                BankEntry.enabled.is_(True),
                BankEntry.bank_id.in_(banks),
            )
            .order_by(BankEntry.id)
        ).all()
        for target, category in sorted(rules):
            items = [(category, t, v) for b, t, v in rows if banks[b] == category]
            written += _add_new(session, target, items, now)
    cursor.entry_cursor = max(cursor.entry_cursor, top)
    changes = session.execute(
        select(BankChange.seq, BankChange.entry_id)
        .where(BankChange.seq > cursor.change_cursor, BankChange.kind == "entry")
        .order_by(BankChange.seq)
    ).all()
    if changes:
        written += _follow_changes(
            session, [e for _, e in changes if e is not None], banks, rules, now
        )
    last = session.execute(select(func.coalesce(func.max(BankChange.seq), 0))).scalar_one()
    cursor.change_cursor = max(cursor.change_cursor, last)
    return written


def _follow_changes(
    session: Session,
    entry_ids: Sequence[int],
    banks: dict[int, str],
    rules: set[tuple[str, str]],
    now: datetime,
) -> int:
    """Entries enabled or disabled since: a hash with no enabled confirmed entry left is
    removed from every target holding it; one enabled again is added where shared."""
    changed = session.execute(
        select(BankEntry.bank_id, BankEntry.signal_type, BankEntry.value).where(
            *SHAREABLE,
            BankEntry.id.in_(sorted(set(entry_ids))),
            BankEntry.bank_id.in_(banks),
        )
    ).all()
    written = 0
    hashes = {(banks[b], t, v) for b, t, v in changed}
    still = set()
    for category, signal_type, value in hashes:
        bank_ids = [b for b, c in banks.items() if c == category]
        enabled = session.execute(
            select(BankEntry.id)
            .where(
                *SHAREABLE,
                BankEntry.bank_id.in_(bank_ids),
                BankEntry.signal_type == signal_type,
                BankEntry.value == value,
                BankEntry.enabled.is_(True),
            )
            .limit(1)
        ).first()
        if enabled is not None:
            still.add((category, signal_type, value))
    gone = sorted(hashes - still)
    every_target = set(session.execute(select(FeedEvent.target).distinct()).scalars()) | {
        t for t, _ in rules
    }
    for target in sorted(every_target):
        held = _published(session, target, [_key(*item) for item in gone])
        written += _append(session, target, [i for i in gone if _key(*i) in held], True, now)
        shared = {c for t, c in rules if t == target}
        written += _add_new(session, target, [i for i in still if i[0] in shared], now)
    return written


def parse_cursor(text: str | None) -> int:
    """A feed cursor as given (``after=``): "" or absent is the start; else the decimal
    sequence of an event. Raises SharingError(code="invalid_cursor")."""
    if not text:
        return 0
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        raise SharingError("invalid_cursor", "after must be a cursor this feed gave (digits)")
    return int(text)


def page(session: Session, target: str, after: str, limit: int) -> WirePage:
    """One page of a target's events after cursor ``after`` (as given), in the feed's wire
    form; ``next`` is the last entry's cursor, or ``after`` itself when there is none."""
    rows = list(
        session.execute(
            select(FeedEvent)
            .where(FeedEvent.target == target, FeedEvent.seq > parse_cursor(after))
            .order_by(FeedEvent.seq)
            .limit(limit + 1)
        ).scalars()
    )
    items = [
        FeedItem(
            cursor=str(row.seq),
            signal_type=row.signal_type,
            value=row.value,
            category=FEED_WORDS.get(row.category, row.category),
            removed=row.removed,
            at=row.at,
        )
        for row in rows[:limit]
    ]
    return page_of(items, after, len(rows) > limit)


def feed_counts(session: Session, target: str = FEED_TARGET) -> tuple[int, int]:
    """(hashes the target holds now, events written): for the console."""
    events = session.execute(
        select(func.count()).select_from(FeedEvent).where(FeedEvent.target == target)
    ).scalar_one()
    keys = session.execute(
        select(FeedEvent.key).where(FeedEvent.target == target).distinct()
    ).scalars()
    return len(_published(session, target, list(keys))), int(events)
