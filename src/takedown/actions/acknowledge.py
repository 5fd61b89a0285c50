"""When the platform has an action, and what that meets.

An action written to the outbox has not restricted anything yet: the platform acts when it
receives it. So an action is *acknowledged* at its first 2xx webhook delivery or when the
platform fetches it from ``GET /v1/actions``, whichever comes first, and a case's restrict
clock is met only when every restriction or removal of the case's content is acknowledged.
With no webhook and no fetch the clock stays open and breaches, as it should: nobody has
restricted the content. The meeting is in the audit log with the way it happened.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.actions.kinds import ActionKind
from takedown.audit.log import SYSTEM, record
from takedown.cases.clocks import ClockKind
from takedown.store.db import serialize
from takedown.store.models import Action, CaseClock, CaseContent, Content

# actions that take content out of view: either one acknowledged restricts it on the platform
RESTRICTING = (ActionKind.RESTRICT.value, ActionKind.REMOVE.value)
VISIBLE = ("live", "restored")

ALREADY = "already_acknowledged"  # nothing new to send: earlier actions were acknowledged


def by_webhook(webhook_id: int) -> str:
    return f"webhook:{webhook_id}"


def by_fetch(key_id: int) -> str:
    return f"fetch:key:{key_id}"


def acknowledge(session: Session, actions: Iterable[Action], via: str, now: datetime) -> int:
    """Mark the actions not yet acknowledged as acknowledged now, ``via`` a webhook or a
    fetch, and meet the restrict clocks this completes. Returns how many were new.

    Meeting a clock writes the audit log, whose lock (:func:`~takedown.store.db.serialize`)
    must be a transaction's first lock, as in report intake: a caller acknowledging a
    restriction or removal takes it before it reads or changes any action row."""
    fresh = [a for a in actions if a.acknowledged_at is None]
    for action in fresh:
        action.acknowledged_at = now
        action.acknowledged_via = via
    content_ids = sorted({a.content_id for a in fresh if a.kind in RESTRICTING and a.content_id})
    if content_ids:
        serialize(session)  # taken already by a careful caller; a no-op then
        session.flush()
        cases = session.execute(
            select(CaseContent.case_id)
            .join(Content, Content.id == CaseContent.content_pk)
            .where(Content.content_id.in_(content_ids))
            .distinct()
        ).scalars()
        meet_restrict_clock(session, sorted(cases), via, now)
    return len(fresh)


def meet_restrict_clock(session: Session, case_ids: Sequence[int], via: str, now: datetime) -> None:
    """Meet the running restrict clock of each case whose restriction the platform has."""
    for clock in session.execute(
        select(CaseClock)
        .where(
            CaseClock.case_id.in_(case_ids),
            CaseClock.kind == ClockKind.RESTRICT.value,
            CaseClock.met_at.is_(None),
            CaseClock.breached_at.is_(None),  # a breach stands: the case was escalated for it
        )
        # on PostgreSQL a concurrent acknowledgement waits here and then skips the met clock
        .with_for_update()
    ).scalars():
        if restriction_acknowledged(session, clock.case_id):
            clock.met_at = now
            record(
                session,
                SYSTEM,
                "clock.met",
                f"case:{clock.case_id}",
                {"clock": clock.kind, "acknowledged_via": via},
            )


def restriction_acknowledged(session: Session, case_id: int) -> bool:
    """Whether the platform has the restriction of every item of the case: for each item, its
    latest restriction or removal acknowledged (a later one is only written after a restore);
    where the case has none at all, nothing of it still visible."""
    rows = session.execute(
        select(Content.content_id, Content.status)
        .join(CaseContent, CaseContent.content_pk == Content.id)
        .where(CaseContent.case_id == case_id)
    ).all()
    if not rows:
        return False
    latest: dict[str, datetime | None] = {}
    for content_id, moment in session.execute(
        select(Action.content_id, Action.acknowledged_at)
        .where(Action.content_id.in_([r[0] for r in rows]), Action.kind.in_(RESTRICTING))
        .order_by(Action.id)
    ).all():
        if content_id is not None:
            latest[content_id] = moment
    if latest:
        return all(moment is not None for moment in latest.values())
    return all(status not in VISIBLE for _, status in rows)
