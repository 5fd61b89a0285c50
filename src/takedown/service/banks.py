"""Bank use cases: create, change, add entries, import files, disable false positives.

Every change is audited and, where workers must react, logged in ``bank_changes`` in the same
transaction; entries are inserted under the log lock so that workers following ``id > cursor``
see them in order.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import case, func, insert, select, update
from sqlalchemy.orm import Session

from takedown.audit.log import record
from takedown.matching import banks as bank_files
from takedown.store.db import serialize
from takedown.store.models import Bank, BankChange, BankEntry

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,99}$")
BANK_ACTIONS = ("block", "hold")
_INSERT_BATCH = 5000
_PROBLEMS_SHOWN = 100


class BankError(ValueError):
    """A refused bank operation: ``code`` is the API's machine-readable code."""

    def __init__(self, code: str, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


@dataclass
class ImportSummary:
    added: int = 0
    skipped: list[bank_files.LineProblem] = field(default_factory=list)
    skipped_count: int = 0


class BankFileRejected(BankError):
    """A bank file with malformed lines (and ``skip_bad`` off): nothing was imported."""

    def __init__(self, summary: ImportSummary, message: str) -> None:
        super().__init__("bank_file_invalid", message)
        self.summary = summary


def get_bank(session: Session, name: str) -> Bank:
    bank = session.execute(select(Bank).where(Bank.name == name)).scalar_one_or_none()
    if bank is None:
        raise BankError("bank_not_found", f"no bank named {name!r}", 404)
    return bank


def create_bank(
    session: Session,
    name: str,
    *,
    description: str = "",
    action: str = "block",
    threshold: int | None = None,
    actor: str,
) -> Bank:
    if not NAME_PATTERN.match(name):
        raise BankError(
            "invalid_bank_name",
            "a bank name is 1-100 characters: lowercase letters, digits, '_', '.', '-'",
        )
    if action not in BANK_ACTIONS:
        raise BankError("invalid_field", f"action must be one of {', '.join(BANK_ACTIONS)}")
    if session.execute(select(Bank.id).where(Bank.name == name)).first():
        raise BankError("bank_exists", f"a bank named {name!r} already exists", 409)
    serialize(session)
    bank = Bank(
        name=name, description=description, action=action, threshold=threshold, created_by=actor
    )
    session.add(bank)
    session.flush()
    session.add(BankChange(bank_id=bank.id, kind="bank"))
    record(
        session,
        actor,
        "bank.create",
        f"bank:{name}",
        {"action": action, "threshold": threshold, "description": description},
    )
    return bank


def ensure_bank(
    session: Session, name: str, *, description: str, action: str = "block", actor: str
) -> Bank:
    """The bank named ``name``, created on first use (the confirmed and watch banks)."""
    bank = session.execute(select(Bank).where(Bank.name == name)).scalar_one_or_none()
    if bank is not None:
        return bank
    return create_bank(session, name, description=description, action=action, actor=actor)


def update_bank(
    session: Session,
    bank: Bank,
    *,
    actor: str,
    description: str | None = None,
    action: str | None = None,
    threshold: int | None = None,
    clear_threshold: bool = False,
    enabled: bool | None = None,
) -> Bank:
    if action is not None and action not in BANK_ACTIONS:
        raise BankError("invalid_field", f"action must be one of {', '.join(BANK_ACTIONS)}")
    serialize(session)
    changed: dict[str, object] = {}
    if description is not None:
        bank.description = changed["description"] = description
    if action is not None:
        bank.action = changed["action"] = action
    if threshold is not None or clear_threshold:
        bank.threshold = threshold
        changed["threshold"] = threshold
    if enabled is not None:
        if enabled and not bank.enabled:
            # the retro-scan skipped this bank's entries while it was off: scan them again
            session.execute(
                update(BankEntry).where(BankEntry.bank_id == bank.id).values(retro_scanned_at=None)
            )
        bank.enabled = changed["enabled"] = enabled
    session.add(BankChange(bank_id=bank.id, kind="bank"))
    record(session, actor, "bank.update", f"bank:{bank.name}", changed)
    return bank


def entry_counts(session: Session) -> dict[int, tuple[int, int]]:
    """Per bank id: (entries, enabled entries)."""
    rows = session.execute(
        select(
            BankEntry.bank_id,
            func.count(),
            func.sum(case((BankEntry.enabled.is_(True), 1), else_=0)),
        ).group_by(BankEntry.bank_id)
    ).all()
    return {bank_id: (total, int(enabled or 0)) for bank_id, total, enabled in rows}


def _rows(
    bank: Bank, entries: Iterable[bank_files.BankEntry], actor: str, now: datetime
) -> Iterable[dict[str, object]]:
    for entry in entries:
        yield {
            "bank_id": bank.id,
            "signal_type": entry.signal_type,
            "value": entry.value,
            "label": entry.label,
            "source": entry.source,
            "external_id": entry.external_id,
            "enabled": True,
            "added_at": now,
            "added_by": actor,
            "transform": entry.transform,
        }


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
)


