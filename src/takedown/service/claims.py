"""Case claims: a reviewer takes a case so that two people do not review the same one at once.

A claim lasts ``claim_minutes`` (settings) and lapses by itself: a reviewer who walks away
does not lock a case for good. Whoever holds a live claim is shown to everybody else; another
reviewer's decision is refused while it holds. A decision ends the claim (the next step, a
second review, is someone else's). Each claim and release is in the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from takedown.audit.log import record
from takedown.store.models import Case


class ClaimRefused(ValueError):
    """Someone else holds the case."""


@dataclass(frozen=True)
class Claim:
    user_id: int
    until: datetime


def holder(case: Case, now: datetime) -> Claim | None:
    """The live claim on ``case``, or None (never claimed, released, or lapsed)."""
    if case.claimed_by is None or case.claimed_until is None or case.claimed_until <= now:
        return None
    return Claim(case.claimed_by, case.claimed_until)


def held_by_other(case: Case, user_id: int, now: datetime) -> Claim | None:
    """The live claim of someone other than ``user_id``, which stops this user deciding."""
    claim = holder(case, now)
    return claim if claim is not None and claim.user_id != user_id else None


def claim(session: Session, case: Case, user_id: int, now: datetime, minutes: float) -> Claim:
    """Take (or renew) the case for ``minutes``; refused while another person's claim holds."""
    other = held_by_other(case, user_id, now)
    if other is not None:
        raise ClaimRefused(f"case {case.id} is claimed until {other.until.isoformat()}")
    case.claimed_by = user_id
    case.claimed_until = now + timedelta(minutes=minutes)
    record(
        session,
        f"user:{user_id}",
        "case.claim",
        f"case:{case.id}",
        {"until": case.claimed_until.isoformat()},
    )
    return Claim(user_id, case.claimed_until)


def release(session: Session, case: Case, user_id: int, now: datetime, why: str) -> bool:
    """End this user's live claim (``why``: "release" or "decided"); False when none held."""
    claim = holder(case, now)
    if claim is None or claim.user_id != user_id:
        return False
    case.claimed_by = None
    case.claimed_until = None
    record(session, f"user:{user_id}", "case.release", f"case:{case.id}", {"why": why})
    return True
