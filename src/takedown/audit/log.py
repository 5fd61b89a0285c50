"""Append to and verify the audit log stored in the database."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.audit.chain import (
    GENESIS,
    ChainedEvent,
    ChainProblem,
    canonical_data,
    event_hash,
    timestamp,
    verify_chain,
)
from takedown.store.db import Database, serialize
from takedown.store.models import AuditEvent, AuditHead

_HEAD_ID = 1
SYSTEM = "system"
"""The actor of what takedown does by itself (a deadline, a held upload, a filing)."""


def record(
    session: Session,
    actor: str,
    action: str,
    subject: str,
    data: Mapping[str, object] | None = None,
) -> AuditEvent:
    """Append one event inside the caller's transaction: the event commits with the change it
    describes, or neither does."""
    serialize(session)
    head = session.get(AuditHead, _HEAD_ID)
    seq, prev = (head.seq, head.hash) if head else (0, GENESIS)
    fields = (seq + 1, timestamp(), actor, action, subject, canonical_data(data or {}))
    event = AuditEvent(
        seq=fields[0],
        at=fields[1],
        actor=actor,
        action=action,
        subject=subject,
        data=fields[5],
        prev_hash=prev,
        hash=event_hash(prev, *fields),
    )
    session.add(event)
    if head is None:
        session.add(AuditHead(id=_HEAD_ID, seq=event.seq, hash=event.hash))
    else:
        head.seq, head.hash = event.seq, event.hash
    session.flush()
    return event


@dataclass(frozen=True)
class VerifyResult:
    events: int
    problem: ChainProblem | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def _stored(session: Session) -> Iterator[ChainedEvent]:
    rows = session.execute(
        select(AuditEvent).order_by(AuditEvent.seq).execution_options(yield_per=5000)
    ).scalars()
    for row in rows:
        yield ChainedEvent(
            row.seq, row.at, row.actor, row.action, row.subject, row.data, row.prev_hash, row.hash
        )


def verify(db: Database) -> VerifyResult:
    with db.read() as session:
        head_row = session.get(AuditHead, _HEAD_ID)
        head = (head_row.seq, head_row.hash) if head_row else None
        count, problem = verify_chain(_stored(session), head)
    return VerifyResult(count, problem)


def events(session: Session, *, after: int = 0, limit: int = 100) -> list[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.seq > after).order_by(AuditEvent.seq).limit(limit)
    return list(session.execute(query).scalars())
