"""The words of reports and cases (a contract with reporters' forms and platforms)."""

from __future__ import annotations

from enum import StrEnum


class Category(StrEnum):
    CHILD_SEXUAL_ABUSE = "child_sexual_abuse"
    NON_CONSENSUAL_INTIMATE_IMAGE = "non_consensual_intimate_image"
    SEXUAL_EXPLOITATION_OR_TRAFFICKING = "sexual_exploitation_or_trafficking"
    OTHER = "other"


SEXUAL_CATEGORIES = frozenset(
    {
        Category.CHILD_SEXUAL_ABUSE,
        Category.NON_CONSENSUAL_INTIMATE_IMAGE,
        Category.SEXUAL_EXPLOITATION_OR_TRAFFICKING,
    }
)


class MinorDepicted(StrEnum):
    YES = "yes"
    NO = "no"
    UNSURE = "unsure"


class Relationship(StrEnum):
    SELF = "self"
    PARENT_OR_GUARDIAN = "parent_or_guardian"
    AUTHORISED_REPRESENTATIVE = "authorised_representative"
    NGO = "ngo"
    LAW_ENFORCEMENT = "law_enforcement"
    OTHER_USER = "other_user"


class Priority(StrEnum):
    P0 = "P0"
    P1 = "P1"
    P2 = "P2"


class Queue(StrEnum):
    CHILD_SAFETY = "child_safety"
    NCII = "ncii"
    GENERAL = "general"
    SENIOR = "senior"


class CaseState(StrEnum):
    NEW = "new"
    RESTRICTED = "restricted"
    IN_REVIEW = "in_review"
    SECOND_REVIEW = "second_review"
    AWAITING_INFO = "awaiting_info"
    ESCALATED = "escalated"
    CONFIRMED = "confirmed"
    ACTIONED = "actioned"
    DISMISSED = "dismissed"
    IN_APPEAL = "in_appeal"


OPEN_STATES = frozenset(
    {
        CaseState.NEW,
        CaseState.RESTRICTED,
        CaseState.IN_REVIEW,
        CaseState.SECOND_REVIEW,
        CaseState.AWAITING_INFO,
        CaseState.ESCALATED,
        CaseState.IN_APPEAL,
    }
)


class Outcome(StrEnum):
    VIOLATION = "violation"
    NO_VIOLATION = "no_violation"
    NEED_MORE_INFO = "need_more_info"
    ESCALATE = "escalate"


class AppealOutcome(StrEnum):
    UPHELD = "upheld"
    OVERTURNED = "overturned"


class Appellant(StrEnum):
    UPLOADER = "uploader"
    REPORTER = "reporter"


class StaffRole(StrEnum):
    """Mirrors ``auth.scopes.Role`` by value; kept here so that cases stay free of auth."""

    ADMIN = "admin"
    REVIEWER = "reviewer"
    SENIOR_REVIEWER = "senior_reviewer"
    CHILD_SAFETY_SPECIALIST = "child_safety_specialist"
    LEGAL = "legal"


SENIOR_ROLES = frozenset(
    {StaffRole.SENIOR_REVIEWER, StaffRole.CHILD_SAFETY_SPECIALIST, StaffRole.ADMIN}
)
P0_ROLES = frozenset(
    {
        StaffRole.CHILD_SAFETY_SPECIALIST,
        StaffRole.SENIOR_REVIEWER,
        StaffRole.LEGAL,
        StaffRole.ADMIN,
    }
)
DECIDING_ROLES = frozenset(
    {
        StaffRole.REVIEWER,
        StaffRole.SENIOR_REVIEWER,
        StaffRole.CHILD_SAFETY_SPECIALIST,
        StaffRole.ADMIN,
    }
)
