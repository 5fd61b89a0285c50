"""Watching for reported images, and sending held uploads to a person.

A reporter who has a copy of the image gives its hashes (the report page computes them in the
browser). They go into the policy's watch bank, whose action is ``hold``: an upload that matches
one is restricted at once and joins the reporter's open case, so the image is stopped even when
it is posted after the report, and a reviewer who can see it decides. Any other held upload (a
near match in a ``hold`` bank) opens a case of its own: a hold always means a person looks.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.audit.log import record
from takedown.cases.clocks import plan_clocks
from takedown.cases.policy import Policy, triage
from takedown.cases.vocabulary import OPEN_STATES, CaseState, Category, MinorDepicted
from takedown.matching import banks as bank_files
from takedown.service import banks as bank_service
from takedown.service.content import MatchInfo
from takedown.service.reports import restrict_content
from takedown.store.models import Bank, BankEntry, Case, CaseClock, CaseContent, Content

ACTOR = "takedown"


def watch_bank(session: Session, policy: Policy) -> Bank:
    bank = session.execute(select(Bank).where(Bank.name == policy.watch_bank)).scalar_one_or_none()
    if bank is None:
        bank = bank_service.create_bank(
            session,
            policy.watch_bank,
            description="Hashes reporters gave of their own copies: a match is held for review",
            action="hold",
            actor=ACTOR,
        )
    return bank


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
    bank = watch_bank(session, policy)
    ids = bank_service.add_entries(
        session, bank, entries, actor="public", how="report", case_id=case_id
    )
    return len(ids)


def unwatch(session: Session, case: Case, policy: Policy, actor: str) -> int:
    """Lift a case's watch (a reviewer saw the reached content and found no violation)."""
    rows = session.execute(
        select(BankEntry)
        .join(Bank, Bank.id == BankEntry.bank_id)
        .where(
            BankEntry.case_id == case.id,
            BankEntry.enabled.is_(True),
            Bank.name == policy.watch_bank,
        )
    ).scalars()
    entries = list(rows)
    for entry in entries:
        bank = session.get(Bank, entry.bank_id)
        assert bank is not None
        bank_service.set_entry_enabled(
            session, bank, entry.id, False, actor=actor, reason="no_violation"
        )
    return len(entries)


def review_held(
    session: Session,
    content: Content,
    matches: Sequence[MatchInfo],
    policy: Policy,
    now: datetime,
) -> Case:
    """Put a held upload before a person: into the open case whose watched hashes it matches
    (the nearest match's), else into a new case. The content is already restricted (the hold
    verdict wrote its ``restrict`` action)."""
    held = sorted((m for m in matches if m.action == "hold"), key=lambda m: m.distance)
    entries = {
        entry.id: entry
        for entry in session.execute(
            select(BankEntry).where(BankEntry.id.in_([int(m.entry_id) for m in held]))
        ).scalars()
    }
    case: Case | None = None
    for match in held:
        entry = entries.get(int(match.entry_id))
        if entry is not None and entry.case_id is not None:
            candidate = session.get(Case, entry.case_id)
            if candidate is not None and CaseState(candidate.state) in OPEN_STATES:
                case = candidate
                break
    nearest = held[0] if held else None
    if case is None:
        case = _open_case(session, held, entries, policy, now)
    session.add(
        CaseContent(
            case_id=case.id,
            content_pk=content.id,
            role="reported",
            match_type=nearest.signal_type if nearest else None,
            distance=nearest.distance if nearest else None,
            added_at=now,
        )
    )
    session.flush()
    restrict_content(session, case, [content.id], now, reason="held_at_upload")
    case.unresolved = False
    if case.state == CaseState.NEW.value:
        case.state = CaseState.RESTRICTED.value
    case.updated_at = now
    record(
        session,
        ACTOR,
        "content.held",
        f"case:{case.id}",
        {
            "content": content.content_id,
            "bank": nearest.bank if nearest else None,
            "signal_type": nearest.signal_type if nearest else None,
            "distance": nearest.distance if nearest else None,
        },
    )
    return case


def _open_case(
    session: Session,
    held: Sequence[MatchInfo],
    entries: dict[int, BankEntry],
    policy: Policy,
    now: datetime,
) -> Case:
    """A case for a held upload no open case watches for: its category from the matched
    entry's label when that names one, its priority and clocks by the policy."""
    labels = {entries[int(m.entry_id)].label for m in held if int(m.entry_id) in entries}
    category = next(
        (c for c in Category if c.value in labels and c is not Category.OTHER), Category.OTHER
    )
    plan = triage(
        policy,
        category,
        MinorDepicted.NO,
        child_abuse_match=any(m.bank in policy.child_abuse_banks for m in held),
    )
    case = Case(
        state=CaseState.RESTRICTED.value,
        priority=plan.priority.value,
        queue=plan.queue.value,
        category=category.value,
        minor_alleged=False,
        unresolved=False,
        takedown_request=False,
        created_at=now,
        updated_at=now,
    )
    session.add(case)
    session.flush()
    for clock in plan_clocks(policy, plan.priority, False, now):
        session.add(
            CaseClock(
                case_id=case.id,
                kind=clock.kind.value,
                started_at=clock.started_at,
                due_at=clock.due_at,
            )
        )
    session.flush()
    return case
