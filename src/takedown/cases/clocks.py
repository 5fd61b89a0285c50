"""Deadline clocks: each legal or policy deadline is a clock on the case.

Pure: a clock is its start, its due time and what has happened to it; :func:`due_events` says,
for a given ``now``, which warnings and breaches are newly due. Time is always passed in, so the
tests move it instead of sleeping.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from takedown.cases.policy import Policy
from takedown.cases.vocabulary import Priority


class ClockKind(StrEnum):
    RESTRICT = "restrict"
    FIRST_REVIEW = "first_review"
    REMOVAL = "removal"
    CYBERTIP = "cybertip"


@dataclass(frozen=True)
class ClockPlan:
    kind: ClockKind
    started_at: datetime
    due_at: datetime


@dataclass(frozen=True)
class ClockState:
    kind: ClockKind
    started_at: datetime
    due_at: datetime
    met_at: datetime | None
    warned: tuple[float, ...]  # warning shares already recorded
    breached_at: datetime | None


@dataclass(frozen=True)
class ClockEvent:
    kind: ClockKind
    event: str  # "warning" or "breach"
    share: float  # the share of the clock elapsed that triggered it (1.0 for a breach)


def plan_clocks(
    policy: Policy,
    priority: Priority,
    takedown_request: bool,
    now: datetime,
    *,
    on_platform: bool = True,
) -> list[ClockPlan]:
    """The clocks a new case starts with. A case about nothing on the platform (a link to
    another site) has nothing to restrict, so no restrict clock: one would only ever breach
    and count as a missed deadline that no one could have met. It starts when content joins."""
    plans = [
        ClockPlan(
            ClockKind.FIRST_REVIEW, now, now + timedelta(seconds=policy.first_review_s[priority])
        )
    ]
    if priority is Priority.P0 and on_platform:
        plans.append(ClockPlan(ClockKind.RESTRICT, now, now + timedelta(seconds=policy.restrict_s)))
    if takedown_request or priority is Priority.P0:
        plans.append(ClockPlan(ClockKind.REMOVAL, now, now + timedelta(seconds=policy.removal_s)))
    return plans


def applies(kind: ClockKind, on_platform: bool) -> bool:
    """Whether a clock of ``kind`` can be met by a case with (or without) content on the
    platform: the restrict clock cannot without (clocks started before that rule stay open
    but never breach, and are not counted)."""
    return on_platform or kind is not ClockKind.RESTRICT


def due_events(
    policy: Policy, clock: ClockState, now: datetime, *, on_platform: bool = True
) -> list[ClockEvent]:
    """Warnings and the breach newly due at ``now`` for a clock not yet met."""
    if clock.met_at is not None or clock.breached_at is not None:
        return []
    if not applies(clock.kind, on_platform):
        return []
    length = (clock.due_at - clock.started_at).total_seconds()
    elapsed = (now - clock.started_at).total_seconds()
    share = elapsed / length if length > 0 else 1.0
    if share >= 1.0:
        return [ClockEvent(clock.kind, "breach", 1.0)]
    return [
        ClockEvent(clock.kind, "warning", w)
        for w in policy.warnings
        if share >= w and w not in clock.warned
    ]
