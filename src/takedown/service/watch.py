"""Watching for reported images.

A reporter who has a copy of the image gives its hashes (the report page computes them in the
browser). They go into the policy's watch bank, whose action is ``hold``: an upload that matches
one is restricted at once and joins the reporter's open case (:mod:`takedown.service.uploads`),
so the image is stopped even when it is posted after the report, and a reviewer who can see it
decides.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from takedown.audit.log import SYSTEM
from takedown.cases.policy import Policy
from takedown.cases.vocabulary import Category
from takedown.matching import banks as bank_files
from takedown.service import banks as bank_service
from takedown.store.models import Case


def watch(
    session: Session,
    case_id: int,
    report_id: str,
    hashes: Sequence[tuple[str, str]],
    category: Category,
    policy: Policy,
) -> int:
    """Watch for a report's hashes (values already validated); returns how many entries.
    The entries carry the case, which a matching upload joins, and no personal data."""
    if not hashes or category not in policy.watch_categories:
        return 0
    entries = [
        bank_files.BankEntry(t, v, category.value, f"report:{report_id}", f"case:{case_id}")
        for t, v in dict.fromkeys(hashes)
    ]
    bank = bank_service.ensure_bank(
        session,
        policy.watch_bank,
        description="Hashes reporters gave of their own copies: a match is held for review",
        action="hold",
        actor=SYSTEM,
    )
    ids = bank_service.add_entries(
        session, bank, entries, actor="public", how="report", case_id=case_id
    )
    return len(ids)


def unwatch(session: Session, case: Case, policy: Policy, actor: str) -> int:
    """Lift a case's watch (a reviewer saw the reached content and found no violation)."""
    return bank_service.disable_case_entries(
        session, case.id, actor=actor, reason="no_violation", bank_name=policy.watch_bank
    )
