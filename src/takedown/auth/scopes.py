"""Scopes an API key can hold, and the scopes each staff role's token gets."""

from __future__ import annotations

from enum import StrEnum


class Scope(StrEnum):
    CONTENT_WRITE = "content:write"
    LOOKUP = "lookup"
    BANKS_READ = "banks:read"
    BANKS_WRITE = "banks:write"
    ACTIONS_READ = "actions:read"
    WEBHOOKS_WRITE = "webhooks:write"
    AUDIT_READ = "audit:read"
    CASES_READ = "cases:read"
    CASES_DECIDE = "cases:decide"
    APPEALS_WRITE = "appeals:write"
    TRUSTED_FLAGGER = "trusted_flagger"
    EVIDENCE = "evidence"
    ADMIN = "admin"


class Role(StrEnum):
    ADMIN = "admin"
    REVIEWER = "reviewer"
    SENIOR_REVIEWER = "senior_reviewer"
    CHILD_SAFETY_SPECIALIST = "child_safety_specialist"
    LEGAL = "legal"


ROLE_SCOPES: dict[Role, frozenset[Scope]] = {
    Role.ADMIN: frozenset(Scope),
    Role.CHILD_SAFETY_SPECIALIST: frozenset(
        {
            Scope.LOOKUP,
            Scope.BANKS_READ,
            Scope.BANKS_WRITE,
            Scope.ACTIONS_READ,
            Scope.AUDIT_READ,
            Scope.CASES_READ,
            Scope.CASES_DECIDE,
            Scope.EVIDENCE,
        }
    ),
    Role.SENIOR_REVIEWER: frozenset(
        {Scope.LOOKUP, Scope.BANKS_READ, Scope.ACTIONS_READ, Scope.CASES_READ, Scope.CASES_DECIDE}
    ),
    Role.REVIEWER: frozenset(
        {Scope.LOOKUP, Scope.BANKS_READ, Scope.ACTIONS_READ, Scope.CASES_READ, Scope.CASES_DECIDE}
    ),
    Role.LEGAL: frozenset(
        {
            Scope.LOOKUP,
            Scope.BANKS_READ,
            Scope.ACTIONS_READ,
            Scope.AUDIT_READ,
            Scope.CASES_READ,
            Scope.EVIDENCE,
        }
    ),
}


def parse_scopes(values: list[str]) -> frozenset[Scope]:
    """Scopes by name (comma or space separated); raises ValueError naming the valid ones."""
    names = [n for value in values for n in value.replace(",", " ").split()]
    try:
        return frozenset(Scope(n) for n in names)
    except ValueError:
        bad = [n for n in names if n not in {s.value for s in Scope}]
        valid = ", ".join(s.value for s in Scope)
        raise ValueError(f"unknown scope(s) {', '.join(bad)}; valid scopes: {valid}") from None


def allows(held: frozenset[Scope], needed: Scope) -> bool:
    return needed in held or Scope.ADMIN in held
