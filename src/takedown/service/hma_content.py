"""The HMA API's records: integer content ids over bank entries, bank ratios and deletions.

HMA numbers each piece of banked content (one id for an image's hash, whatever takedown keeps
of its turns and crops) and its clients keep those numbers, so the ids are stored, not derived:
``hma_contents`` hands them out in order, ``hma_content_entries`` says which bank entries each
one groups. An entry added outside the HMA API (``/v1``, an import, an exchange, a case) gets
a content of its own the first time an HMA lookup reports it, and keeps that id from then on.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from takedown.api.hma import ids
from takedown.audit.log import record
from takedown.auth.accounts import AccountError
from takedown.matching import banks as bank_files
from takedown.service import banks as bank_service
from takedown.service import exchanges as exchange_service
from takedown.service.banks import BankError
from takedown.store.db import Database, serialize
from takedown.store.models import (
    ApiKey,
    Bank,
    BankChange,
    BankEntry,
    HmaBank,
    HmaClient,
    HmaContent,
    HmaContentEntry,
)

ENABLED = 1
DISABLED = 0


@dataclass(frozen=True)
class BankView:
    """A bank as HMA shows it."""

    id: int
    name: str
    matching_enabled_ratio: float

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "matching_enabled_ratio": self.matching_enabled_ratio}


def content_enabled(disable_until_ts: int, now: float | None = None) -> bool:
    """HMA's rule: 1 enabled, 0 disabled, else disabled until that Unix time."""
    if disable_until_ts == ENABLED:
        return True
    if disable_until_ts == DISABLED:
        return False
    return disable_until_ts <= (time.time() if now is None else now)


def _view(bank: Bank, row: HmaBank | None) -> BankView:
    ratio = row.matching_enabled_ratio if row is not None else 1.0
    if not bank.enabled:
        ratio = 0.0
    return BankView(bank.id, ids.hma_bank(bank.name), ratio)


def list_banks(session: Session) -> list[BankView]:
    rows = session.execute(
        select(Bank, HmaBank).outerjoin(HmaBank, HmaBank.bank_id == Bank.id).order_by(Bank.id)
    ).all()
    return [_view(bank, row) for bank, row in rows if row is None or row.deleted_at is None]


def find_bank(session: Session, hma_name: str) -> tuple[Bank, BankView] | None:
    """The bank an HMA name stands for (None for a deleted or unknown bank). Names are
    exact, as in HMA: ``CSAM_KNOWN`` is takedown's ``csam_known``; ``csam_known`` is nothing."""
    if hma_name != hma_name.upper():
        return None
    found = session.execute(
        select(Bank, HmaBank)
        .outerjoin(HmaBank, HmaBank.bank_id == Bank.id)
        .where(Bank.name == ids.takedown_bank(hma_name))
    ).first()
    if found is None:
        return None
    bank, row = found
    if row is not None and row.deleted_at is not None:
        return None
    return bank, _view(bank, row)


def _ratio_row(session: Session, bank: Bank) -> HmaBank:
    row = session.get(HmaBank, bank.id)
    if row is None:
        row = HmaBank(bank_id=bank.id, matching_enabled_ratio=1.0 if bank.enabled else 0.0)
        session.add(row)
    return row


def create_bank(session: Session, hma_name: str, ratio: float, actor: str) -> BankView:
    bank = bank_service.create_bank(
        session, ids.takedown_bank(hma_name), description="created through the HMA API", actor=actor
    )
    session.add(HmaBank(bank_id=bank.id, matching_enabled_ratio=ratio))
    if ratio <= 0:
        bank_service.update_bank(session, bank, actor=actor, enabled=False)
    session.flush()
    return BankView(bank.id, ids.hma_bank(bank.name), ratio)


def update_bank(
    session: Session, bank: Bank, *, new_name: str | None, ratio: float | None, actor: str
) -> BankView:
    row = _ratio_row(session, bank)
    if new_name is not None and ids.takedown_bank(new_name) != bank.name:
        target = ids.takedown_bank(new_name)
        if session.execute(select(Bank.id).where(Bank.name == target)).first():
            raise BankError("bank_exists", "Bank name already exists", 403)
        serialize(session)
        record(session, actor, "bank.rename", f"bank:{bank.name}", {"to": target})
        bank.name = target
        session.add(BankChange(bank_id=bank.id, kind="bank"))
    if ratio is not None:
        row.matching_enabled_ratio = ratio
        if (ratio > 0) != bank.enabled:
            bank_service.update_bank(session, bank, actor=actor, enabled=ratio > 0)
    session.flush()
    return _view(bank, row)


