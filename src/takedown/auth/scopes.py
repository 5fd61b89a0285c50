"""Scopes an API key can hold, and the scopes each staff role's token gets."""

from __future__ import annotations

from enum import StrEnum


class Scope(StrEnum):
    CONTENT_WRITE = "content:write"
    LOOKUP = "lookup"
    BANKS_READ = "banks:read"
    BANKS_WRITE = "banks:write"
    BANKS_EXPORT = "banks:export"
    ACTIONS_READ = "actions:read"
    WEBHOOKS_WRITE = "webhooks:write"
    AUDIT_READ = "audit:read"
    CASES_READ = "cases:read"
    CASES_DECIDE = "cases:decide"
    APPEALS_WRITE = "appeals:write"
    TRUSTED_FLAGGER = "trusted_flagger"
    EVIDENCE = "evidence"
    METRICS = "metrics"  # scraping /metrics (a Prometheus bearer token)
    EXCHANGES_ADMIN = "exchanges:admin"  # configuring hash-sharing exchanges and their credentials
    EXCHANGE_READ = "exchange:read"  # another takedown reading this one's shared-hash feed
    ADMIN = "admin"


class Role(StrEnum):
    ADMIN = "admin"
    REVIEWER = "reviewer"
    SENIOR_REVIEWER = "senior_reviewer"
    CHILD_SAFETY_SPECIALIST = "child_safety_specialist"
    LEGAL = "legal"


# What a staff member's token may call. Platform-integration scopes (registering content,
# reading the action feed with its uploader ids, relaying appeals, flagging as a trusted
# flagger) belong to the platform's keys, never to a person's token; hash lists of the banks
# (``banks:export``) go only to the roles that build banks. A role's token never holds
# ``admin`` implicitly: the admin role's token is given the admin scope, and ``allows`` below
# keeps the person-only scopes out of what ``admin`` implies.
ROLE_SCOPES: dict[Role, frozenset[Scope]] = {
    Role.ADMIN: frozenset(
        {
            Scope.ADMIN,
            Scope.METRICS,
            Scope.EXCHANGES_ADMIN,
            Scope.LOOKUP,
            Scope.BANKS_READ,
            Scope.BANKS_WRITE,
            Scope.BANKS_EXPORT,
            Scope.WEBHOOKS_WRITE,
            Scope.AUDIT_READ,
            Scope.CASES_READ,
            Scope.CASES_DECIDE,
        }
    ),
    Role.CHILD_SAFETY_SPECIALIST: frozenset(
        {
            Scope.LOOKUP,
            Scope.BANKS_READ,
            Scope.BANKS_WRITE,
            Scope.BANKS_EXPORT,
            Scope.AUDIT_READ,
            Scope.CASES_READ,
            Scope.CASES_DECIDE,
            Scope.EVIDENCE,
        }
    ),
    Role.SENIOR_REVIEWER: frozenset(
        {Scope.LOOKUP, Scope.BANKS_READ, Scope.CASES_READ, Scope.CASES_DECIDE}
    ),
    Role.REVIEWER: frozenset(
        {Scope.LOOKUP, Scope.BANKS_READ, Scope.CASES_READ, Scope.CASES_DECIDE}
    ),
    Role.LEGAL: frozenset(
        {
            Scope.LOOKUP,
            Scope.BANKS_READ,
            Scope.AUDIT_READ,
            Scope.CASES_READ,
            Scope.EVIDENCE,
        }
    ),
}

# Scopes that ``admin`` does not imply: evidence is reached by a person's role only.
NOT_IMPLIED_BY_ADMIN = frozenset({Scope.EVIDENCE})


def parse_scopes(values: list[str]) -> frozenset[Scope]:
    """Scopes by name (comma or space separated); raises ValueError naming the valid ones."""
    names = [n for value in values for n in value.replace(",", " ").split()]
    try:
        return frozenset(Scope(n) for n in names)
    except ValueError:
        bad = [n for n in names if n not in {s.value for s in Scope}]
        valid = ", ".join(s.value for s in Scope)
        raise ValueError(f"unknown scope(s) {', '.join(bad)}; valid scopes: {valid}") from None


def allows(held: frozenset[Scope], needed: Scope, *, staff: bool = False) -> bool:
    """A platform key with ``admin`` may call everything but the person-only scopes; a staff
    token holds exactly its role's scopes (``admin`` implies nothing more for a person, so an
    admin's token cannot read the action feed's uploader ids or the evidence)."""
    if needed in held:
        return True
    return not staff and Scope.ADMIN in held and needed not in NOT_IMPLIED_BY_ADMIN