def _insert(session: Session, rows: list[dict[str, object]]) -> None:
    """Insert a batch in the session's transaction: COPY on PostgreSQL (an import of millions
    of hashes is otherwise bound by per-row statements), executemany on SQLite."""
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        session.execute(insert(BankEntry), rows)
        return
    driver = connection.connection.driver_connection
    statement = f"COPY bank_entries ({', '.join(_COPY_COLUMNS)}) FROM STDIN"
    with driver.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[union-attr]
        for row in rows:
            copy.write_row([row[column] for column in _COPY_COLUMNS])


def add_entries(
    session: Session,
    bank: Bank,
    entries: Iterable[bank_files.BankEntry],
    *,
    actor: str,
    how: str = "api",
    case_id: int | None = None,
) -> list[int]:
    """Add validated entries (values already canonical); returns their ids. ``case_id`` ties
    entries to the case that confirmed them (an overturned appeal disables them)."""
    serialize(session)
    now = datetime.now(UTC)
    added = [BankEntry(**row, case_id=case_id) for row in _rows(bank, entries, actor, now)]
    session.add_all(added)
    session.flush()  # one batched INSERT: a reference image brings hundreds of variants
    ids = [entry.id for entry in added]
    record(session, actor, "bank.add", f"bank:{bank.name}", {"entries": len(ids), "via": how})
    return ids


def import_entries(
    session: Session,
    bank: Bank,
    items: Iterable[bank_files.BankEntry | bank_files.LineProblem],
    *,
    actor: str,
    skip_bad: bool,
    source_name: str,
) -> ImportSummary:
    """Stream a parsed file into the bank in batches. Raises :class:`BankError` after reading
    the whole file when it had bad lines and ``skip_bad`` is false; the caller's transaction
    then rolls back, so nothing of the file is kept."""
    serialize(session)
    now = datetime.now(UTC)
    summary = ImportSummary()
    batch: list[dict[str, object]] = []
    for item in items:
        if isinstance(item, bank_files.LineProblem):
            summary.skipped_count += 1
            if len(summary.skipped) < _PROBLEMS_SHOWN:
                summary.skipped.append(item)
            continue
        if summary.skipped_count and not skip_bad:
            continue  # keep reading to report every bad line, but write nothing more
        batch.extend(_rows(bank, [item], actor, now))
        summary.added += 1
        if len(batch) >= _INSERT_BATCH:
            _insert(session, batch)
            batch = []
    if summary.skipped_count and not skip_bad:
        shown = "; ".join(str(p) for p in summary.skipped[:5])
        raise BankFileRejected(
            summary,
            f"{summary.skipped_count} malformed line(s), nothing "
            f"imported: {shown}. Fix them, or import with skip_bad=true.",
        )
    _insert(session, batch)
    record(
        session,
        actor,
        "bank.import",
        f"bank:{bank.name}",
        {"added": summary.added, "skipped": summary.skipped_count, "file": source_name},
    )
    return summary


def set_entry_enabled(
    session: Session, bank: Bank, entry_id: int, enabled: bool, *, actor: str, reason: str = ""
) -> BankEntry:
    entry = session.get(BankEntry, entry_id)
    if entry is None or entry.bank_id != bank.id:
        raise BankError("entry_not_found", f"bank {bank.name!r} has no entry {entry_id}", 404)
    # A person's decision outranks the feed's: a disable of an entry the feed had withdrawn
    # is recorded (and ``feed_removed`` cleared) so that the feed listing it again does not
    # turn it back on; a disable of an entry already off is audited all the same.
    if entry.enabled != enabled or not enabled or entry.feed_removed:
        serialize(session)
        entry.enabled = enabled
        entry.feed_removed = False
        if enabled:
            entry.retro_scanned_at = None  # skipped while off: scanned against content again
        session.add(BankChange(bank_id=bank.id, entry_id=entry.id, kind="entry"))
        record(
            session,
            actor,
            "bank.entry_enable" if enabled else "bank.entry_disable",
            f"bank:{bank.name}/entry:{entry.id}",
            {"reason": reason},
        )
    return entry


def disable_case_entries(
    session: Session, case_id: int, *, actor: str, reason: str, bank_name: str | None = None
) -> int:
    """Disable the enabled entries a case put into banks (only ``bank_name``'s when given);
    returns how many."""
    query = (
        select(BankEntry, Bank)
        .join(Bank, Bank.id == BankEntry.bank_id)
        .where(BankEntry.case_id == case_id, BankEntry.enabled.is_(True))
    )
    if bank_name is not None:
        query = query.where(Bank.name == bank_name)
    rows = session.execute(query).all()
    for entry, bank in rows:
        set_entry_enabled(session, bank, entry.id, False, actor=actor, reason=reason)
    return len(rows)


def list_entries(
    session: Session, bank: Bank, *, after: int = 0, limit: int = 100
) -> list[BankEntry]:
    query = (
        select(BankEntry)
        .where(BankEntry.bank_id == bank.id, BankEntry.id > after)
        .order_by(BankEntry.id)
        .limit(limit)
    )
    return list(session.execute(query).scalars())