def delete_bank(session: Session, bank: Bank, actor: str) -> None:
    """HMA deletes a bank; takedown keeps its record: the bank is disabled (nothing in it
    matches any more) and renamed ``<name>.deleted-<id>``, so that the name is free again."""
    row = _ratio_row(session, bank)
    row.deleted_at = datetime.now(UTC)
    bank_service.update_bank(session, bank, actor=actor, enabled=False)
    old = bank.name
    bank.name = f"{old[:80]}.deleted-{bank.id}"
    record(session, actor, "bank.delete", f"bank:{old}", {"renamed_to": bank.name, "via": "hma"})
    session.flush()


def add_content(
    session: Session,
    bank: Bank,
    entries: Sequence[bank_files.BankEntry],
    signals: Mapping[str, str],
    *,
    meta: dict[str, Any] | None,
    note: str | None,
    actor: str,
) -> int:
    """Bank ``entries`` as one HMA content; returns its id. ``signals`` are what HMA reports."""
    entry_ids = bank_service.add_entries(session, bank, entries, actor=actor, how="hma")
    content = HmaContent(
        bank_id=bank.id,
        disable_until_ts=ENABLED,
        signals=dict(signals),
        meta=meta,
        note=note,
        original_media_uri=(meta or {}).get("content_uri"),
    )
    session.add(content)
    session.flush()
    session.add_all(HmaContentEntry(entry_id=e, content_id=content.id) for e in entry_ids)
    session.flush()
    return content.id


def _own_contents(session: Session, entry_ids: Iterable[int]) -> None:
    """A content of its own for each entry that has none yet (added outside the HMA API)."""
    wanted = set(entry_ids)
    if not wanted:
        return
    mapped = set(
        session.execute(
            select(HmaContentEntry.entry_id).where(HmaContentEntry.entry_id.in_(wanted))
        ).scalars()
    )
    missing = wanted - mapped
    if not missing:
        return
    for entry in session.execute(
        select(BankEntry).where(BankEntry.id.in_(missing)).order_by(BankEntry.id)
    ).scalars():
        hma_type = ids.HMA_SIGNAL_TYPES.get(entry.signal_type, entry.signal_type)
        content = HmaContent(
            bank_id=entry.bank_id,
            disable_until_ts=ENABLED if entry.enabled else DISABLED,
            signals={hma_type: entry.value} if not entry.transform else {},
        )
        session.add(content)
        session.flush()
        session.add(HmaContentEntry(entry_id=entry.id, content_id=content.id))
    session.flush()


def content_ids(db: Database, entry_ids: Sequence[int]) -> dict[int, int]:
    """HMA content id of each entry, giving unmapped entries theirs (two workers racing to do
    so: the loser's insert fails on the primary key and it reads the winner's ids)."""
    if not entry_ids:
        return {}
    with db.read() as session:
        known = known_content_ids(session, entry_ids)
    if len(known) == len(set(entry_ids)):
        return known
    for attempt in range(2):
        try:
            with db.write() as session:
                _own_contents(session, entry_ids)
                break
        except IntegrityError:
            if attempt == 1:
                raise
    with db.read() as session:
        return known_content_ids(session, entry_ids)


def known_content_ids(session: Session, entry_ids: Iterable[int]) -> dict[int, int]:
    rows = session.execute(
        select(HmaContentEntry.entry_id, HmaContentEntry.content_id).where(
            HmaContentEntry.entry_id.in_(set(entry_ids))
        )
    )
    return {entry_id: content_id for entry_id, content_id in rows}


@dataclass(frozen=True)
class ContentView:
    id: int
    bank: BankView
    disable_until_ts: int
    signals: dict[str, str]
    meta: dict[str, Any] | None
    note: str | None
    original_media_uri: str | None


