"""Report intake: validate by law, resolve the references, triage, join or open a case, start
its clocks and, for P0 (and P1 by policy), restrict the content in the same transaction.

No report is ever dropped: one whose references resolve to nothing still opens a case, marked
unresolved, for a person to follow up.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.actions.acknowledge import ALREADY, meet_restrict_clock
from takedown.actions.kinds import ActionKind
from takedown.actions.outbox import emit
from takedown.audit.log import record
from takedown.cases.clocks import ClockPlan, plan_clocks
from takedown.cases.policy import Policy, stronger, triage
from takedown.cases.validation import FieldProblem, ReportDraft, validate
from takedown.cases.vocabulary import OPEN_STATES, CaseState, MinorDepicted, Priority
from takedown.store.db import serialize
from takedown.store.models import Case, CaseClock, CaseContent, Content, Report


class ReportInvalid(ValueError):
    def __init__(self, problems: list[FieldProblem]) -> None:
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class Reached:
    """Content a report reaches: named by reference, or found by a hash it carried."""

    content_pk: int
    match_type: str = "reference"
    distance: float = 0.0


@dataclass(frozen=True)
class Accepted:
    report_id: str
    status_token: str
    case_id: int
    restricted: bool
    priority: Priority
    content_ids: tuple[str, ...] = ()  # the platform's ids of the items the report reaches


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def resolve_references(session: Session, draft: ReportDraft, policy: Policy) -> list[Reached]:
    """Content named by id or by URL (through the policy's URL patterns, then the stored URL)."""
    ids = set(draft.content_ids)
    urls = []
    for url in draft.content_urls:
        content_id = policy.content_id_for(url)
        if content_id:
            ids.add(content_id)
        else:
            urls.append(url.strip())
    found: list[Content] = []
    if ids:
        found += session.execute(select(Content).where(Content.content_id.in_(ids))).scalars()
    if urls:
        found += session.execute(select(Content).where(Content.url.in_(urls))).scalars()
    return [Reached(c.id) for c in {c.id: c for c in found}.values()]


def restrict_content(
    session: Session, case: Case, content_pks: Sequence[int], now: datetime, reason: str
) -> int:
    """Restrict live content of a case on the platform (one action each, in this
    transaction); returns how many were restricted."""
    count = 0
    for content in session.execute(select(Content).where(Content.id.in_(content_pks))).scalars():
        if content.status not in ("live", "restored"):
            continue
        emit(
            session,
            ActionKind.RESTRICT,
            content_id=content.content_id,
            case_id=str(case.id),
            reason=reason,
            data={"priority": case.priority, "category": case.category},
        )
        content.status = "restricted"
        content.updated_at = now
        count += 1
    if count or content_pks:
        case.restricted = True
        # the restrict clock is met when the platform acknowledges the action (a 2xx webhook
        # delivery or a fetch), not here; only when nothing new was written (the content was
        # already restricted or removed) may the earlier acknowledgements meet it now
        session.flush()
        meet_restrict_clock(session, [case.id], ALREADY, now)
    return count


def _banked_as_child_abuse(session: Session, content_pks: Sequence[int], policy: Policy) -> bool:
    """Whether any reached item matched a child-abuse bank when it was uploaded."""
    if not content_pks:
        return False
    for content in session.execute(select(Content).where(Content.id.in_(content_pks))).scalars():
        if any(m.get("bank") in policy.child_abuse_banks for m in content.matches):
            return True
    return False


def start_clocks(session: Session, case_id: int, plans: Iterable[ClockPlan]) -> None:
    """Write a case's planned clocks."""
    for clock in plans:
        session.add(
            CaseClock(
                case_id=case_id,
                kind=clock.kind.value,
                started_at=clock.started_at,
                due_at=clock.due_at,
            )
        )
    session.flush()


def _clocks(session: Session, case_id: int) -> list[CaseClock]:
    return list(session.execute(select(CaseClock).where(CaseClock.case_id == case_id)).scalars())


def _open_case_for(session: Session, content_pks: Sequence[int]) -> Case | None:
    if not content_pks:
        return None
    return session.execute(
        select(Case)
        .join(CaseContent, CaseContent.case_id == Case.id)
        .where(CaseContent.content_pk.in_(content_pks), Case.state.in_(list(OPEN_STATES)))
        .order_by(Case.id)
        .limit(1)
    ).scalar_one_or_none()


def _references(references: dict[str, object]) -> set[str]:
    keys: set[str] = set()
    for name in ("urls", "content_ids"):
        values = references.get(name)
        if isinstance(values, list):
            keys.update(f"{name}:{v}" for v in values)
    return keys


def _open_unresolved_case_for(session: Session, draft: ReportDraft) -> Case | None:
    """An unresolved open case already reported with one of the same links or ids."""
    wanted = {f"urls:{u}" for u in draft.content_urls} | {
        f"content_ids:{c}" for c in draft.content_ids
    }
    if not wanted:
        return None
    rows = session.execute(
        select(Case, Report.references)
        .join(Report, Report.case_id == Case.id)
        .where(Case.unresolved.is_(True), Case.state.in_(list(OPEN_STATES)))
        .order_by(Case.id)
    ).all()
    for row in rows:
        found: Case = row[0]
        if wanted & _references(row[1]):
            return found
    return None


def submit(
    session: Session,
    draft: ReportDraft,
    policy: Policy,
    *,
    reached: Sequence[Reached] = (),
    related: Callable[[Session, Sequence[int]], Sequence[int]] | None = None,
    child_abuse_match: bool = False,
    trusted_flagger: bool,
    reporter_key_id: int | None,
    now: datetime,
) -> Accepted:
    problems = validate(draft)
    if problems:
        raise ReportInvalid(problems)
    serialize(session)
    named = resolve_references(session, draft, policy)
    named_pks = {n.content_pk for n in named}
    reached = [*named, *(r for r in reached if r.content_pk not in named_pks)]
    child_abuse_match = child_abuse_match or _banked_as_child_abuse(
        session, [r.content_pk for r in reached], policy
    )
    plan = triage(
        policy,
        draft.category,
        draft.minor_depicted,
        child_abuse_match=child_abuse_match,
        trusted_flagger=trusted_flagger,
    )
    content_pks = sorted({r.content_pk for r in reached})
    # copies of the reported items (found by hash) lead to the open case about any of them
    nearby = sorted(set(content_pks) | set(related(session, content_pks) if related else ()))
    case = _open_case_for(session, nearby) or (
        None if content_pks else _open_unresolved_case_for(session, draft)
    )
    minor = draft.minor_depicted in (MinorDepicted.YES, MinorDepicted.UNSURE)
    if case is None:
        case = Case(
            state=CaseState.NEW.value,
            priority=plan.priority.value,
            queue=plan.queue.value,
            category=draft.category.value,
            minor_alleged=minor,
            unresolved=not content_pks,
            takedown_request=draft.takedown_request,
            created_at=now,
            updated_at=now,
        )
        session.add(case)
        session.flush()
        plans = plan_clocks(
            policy, plan.priority, draft.takedown_request, now, on_platform=bool(content_pks)
        )
        start_clocks(session, case.id, plans)
    else:
        _join(
            session, case, plan.priority, plan.queue.value, draft, minor, policy, now, content_pks
        )
    linked = {
        row.content_pk
        for row in session.execute(
            select(CaseContent).where(CaseContent.case_id == case.id)
        ).scalars()
    }
    for r in reached:
        if r.content_pk not in linked:
            session.add(
                CaseContent(
                    case_id=case.id,
                    content_pk=r.content_pk,
                    role="reported",
                    match_type=r.match_type,
                    distance=r.distance,
                    added_at=now,
                )
            )
            linked.add(r.content_pk)
    if plan.restrict and linked:
        restrict_content(session, case, sorted(linked), now, reason="report_restriction")
    if case.restricted and case.state == CaseState.NEW.value:
        case.state = CaseState.RESTRICTED.value
    token = secrets.token_urlsafe(24)  # 192 bits
    report = Report(
        public_id="rep_" + secrets.token_hex(8),
        case_id=case.id,
        status_token_hash=token_digest(token),
        category=draft.category.value,
        minor_depicted=draft.minor_depicted.value,
        relationship=draft.relationship.value,
        description=draft.description,
        contact_email=draft.email,
        contact_phone=draft.phone,
        good_faith_statement=draft.good_faith_statement,
        signature=draft.signature,
        trusted_flagger=trusted_flagger,
        reporter_key_id=reporter_key_id,
        references={
            "urls": list(draft.content_urls),
            "content_ids": list(draft.content_ids),
            "hashes": [{"type": t, "value": v} for t, v in draft.hashes],
        },
        created_at=now,
    )
    session.add(report)
    session.flush()
    record(
        session,
        "public" if reporter_key_id is None else f"key:{reporter_key_id}",
        "report.receive",
        f"case:{case.id}",
        {
            "report": report.public_id,
            "category": draft.category.value,
            "priority": case.priority,
            "restricted": case.restricted,
            "resolved_items": len(content_pks),
            "trusted_flagger": trusted_flagger,
        },
    )
    reached_ids = tuple(
        session.execute(select(Content.content_id).where(Content.id.in_(content_pks))).scalars()
    )
    return Accepted(
        report.public_id, token, case.id, case.restricted, Priority(case.priority), reached_ids
    )


def _join(
    session: Session,
    case: Case,
    priority: Priority,
    queue: str,
    draft: ReportDraft,
    minor: bool,
    policy: Policy,
    now: datetime,
    content_pks: Sequence[int] = (),
) -> None:
    """A report on content already in an open case joins it, raising its priority if needed."""
    raised = stronger(Priority(case.priority), priority)
    if raised.value != case.priority:
        case.priority = raised.value
        case.queue = queue
    have = {c.kind for c in _clocks(session, case.id)}
    on_platform = bool(content_pks) or not case.unresolved
    plans = plan_clocks(policy, raised, draft.takedown_request, now, on_platform=on_platform)
    start_clocks(session, case.id, [c for c in plans if c.kind.value not in have])
    case.minor_alleged = case.minor_alleged or minor
    case.takedown_request = case.takedown_request or draft.takedown_request
    case.updated_at = now
