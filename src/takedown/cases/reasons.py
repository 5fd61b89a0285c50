"""Statements of reasons (DSA art. 17): what was decided, its scope, the ground, the facts,
whether automated means were used, and how to seek redress."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from takedown.cases.vocabulary import Category, Outcome

_GROUNDS = {
    Category.CHILD_SEXUAL_ABUSE: (
        "illegal_content",
        "Child sexual abuse material is illegal (18 U.S.C. 2252A; Directive 2011/93/EU) and "
        "prohibited by the terms of service.",
    ),
    Category.NON_CONSENSUAL_INTIMATE_IMAGE: (
        "illegal_content",
        "Intimate images shared without consent must be removed on a valid request (TAKE IT "
        "DOWN Act, 47 U.S.C. 223a) and are prohibited by the terms of service.",
    ),
    Category.SEXUAL_EXPLOITATION_OR_TRAFFICKING: (
        "illegal_content",
        "Content facilitating sexual exploitation or trafficking is illegal and prohibited by "
        "the terms of service.",
    ),
    Category.OTHER: ("terms_of_service", "The content breaks the terms of service."),
}

_REDRESS = (
    "You can appeal this decision within 6 months through the platform's appeal form or the "
    "report status page; a person who took no part in it will review it (DSA art. 20). You may "
    "also use an out-of-court dispute settlement body (art. 21) or the courts."
)


@dataclass(frozen=True)
class StatementOfReasons:
    decision: str
    scope: str
    ground: str
    explanation: str
    facts: str
    automated_detection: bool
    automated_decision: bool
    redress: str

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def statement(
    outcome: Outcome,
    category: Category,
    *,
    copies: int,
    facts: str,
    automated_detection: bool,
) -> StatementOfReasons:
    if outcome is Outcome.VIOLATION:
        ground, explanation = _GROUNDS[category]
        decision = "removal"
        scope = (
            f"The reported item and {copies} identical or near-identical cop"
            f"{'y' if copies == 1 else 'ies'} found by hash matching were removed; re-uploads "
            "are blocked."
        )
    else:
        ground, explanation = "no_violation", "The content was not found to break the law or terms."
        decision = "no_action" if outcome is Outcome.NO_VIOLATION else outcome.value
        scope = "The reported item stays available."
    return StatementOfReasons(
        decision=decision,
        scope=scope,
        ground=ground,
        explanation=explanation,
        facts=facts,
        automated_detection=automated_detection,
        automated_decision=False,  # every decision is taken by a person
        redress=_REDRESS,
    )