def contents(session: Session, content_ids_: Iterable[int]) -> dict[int, ContentView]:
    """HMA contents by id, with their banks (deleted banks' contents are left out)."""
    rows = session.execute(
        select(HmaContent, Bank, HmaBank)
        .join(Bank, Bank.id == HmaContent.bank_id)
        .outerjoin(HmaBank, HmaBank.bank_id == Bank.id)
        .where(HmaContent.id.in_(set(content_ids_)))
    ).all()
    return {
        content.id: ContentView(
            content.id,
            _view(bank, row),
            content.disable_until_ts,
            dict(content.signals or {}),
            content.meta,
            content.note,
            content.original_media_uri,
        )
        for content, bank, row in rows
        if row is None or row.deleted_at is None
    }


def set_disable_until(
    session: Session, bank: Bank, content_id: int, disable_until_ts: int, actor: str
) -> None:
    """HMA's enable/disable of one content: its entries stop (or start again) matching
    everywhere, ``/v1`` too. A disable until a time stays in force past that time in
    takedown's indexes: a person re-enables (takedown runs no clock on bank entries)."""
    content = session.get(HmaContent, content_id)
    if content is None or content.bank_id != bank.id:
        raise BankError("content_not_found", f"content '{content_id}' not found", 404)
    content.disable_until_ts = disable_until_ts
    enabled = disable_until_ts == ENABLED
    entry_ids = list(
        session.execute(
            select(HmaContentEntry.entry_id).where(HmaContentEntry.content_id == content_id)
        ).scalars()
    )
    changed = list(
        session.execute(
            select(BankEntry.id).where(BankEntry.id.in_(entry_ids), BankEntry.enabled != enabled)
        ).scalars()
    )
    if changed:
        serialize(session)
        session.execute(update(BankEntry).where(BankEntry.id.in_(changed)).values(enabled=enabled))
        session.add_all(BankChange(bank_id=bank.id, entry_id=e, kind="entry") for e in changed)
    record(
        session,
        actor,
        "bank.content_enable" if enabled else "bank.content_disable",
        f"bank:{bank.name}/hma:{content_id}",
        {"disable_until_ts": disable_until_ts, "entries": len(changed)},
    )
    session.flush()


def remove_content(session: Session, bank: Bank, content_id: int, actor: str) -> int:
    """HMA's delete: the content's entries are disabled (kept on record) and its id retired.
    Returns how many contents were removed (0 or 1), as HMA does."""
    content = session.get(HmaContent, content_id)
    if content is None or content.bank_id != bank.id:
        return 0
    set_disable_until(session, bank, content_id, DISABLED, actor)
    session.execute(delete(HmaContentEntry).where(HmaContentEntry.content_id == content_id))
    session.delete(content)
    record(session, actor, "bank.content_remove", f"bank:{bank.name}/hma:{content_id}", {})
    session.flush()
    return 1


def index_sizes(session: Session) -> dict[str, int]:
    """Enabled entries of each HMA signal type in enabled banks (what the indexes hold)."""
    rows = session.execute(
        select(BankEntry.signal_type, func.count())
        .join(Bank, Bank.id == BankEntry.bank_id)
        .where(
            BankEntry.enabled.is_(True),
            Bank.enabled.is_(True),
            BankEntry.signal_type.in_(ids.SIGNAL_TYPES.values()),
        )
        .group_by(BankEntry.signal_type)
    ).all()
    return {ids.HMA_SIGNAL_TYPES[t]: n for t, n in rows}


def set_hma_client(session: Session, key_id: int, on: bool, actor: str) -> None:
    """Flag a platform key as the HMA client (one at a time: flagging one unflags the
    others), or unflag it. Raises AccountError for no such key, a revoked key or a person's
    token (keyless requests act for a platform, never for a person)."""
    key = session.get(ApiKey, key_id)
    if key is None:
        raise AccountError(f"no API key with id {key_id}; `takedown keys list` shows them")
    if on and (key.revoked_at is not None or key.user_id is not None):
        raise AccountError("only an active platform key can be the HMA client")
    session.execute(delete(HmaClient))
    if on:
        session.add(HmaClient(key_id=key_id))
    record(session, actor, "key.hma_client", f"key:{key_id}", {"on": on})
    session.flush()


def set_exchange_enabled(session: Session, name: str, enabled: bool, actor: str) -> None:
    """HMA's exchange update: turn fetching on or off (its entries are left as they are)."""
    row = exchange_service.get_exchange(session, name)
    if row.enabled != enabled:
        row.enabled = enabled
        record(session, actor, "exchange.update", f"exchange:{name}", {"enabled": enabled})
    session.flush()
