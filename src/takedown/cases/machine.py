"""The case state machine: who may decide what, and what each decision causes.

``decide`` and ``decide_appeal`` take a snapshot of the case and return a :class:`Ruling` (the
new state and the effects to carry out) or raise :class:`Refused` with a stable code. The
service layer stores the ruling and turns effects into actions in one transaction.

The two-person rule: on a P0 or minor-alleged case a "no violation" by one reviewer is only a
recommendation (the case moves to second review and stays restricted); it is dismissed only
when a second reviewer with a senior role, who is not the first, also finds no violation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from takedown.cases.vocabulary import (
    DECIDING_ROLES,
    OPEN_STATES,
    P0_ROLES,
    SENIOR_ROLES,
    AppealOutcome,
    Appellant,
    CaseState,
    Category,
    Outcome,
    Priority,
    StaffRole,
)


class Effect(StrEnum):
    REMOVE_ALL = "remove_all"  # the item and every copy; their signals into the confirmed bank
    RESTORE = "restore"  # lift a restriction or a removal
    UNBANK = "unbank"  # disable the bank entries this case created
    SUSPEND_UPLOADER = "suspend_uploader"
    NOTIFY_REPORTER = "notify_reporter"
    NOTIFY_UPLOADER = "notify_uploader"
    ASK_REPORTER = "ask_reporter"


class Refused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class PastDecision:
    reviewer_id: int
    outcome: Outcome
    recommendation: bool


@dataclass(frozen=True)
class CaseSnapshot:
    state: CaseState
    priority: Priority
    minor_alleged: bool
    category: Category
    restricted: bool
    decisions: tuple[PastDecision, ...] = ()
    appealed_from: CaseState | None = None
    decided_at: datetime | None = None


@dataclass(frozen=True)
class Reviewer:
    user_id: int
    role: StaffRole


@dataclass(frozen=True)
class Ruling:
    state: CaseState
    effects: tuple[Effect, ...]
    recommendation: bool = False
    final: bool = False


def needs_two_people(case: CaseSnapshot) -> bool:
    return case.priority is Priority.P0 or case.minor_alleged


def can_view(role: StaffRole, priority: Priority) -> bool:
    """P0 cases are seen only by the child-safety, senior and legal roles (and admins)."""
    return priority is not Priority.P0 or role in P0_ROLES


def _check_reviewer(case: CaseSnapshot, reviewer: Reviewer) -> None:
    if reviewer.role not in DECIDING_ROLES:
        raise Refused("role_cannot_decide", f"the {reviewer.role.value} role does not decide cases")
    if not can_view(reviewer.role, case.priority):
        raise Refused("role_cannot_view", "this case is visible only to child-safety staff")


def decide(
    case: CaseSnapshot, reviewer: Reviewer, outcome: Outcome, suspend_on: frozenset[Category]
) -> Ruling:
    _check_reviewer(case, reviewer)
    if case.state not in OPEN_STATES or case.state is CaseState.IN_APPEAL:
        raise Refused("case_closed", f"the case is {case.state.value}; appeals decide it now")
    if outcome is Outcome.VIOLATION:
        effects = [Effect.REMOVE_ALL, Effect.NOTIFY_REPORTER, Effect.NOTIFY_UPLOADER]
        if case.category in suspend_on:
            effects.append(Effect.SUSPEND_UPLOADER)
        return Ruling(CaseState.CONFIRMED, tuple(effects), final=True)
    if outcome is Outcome.NEED_MORE_INFO:
        return Ruling(CaseState.AWAITING_INFO, (Effect.ASK_REPORTER,))
    if outcome is Outcome.ESCALATE:
        return Ruling(CaseState.ESCALATED, ())
    return _no_violation(case, reviewer)


def _no_violation(case: CaseSnapshot, reviewer: Reviewer) -> Ruling:
    dismiss = (
        (Effect.RESTORE, Effect.NOTIFY_REPORTER) if case.restricted else (Effect.NOTIFY_REPORTER,)
    )
    if not needs_two_people(case):
        return Ruling(CaseState.DISMISSED, dismiss, final=True)
    first = [d for d in case.decisions if d.outcome is Outcome.NO_VIOLATION and d.recommendation]
    if not first:
        # the first "no violation" is a recommendation; the case stays restricted
        return Ruling(CaseState.SECOND_REVIEW, (), recommendation=True)
    if any(d.reviewer_id == reviewer.user_id for d in first):
        raise Refused(
            "second_reviewer_required",
            "a second reviewer, not the one who recommended dismissal, must decide",
        )
    if reviewer.role not in SENIOR_ROLES:
        raise Refused(
            "senior_reviewer_required",
            "dismissing a case that alleges a minor needs a senior or child-safety reviewer",
        )
    return Ruling(CaseState.DISMISSED, dismiss, final=True)


def appeal(case: CaseSnapshot, appellant: Appellant, now: datetime, window: timedelta) -> CaseState:
    """The state the case enters on an appeal, or Refused."""
    removal = case.state in (CaseState.CONFIRMED, CaseState.ACTIONED)
    if appellant is Appellant.UPLOADER and not removal:
        raise Refused("nothing_to_appeal", "only a removal can be appealed by the uploader")
    if appellant is Appellant.REPORTER and case.state is not CaseState.DISMISSED:
        raise Refused("nothing_to_appeal", "only a dismissal can be appealed by the reporter")
    if case.decided_at is not None and now - case.decided_at > window:
        raise Refused("appeal_window_closed", "the appeal window (6 months) has closed")
    return CaseState.IN_APPEAL


def decide_appeal(
    case: CaseSnapshot,
    reviewer: Reviewer,
    outcome: AppealOutcome,
    suspend_on: frozenset[Category],
) -> Ruling:
    """Decided by someone who took no part in the case's decisions."""
    _check_reviewer(case, reviewer)
    if case.state is not CaseState.IN_APPEAL or case.appealed_from is None:
        raise Refused("not_in_appeal", "the case has no open appeal")
    if any(d.reviewer_id == reviewer.user_id for d in case.decisions):
        raise Refused("reviewer_took_part", "an appeal is decided by a reviewer who took no part")
    was_removal = case.appealed_from in (CaseState.CONFIRMED, CaseState.ACTIONED)
    if outcome is AppealOutcome.UPHELD:
        return Ruling(
            case.appealed_from, (Effect.NOTIFY_REPORTER, Effect.NOTIFY_UPLOADER), final=True
        )
    if was_removal:
        effects = (Effect.RESTORE, Effect.UNBANK, Effect.NOTIFY_REPORTER, Effect.NOTIFY_UPLOADER)
        return Ruling(CaseState.DISMISSED, effects, final=True)
    effects_list = [Effect.REMOVE_ALL, Effect.NOTIFY_REPORTER, Effect.NOTIFY_UPLOADER]
    if case.category in suspend_on:
        effects_list.append(Effect.SUSPEND_UPLOADER)
    return Ruling(CaseState.CONFIRMED, tuple(effects_list), final=True)
