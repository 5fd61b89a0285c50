"""What an upload's verdict sets going, in the transaction that registers it.

A ``hold`` always means a person looks: the held upload joins the open case whose watched hashes
it matches (:mod:`takedown.service.watch`), else a case of its own. A ``block`` by a child-abuse
bank is known material that someone tried to post: a case is opened already actioned, with a
CyberTipline draft for legal to approve and file (18 U.S.C. 2258A), and the bytes, when the
platform sent them, are kept as evidence.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.audit.log import SYSTEM, record
from takedown.cases.clocks import plan_clocks
from takedown.cases.policy import Policy, triage
from takedown.cases.vocabulary import (
    OPEN_STATES,
    CaseState,
    Category,
    MinorDepicted,
    Priority,
)
from takedown.service import cybertip
from takedown.service.content import MatchInfo
from takedown.service.reports import restrict_content, start_clocks
from takedown.store.models import (
    BankEntry,
    Case,
    CaseClock,
    CaseContent,
    Content,
    CyberTipReport,
)


def review_held(
    session: Session,
    content: Content,
    matches: Sequence[MatchInfo],
    policy: Policy,
    now: datetime,
) -> Case:
    """Put a held upload before a person: into the open case whose watched hashes it matches
    (the nearest match's), else into a new case. ``matches`` made the verdict ``hold``, so at
    least one is a hold bank's."""
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
    if case is None:
        case = _open_case(session, held, entries, policy, now)
    _attach(session, case, content, held[0], "content.held", now)
    if case.unresolved:  # a case about a link elsewhere: now there is something to restrict
        clocks = select(CaseClock.kind).where(CaseClock.case_id == case.id)
        have = set(session.execute(clocks).scalars())
        plans = plan_clocks(policy, Priority(case.priority), case.takedown_request, now)
        start_clocks(session, case.id, [p for p in plans if p.kind.value not in have])
    restrict_content(session, case, [content.id], now, reason="held_at_upload")
    case.unresolved = False
    if case.state == CaseState.NEW.value:
        case.state = CaseState.RESTRICTED.value
    case.updated_at = now
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
    start_clocks(session, case.id, plan_clocks(policy, plan.priority, False, now))
    return case


def report_blocked(
    session: Session,
    content: Content,
    matches: Sequence[MatchInfo],
    policy: Policy,
    now: datetime,
) -> Case | None:
    """A block by a child-abuse bank: a case opened as actioned (the bank's entry is the
    judgement; nothing was published), with a CyberTipline draft and its filing clock."""
    known = sorted(
        (m for m in matches if m.action == "block" and m.bank in policy.child_abuse_banks),
        key=lambda m: m.distance,
    )
    if not known or not policy.report_blocked_uploads:
        return None
    earlier = _earlier_attempt(session, content, known, policy, now)
    if earlier is not None:
        _attach(session, earlier, content, known[0], "content.blocked_again", now)
        earlier.updated_at = now
        return earlier
    plan = triage(policy, Category.CHILD_SEXUAL_ABUSE, MinorDepicted.NO, child_abuse_match=True)
    case = Case(
        state=CaseState.ACTIONED.value,
        priority=plan.priority.value,
        queue=plan.queue.value,
        category=Category.CHILD_SEXUAL_ABUSE.value,
        minor_alleged=False,
        unresolved=False,
        takedown_request=False,
        created_at=now,
        updated_at=now,
        decided_at=now,
    )
    session.add(case)
    session.flush()
    _attach(session, case, content, known[0], "content.blocked_known", now)
    cybertip.open_draft(session, case, policy, now)
    return case


def _earlier_attempt(
    session: Session,
    content: Content,
    known: Sequence[MatchInfo],
    policy: Policy,
    now: datetime,
) -> Case | None:
    """The case of this uploader's earlier blocked attempt at the same material (a bank entry
    this upload matched too) within the policy's window, while its CyberTipline report is not
    yet approved: the attempts are one incident, reported once with every attempt listed."""
    if not content.uploader_id or policy.attempts_window_s <= 0:
        return None
    entries = {m.entry_id for m in known}
    since = now - timedelta(seconds=policy.attempts_window_s)
    rows = session.execute(
        select(Case, Content)
        .join(CaseContent, CaseContent.case_id == Case.id)
        .join(Content, Content.id == CaseContent.content_pk)
        .join(CyberTipReport, CyberTipReport.case_id == Case.id)
        .where(
            Content.uploader_id == content.uploader_id,
            Content.id != content.id,
            Content.verdict == "block",
            CaseContent.added_at >= since,
            CyberTipReport.state == "draft",
        )
        .order_by(CaseContent.added_at.desc(), Case.id.desc())
    ).all()
    for case, attempt in rows:
        if any(str(m.get("entry_id")) in entries for m in attempt.matches):
            found: Case = case
            return found
    return None


def _attach(
    session: Session, case: Case, content: Content, nearest: MatchInfo, event: str, now: datetime
) -> None:
    """Link the upload to its case as a reported item, through its nearest match, and say so
    in the audit log."""
    session.add(
        CaseContent(
            case_id=case.id,
            content_pk=content.id,
            role="reported",
            match_type=nearest.signal_type,
            distance=nearest.distance,
            added_at=now,
        )
    )
    session.flush()
    record(
        session,
        SYSTEM,
        event,
        f"case:{case.id}",
        {
            "content": content.content_id,
            "bank": nearest.bank,
            "signal_type": nearest.signal_type,
            "distance": nearest.distance,
        },
    )
