"""Statements of reasons (DSA art. 17): what was decided, its scope, the ground, the facts,
whether automated means were used, and how to seek redress."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from takedown.cases.vocabulary import Category, Outcome
from takedown.signals.strength import Fingerprint, Strength

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
    fingerprint: Fingerprint | None = None,
) -> StatementOfReasons:
    """``fingerprint``: the reported items' weakest (see :mod:`takedown.signals.strength`);
    the scope claims only the copy search and the block that it allowed."""
    if outcome is Outcome.VIOLATION:
        ground, explanation = _GROUNDS[category]
        decision = "removal"
        scope = removal_scope(copies, fingerprint)
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


def _copies(count: int, kind: str) -> str:
    return f"{count} {kind} cop{'y' if count == 1 else 'ies'}"


def removal_scope(copies: int, fingerprint: Fingerprint | None) -> str:
    """What a removal reached, said no wider than what was done: an item with only exact
    matching had only identical copies searched, and only identical re-uploads are blocked."""
    strength = fingerprint.strength if fingerprint is not None else Strength.STRONG
    if strength is Strength.EXACT_ONLY:
        return (
            f"The reported item and {_copies(copies, 'identical')} were removed. Only identical "
            "copies were searched, and only identical re-uploads are blocked; altered copies of "
            "this item cannot be recognised automatically (it has no usable perceptual "
            "fingerprint)."
        )
    if strength is Strength.WEAK:
        return (
            f"The reported item and {_copies(copies, 'identical or similar')} found by hash "
            "matching were removed. Its fingerprint is weak, so altered copies were searched "
            "for and are blocked only as far as it can recognise them; some altered copies may "
            "not be found."
        )
    return (
        f"The reported item and {_copies(copies, 'identical or near-identical')} found by hash "
        "matching were removed; re-uploads are blocked."
    )
