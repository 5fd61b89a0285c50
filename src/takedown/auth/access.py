"""Who may see or do what with the sensitive resources: one rule per resource, asked by the API
routes and the console pages alike, so that no door to a resource is wider than another.

Scopes say what a *key* may call; these rules say what a *person* (a staff role) may see. A
platform key without a person behind it never reaches a person-only resource, whatever its
scopes: evidence, reporter contacts and media bytes are for named staff, each view audited.

Pure: no web or database imports. The callers gather the facts (the caller's role, the
priorities of the cases an item belongs to) and ask here.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from takedown.auth.scopes import Role
from takedown.cases.machine import can_view
from takedown.cases.vocabulary import Priority, StaffRole


class Resource(StrEnum):
    """The resources whose access is decided by role, not only by key scope."""

    REPORTER_CONTACT = "reporter_contact"  # a reporter's email and phone
    EVIDENCE_RECORD = "evidence_record"  # the sealed item's metadata: uploader, URL, IP events
    EVIDENCE_HOLD = "evidence_hold"  # legal hold on, and off
    EVIDENCE_DESTROY = "evidence_destroy"  # destruction on a law-enforcement request
    CYBERTIP_VIEW = "cybertip_view"  # the CyberTipline queue and its drafts
    CYBERTIP_FILE = "cybertip_file"  # approving and filing a report to NCMEC


# 18 U.S.C. 2258B: as few people as possible. Admins run the service; they do not read
# evidence or reporters' contacts (an admin who needs to is given the legal role, audited).
_ROLE_RULES: dict[Resource, frozenset[Role]] = {
    Resource.REPORTER_CONTACT: frozenset({Role.LEGAL, Role.CHILD_SAFETY_SPECIALIST}),
    Resource.EVIDENCE_RECORD: frozenset({Role.LEGAL, Role.CHILD_SAFETY_SPECIALIST}),
    Resource.EVIDENCE_HOLD: frozenset({Role.LEGAL}),
    Resource.EVIDENCE_DESTROY: frozenset({Role.LEGAL}),
    Resource.CYBERTIP_VIEW: frozenset({Role.LEGAL, Role.CHILD_SAFETY_SPECIALIST}),
    Resource.CYBERTIP_FILE: frozenset({Role.LEGAL}),
}

# An item's bytes. Reviewers must see what they decide, so the bytes follow the cases: a
# reviewing role sees an item in a case it may open. The evidence roles see any kept item.
MEDIA_REVIEW_ROLES = frozenset(
    {Role.REVIEWER, Role.SENIOR_REVIEWER, Role.CHILD_SAFETY_SPECIALIST, Role.LEGAL}
)
MEDIA_EVIDENCE_ROLES = frozenset({Role.LEGAL, Role.CHILD_SAFETY_SPECIALIST})


def allowed(role: Role | None, resource: Resource) -> bool:
    """May a person with ``role`` reach ``resource``? ``None`` (a platform key) never may."""
    return role is not None and role in _ROLE_RULES[resource]


def roles_for(resource: Resource) -> frozenset[Role]:
    """The roles that reach ``resource`` (for messages and the Security model's table)."""
    return _ROLE_RULES[resource]


def may_grant(granter: Role | None, role: Role) -> bool:
    """May ``granter`` give a person ``role`` (create the account, or move one into it)?

    Whoever makes an account learns its first password, so giving a role is reaching what it
    reaches. Only a person with the admin role gives roles, and never one that reads evidence
    or reporters' contacts (the admin role reads neither): those are given by the operator
    (``takedown users create``/``role``), who holds the server anyway. A platform key makes no
    people at all: a person account opens cases, which no key does."""
    if granter is not Role.ADMIN:
        return False
    return not (allowed(role, Resource.EVIDENCE_RECORD) or allowed(role, Resource.REPORTER_CONTACT))


def may_open_case(role: Role | None, priority: str) -> bool:
    """A case of ``priority`` ("P0" ... "P3"): the case machine's rule (P0 cases are opened
    only by the child-safety, senior and legal roles and admins)."""
    return role is not None and can_view(StaffRole(role.value), Priority(priority))


def may_see_media(role: Role | None, case_priorities: Iterable[str]) -> bool:
    """An item's bytes, given the priorities of the cases the item belongs to."""
    if role is None:
        return False
    if role in MEDIA_EVIDENCE_ROLES:
        return True
    return role in MEDIA_REVIEW_ROLES and any(may_open_case(role, p) for p in case_priorities)
