"""The pure case core: validation by law, triage, clocks and the state machine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from takedown.cases.clocks import ClockKind, ClockState, due_events, plan_clocks
from takedown.cases.machine import (
    CaseSnapshot,
    Effect,
    PastDecision,
    Refused,
    Reviewer,
    appeal,
    can_view,
    decide,
    decide_appeal,
)
from takedown.cases.policy import load_policy, triage
from takedown.cases.validation import ReportDraft, validate
from takedown.cases.vocabulary import (
    AppealOutcome,
    Appellant,
    CaseState,
    Category,
    MinorDepicted,
    Outcome,
    Priority,
    Queue,
    Relationship,
    StaffRole,
)

POLICY = load_policy()
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
NONE: frozenset[Category] = frozenset()


def _draft(**kw: object) -> ReportDraft:
    base: dict[str, object] = {
        "category": Category.NON_CONSENSUAL_INTIMATE_IMAGE,
        "minor_depicted": MinorDepicted.NO,
        "relationship": Relationship.SELF,
        "content_urls": ("https://p.example/p/1",),
        "email": "me@example.org",
        "good_faith_statement": True,
        "signature": "A. Person",
    }
    base.update(kw)
    return ReportDraft(**base)  # type: ignore[arg-type]


def test_takedown_request_needs_every_element() -> None:
    assert validate(_draft()) == []
    assert _draft().takedown_request
    fields = {p.field for p in validate(_draft(signature="", good_faith_statement=False, email=""))}
    assert fields == {"signature", "good_faith_statement", "contact"}
    assert {p.field for p in validate(_draft(content_urls=()))} == {"content"}
    assert {p.field for p in validate(_draft(email="not-an-address"))} == {"contact.email"}


def test_child_abuse_report_may_be_anonymous() -> None:
    anonymous = _draft(
        category=Category.CHILD_SEXUAL_ABUSE,
        minor_depicted=MinorDepicted.UNSURE,
        email="",
        signature="",
        good_faith_statement=False,
    )
    assert validate(anonymous) == []
    assert not anonymous.takedown_request


@pytest.mark.parametrize(
    ("category", "minor", "bank", "expected"),
    [
        (
            Category.NON_CONSENSUAL_INTIMATE_IMAGE,
            MinorDepicted.YES,
            False,
            (Priority.P0, Queue.CHILD_SAFETY, True),
        ),
        (
            Category.SEXUAL_EXPLOITATION_OR_TRAFFICKING,
            MinorDepicted.UNSURE,
            False,
            (Priority.P0, Queue.CHILD_SAFETY, True),
        ),
        (Category.OTHER, MinorDepicted.NO, True, (Priority.P0, Queue.CHILD_SAFETY, True)),
        (
            Category.NON_CONSENSUAL_INTIMATE_IMAGE,
            MinorDepicted.NO,
            False,
            (Priority.P1, Queue.NCII, True),
        ),
        (Category.OTHER, MinorDepicted.YES, False, (Priority.P2, Queue.GENERAL, False)),
    ],
)
def test_triage(
    category: Category, minor: MinorDepicted, bank: bool, expected: tuple[object, ...]
) -> None:
    got = triage(POLICY, category, minor, child_abuse_match=bank)
    assert (got.priority, got.queue, got.restrict) == expected


def test_trusted_flagger_moves_up() -> None:
    assert (
        triage(POLICY, Category.OTHER, MinorDepicted.NO, trusted_flagger=True).priority
        is Priority.P1
    )


def test_clocks_plan_and_events() -> None:
    plans = {p.kind: p for p in plan_clocks(POLICY, Priority.P0, False, NOW)}
    assert plans[ClockKind.RESTRICT].due_at == NOW + timedelta(seconds=60)
    assert plans[ClockKind.FIRST_REVIEW].due_at == NOW + timedelta(hours=1)
    assert plans[ClockKind.REMOVAL].due_at == NOW + timedelta(hours=48)
    assert ClockKind.REMOVAL not in {p.kind for p in plan_clocks(POLICY, Priority.P2, False, NOW)}
    clock = ClockState(ClockKind.FIRST_REVIEW, NOW, NOW + timedelta(hours=1), None, (), None)
    assert due_events(POLICY, clock, NOW + timedelta(minutes=29)) == []
    assert [e.share for e in due_events(POLICY, clock, NOW + timedelta(minutes=46))] == [0.5, 0.75]
    warned = ClockState(ClockKind.FIRST_REVIEW, NOW, NOW + timedelta(hours=1), None, (0.5,), None)
    assert [e.share for e in due_events(POLICY, warned, NOW + timedelta(minutes=46))] == [0.75]
    assert [e.event for e in due_events(POLICY, clock, NOW + timedelta(hours=1))] == ["breach"]


P0_CASE = CaseSnapshot(
    CaseState.RESTRICTED, Priority.P0, True, Category.CHILD_SEXUAL_ABUSE, restricted=True
)
SPECIALIST = Reviewer(1, StaffRole.CHILD_SAFETY_SPECIALIST)
SECOND = Reviewer(2, StaffRole.CHILD_SAFETY_SPECIALIST)
JUNIOR = Reviewer(3, StaffRole.REVIEWER)


def test_two_person_rule() -> None:
    first = decide(P0_CASE, SPECIALIST, Outcome.NO_VIOLATION, NONE)
    assert first.state is CaseState.SECOND_REVIEW and first.recommendation and not first.final
    assert Effect.RESTORE not in first.effects  # stays restricted
    after = CaseSnapshot(
        CaseState.SECOND_REVIEW,
        Priority.P0,
        True,
        Category.CHILD_SEXUAL_ABUSE,
        True,
        decisions=(PastDecision(1, Outcome.NO_VIOLATION, True),),
    )
    with pytest.raises(Refused) as same:
        decide(after, SPECIALIST, Outcome.NO_VIOLATION, NONE)
    assert same.value.code == "second_reviewer_required"
    dismissed = decide(after, SECOND, Outcome.NO_VIOLATION, NONE)
    assert dismissed.state is CaseState.DISMISSED and Effect.RESTORE in dismissed.effects
    confirmed = decide(after, SECOND, Outcome.VIOLATION, frozenset({Category.CHILD_SEXUAL_ABUSE}))
    assert confirmed.state is CaseState.CONFIRMED
    assert Effect.SUSPEND_UPLOADER in confirmed.effects and Effect.REMOVE_ALL in confirmed.effects


def test_senior_needed_for_minor_dismissal_and_p0_visibility() -> None:
    minor_p1 = CaseSnapshot(
        CaseState.SECOND_REVIEW,
        Priority.P1,
        True,
        Category.NON_CONSENSUAL_INTIMATE_IMAGE,
        True,
        decisions=(PastDecision(1, Outcome.NO_VIOLATION, True),),
    )
    with pytest.raises(Refused) as junior:
        decide(minor_p1, JUNIOR, Outcome.NO_VIOLATION, NONE)
    assert junior.value.code == "senior_reviewer_required"
    assert not can_view(StaffRole.REVIEWER, Priority.P0)
    assert can_view(StaffRole.LEGAL, Priority.P0) and can_view(StaffRole.REVIEWER, Priority.P1)
    with pytest.raises(Refused):
        decide(P0_CASE, JUNIOR, Outcome.VIOLATION, NONE)
    plain = CaseSnapshot(CaseState.NEW, Priority.P2, False, Category.OTHER, restricted=False)
    assert decide(plain, JUNIOR, Outcome.NO_VIOLATION, NONE).state is CaseState.DISMISSED


def test_appeals_both_ways() -> None:
    removed = CaseSnapshot(
        CaseState.ACTIONED,
        Priority.P1,
        False,
        Category.NON_CONSENSUAL_INTIMATE_IMAGE,
        False,
        decisions=(PastDecision(1, Outcome.VIOLATION, False),),
        decided_at=NOW,
    )
    assert (
        appeal(removed, Appellant.UPLOADER, NOW + timedelta(days=10), timedelta(days=183))
        is CaseState.IN_APPEAL
    )
    with pytest.raises(Refused):
        appeal(removed, Appellant.REPORTER, NOW, timedelta(days=183))
    with pytest.raises(Refused) as late:
        appeal(removed, Appellant.UPLOADER, NOW + timedelta(days=200), timedelta(days=183))
    assert late.value.code == "appeal_window_closed"
    in_appeal = CaseSnapshot(
        CaseState.IN_APPEAL,
        Priority.P1,
        False,
        Category.NON_CONSENSUAL_INTIMATE_IMAGE,
        False,
        decisions=removed.decisions,
        appealed_from=CaseState.ACTIONED,
    )
    with pytest.raises(Refused) as took_part:
        decide_appeal(in_appeal, SPECIALIST, AppealOutcome.OVERTURNED, NONE)
    assert took_part.value.code == "reviewer_took_part"
    overturned = decide_appeal(in_appeal, SECOND, AppealOutcome.OVERTURNED, NONE)
    assert overturned.state is CaseState.DISMISSED
    assert {Effect.RESTORE, Effect.UNBANK} <= set(overturned.effects)
    dismissed_appeal = CaseSnapshot(
        CaseState.IN_APPEAL,
        Priority.P2,
        False,
        Category.OTHER,
        False,
        decisions=(PastDecision(1, Outcome.NO_VIOLATION, False),),
        appealed_from=CaseState.DISMISSED,
    )
    reversed_ = decide_appeal(dismissed_appeal, SECOND, AppealOutcome.OVERTURNED, NONE)
    assert reversed_.state is CaseState.CONFIRMED and Effect.REMOVE_ALL in reversed_.effects
    upheld = decide_appeal(dismissed_appeal, SECOND, AppealOutcome.UPHELD, NONE)
    assert upheld.state is CaseState.DISMISSED
