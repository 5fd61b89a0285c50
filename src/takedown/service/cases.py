"""Case use cases: decisions (through the pure state machine), acting on every copy, appeals,
the reporter's status, queues and the deadline clocks' tick. Each runs in the caller's
transaction; actions go through the outbox in that same transaction."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from takedown.actions.kinds import ActionKind
from takedown.actions.outbox import emit
from takedown.audit.log import SYSTEM, record
from takedown.cases import machine
from takedown.cases.clocks import ClockKind, ClockState, due_events
from takedown.cases.machine import CaseSnapshot, Effect, PastDecision, Refused, Reviewer, Ruling
from takedown.cases.policy import Policy
from takedown.cases.reasons import statement
from takedown.cases.vocabulary import (
    OPEN_STATES,
    AppealOutcome,
    Appellant,
    CaseState,
    Category,
    Outcome,
    Priority,
    StaffRole,
)
from takedown.matching import banks as bank_files
from takedown.service import banks as bank_service
from takedown.service import cybertip
from takedown.service.reports import restrict_content, token_digest
from takedown.service.watch import unwatch
from takedown.signals.strength import Fingerprint, weakest
from takedown.store.db import serialize
from takedown.store.models import (
    Appeal,
    AuditEvent,
    Case,
    CaseClock,
    CaseContent,
    Content,
    ContentSignal,
    Decision,
    Report,
    ReportQuestion,
)

EXACT_TYPES = frozenset({"md5", "sha256"})


@dataclass(frozen=True)
class CopyHit:
    """A content item found by hash from a case's reported items."""

    content_pk: int
    signal_type: str
    distance: float


@dataclass(frozen=True)
class CopySearch:
    """What the search for a case's copies found: the copies, and the reported items'
    reference entries (every turn and crop, hashed from the evidence bytes) that the bank
    keeps beside the signals taken at upload; empty where the bytes were not at hand."""

    hits: Sequence[CopyHit]
    references: Sequence[bank_files.BankEntry] = ()


CopyFinder = Callable[[Session, int], CopySearch]
"""Finds the copies of a case's reported items (see :mod:`takedown.service.copies`)."""


class CaseNotFound(LookupError):
    pass


def get_case(session: Session, case_id: int) -> Case:
    case = session.get(Case, case_id)
    if case is None:
        raise CaseNotFound(case_id)
    return case


@dataclass(frozen=True)
class CaseItem:
    """A content item a case reaches, with how (reported, or a copy by hash at a distance)."""

    link: CaseContent
    content: Content

    @property
    def fingerprint(self) -> Fingerprint | None:
        """How far this item's fingerprints find its copies (None for rows from before)."""
        return Fingerprint.from_json(self.content.fingerprint)


@dataclass(frozen=True)
class CaseFile:
    """Everything a reviewer reads about a case, for the API and the console alike."""

    case: Case
    reports: list[Report]
    questions: list[ReportQuestion]
    items: list[CaseItem]
    clocks: list[CaseClock]
    decisions: list[Decision]
    appeals: list[Appeal]
    history: list[AuditEvent]


def case_file(session: Session, case: Case) -> CaseFile:
    items = session.execute(
        select(CaseContent, Content)
        .join(Content, Content.id == CaseContent.content_pk)
        .where(CaseContent.case_id == case.id)
        .order_by(CaseContent.id)
    ).all()
    return CaseFile(
        case=case,
        reports=case_reports(session, case.id),
        questions=list(
            session.execute(
                select(ReportQuestion)
                .where(ReportQuestion.case_id == case.id)
                .order_by(ReportQuestion.id)
            ).scalars()
        ),
        items=[CaseItem(link, content) for link, content in items],
        clocks=list(
            session.execute(select(CaseClock).where(CaseClock.case_id == case.id)).scalars()
        ),
        decisions=list(
            session.execute(
                select(Decision).where(Decision.case_id == case.id).order_by(Decision.id)
            ).scalars()
        ),
        appeals=list(session.execute(select(Appeal).where(Appeal.case_id == case.id)).scalars()),
        history=list(
            session.execute(
                select(AuditEvent)
                .where(AuditEvent.subject == f"case:{case.id}")
                .order_by(AuditEvent.seq)
            ).scalars()
        ),
    )


def reported_fingerprint(session: Session, case_id: int) -> Fingerprint | None:
    """The weakest fingerprint among a case's reported items: what may honestly be said of
    the copy search and the block (None when no reported item's is known)."""
    stored = session.execute(
        select(Content.fingerprint)
        .join(CaseContent, CaseContent.content_pk == Content.id)
        .where(CaseContent.case_id == case_id, CaseContent.role == "reported")
    ).scalars()
    return weakest(Fingerprint.from_json(f) for f in stored)


def case_reports(session: Session, case_id: int) -> list[Report]:
    """A case's reports, first received first (the first is asked when no report is named)."""
    return list(
        session.execute(
            select(Report).where(Report.case_id == case_id).order_by(Report.id)
        ).scalars()
    )


def snapshot(session: Session, case: Case) -> CaseSnapshot:
    decisions = session.execute(
        select(Decision).where(Decision.case_id == case.id).order_by(Decision.id)
    ).scalars()
    return CaseSnapshot(
        state=CaseState(case.state),
        priority=Priority(case.priority),
        minor_alleged=case.minor_alleged,
        category=Category(case.category),
        restricted=case.restricted,
        decisions=tuple(
            PastDecision(d.reviewer_id, Outcome(d.outcome), d.recommendation)
            for d in decisions
            if not d.appeal
        ),
        appealed_from=CaseState(case.appealed_from) if case.appealed_from else None,
        decided_at=case.decided_at,
    )


def reported_pks(session: Session, case_id: int) -> list[int]:
    return list(
        session.execute(
            select(CaseContent.content_pk).where(
                CaseContent.case_id == case_id, CaseContent.role == "reported"
            )
        ).scalars()
    )


def decide(
    session: Session,
    case_id: int,
    reviewer: Reviewer,
    outcome: Outcome,
    *,
    category: Category | None,
    note: str,
    find_copies: CopyFinder,
    policy: Policy,
    now: datetime,
    ask: str | None = None,
) -> Decision:
    """``ask``: for ``need_more_info``, the public id of the report whose reporter is asked
    (default: the case's first report); only that reporter sees and answers the question."""
    serialize(session)
    case = get_case(session, case_id)
    if category is not None and outcome is Outcome.VIOLATION:
        case.category = category.value
    ruling = machine.decide(snapshot(session, case), reviewer, outcome, policy.suspend_uploader_on)
    asked = (
        _asked_report(session, case, ask, note) if Effect.ASK_REPORTER in ruling.effects else None
    )
    return _rule(
        session, case, reviewer, outcome.value, ruling, note, find_copies, policy, now, False, asked
    )


def _asked_report(session: Session, case: Case, ask: str | None, note: str) -> Report:
    """The report a question goes to: the one named (it must be part of the case), else the
    case's first report."""
    if not note.strip():
        raise Refused("question_required", "write the question for the reporter in the note")
    reports = case_reports(session, case.id)
    if ask is None:
        if not reports:
            raise Refused("no_reporter", "this case has no report, so there is no one to ask")
        return reports[0]
    for report in reports:
        if report.public_id == ask:
            return report
    raise Refused("report_not_in_case", "report_id names no report of this case")


def _rule(
    session: Session,
    case: Case,
    reviewer: Reviewer,
    outcome: str,
    ruling: Ruling,
    note: str,
    find_copies: CopyFinder,
    policy: Policy,
    now: datetime,
    appeal: bool,
    asked: Report | None = None,
) -> Decision:
    removing = Effect.REMOVE_ALL in ruling.effects
    search = find_copies(session, case.id) if removing else CopySearch(())
    copies = search.hits
    removed = _apply(session, case, ruling, search, policy, now, reviewer)
    if ruling.state is CaseState.CONFIRMED:
        stated = Outcome.VIOLATION
    elif ruling.state is CaseState.DISMISSED or outcome not in set(Outcome):
        stated = Outcome.NO_VIOLATION
    else:
        stated = Outcome(outcome)
    reasons = statement(
        stated,
        Category(case.category),
        copies=removed,
        facts=note or f"Reviewed by a person with the {reviewer.role.value} role.",
        automated_detection=bool(copies),
        fingerprint=reported_fingerprint(session, case.id),
    )
    decision = Decision(
        case_id=case.id,
        reviewer_id=reviewer.user_id,
        role=reviewer.role.value,
        outcome=outcome,
        category=case.category,
        recommendation=ruling.recommendation,
        appeal=appeal,
        statement=reasons.to_json(),
        note=note,
        created_at=now,
    )
    session.add(decision)
    for clock in _open_clocks(session, case.id):
        if clock.kind == ClockKind.RESTRICT.value:
            continue  # met when the platform acknowledges the restriction (actions.acknowledge)
        if clock.kind == ClockKind.FIRST_REVIEW.value or ruling.final:
            clock.met_at = now
    state = ruling.state
    if state is CaseState.CONFIRMED:
        state = CaseState.ACTIONED
    case.state = state.value
    case.updated_at = now
    if ruling.final:
        case.decided_at = now
        case.appealed_from = None
    if state is CaseState.ESCALATED:
        case.escalated = True
    if state is CaseState.DISMISSED and ruling.final and reported_pks(session, case.id):
        unwatch(session, case, policy, actor=f"user:{reviewer.user_id}")
    session.flush()
    _withdraw_questions(session, case.id, now)  # any decision ends the wait for an answer
    if asked is not None:
        session.add(
            ReportQuestion(
                report_id=asked.id,
                case_id=case.id,
                decision_id=decision.id,
                question=note,
                asked_at=now,
            )
        )
        session.flush()
    if state is CaseState.ACTIONED and case.category == Category.CHILD_SEXUAL_ABUSE.value:
        cybertip.open_draft(session, case, policy, now)
    record(
        session,
        f"user:{reviewer.user_id}",
        "case.appeal_decide" if appeal else "case.decide",
        f"case:{case.id}",
        {
            "outcome": outcome,
            "role": reviewer.role.value,
            "state": case.state,
            "recommendation": ruling.recommendation,
            "removed_items": removed,
            **({"asked_report": asked.public_id} if asked is not None else {}),
        },
    )
    return decision


def _withdraw_questions(session: Session, case_id: int, now: datetime) -> None:
    """Close the case's unanswered question: after any later decision the case no longer waits
    for it, so its reporter must not be shown it, nor move the case back to review."""
    for question in session.execute(
        select(ReportQuestion).where(
            ReportQuestion.case_id == case_id,
            ReportQuestion.answered_at.is_(None),
            ReportQuestion.withdrawn_at.is_(None),
        )
    ).scalars():
        question.withdrawn_at = now


def open_question(session: Session, report: Report) -> ReportQuestion | None:
    """The question this report's reporter is asked and has not answered, if the case is
    still waiting for it. Another report's question is never returned."""
    case = get_case(session, report.case_id)
    if case.state != CaseState.AWAITING_INFO.value:
        return None
    return session.execute(
        select(ReportQuestion)
        .where(
            ReportQuestion.report_id == report.id,
            ReportQuestion.answered_at.is_(None),
            ReportQuestion.withdrawn_at.is_(None),
        )
        .order_by(ReportQuestion.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def _open_clocks(session: Session, case_id: int) -> list[CaseClock]:
    return list(
        session.execute(
            select(CaseClock).where(
                CaseClock.case_id == case_id,
                CaseClock.met_at.is_(None),
                CaseClock.breached_at.is_(None),
            )
        ).scalars()
    )


def _apply(
    session: Session,
    case: Case,
    ruling: Ruling,
    search: CopySearch,
    policy: Policy,
    now: datetime,
    reviewer: Reviewer,
) -> int:
    """Carry out a ruling's effects; returns how many copies (beyond the reported items) were
    removed."""
    removed = 0
    effects = set(ruling.effects)
    if Effect.REMOVE_ALL in effects:
        removed = _remove_all(session, case, search, policy, now, reviewer)
    if Effect.RESTORE in effects:
        _restore(session, case, now)
    if Effect.UNBANK in effects:
        _unbank(session, case, reviewer)
    reported = list(
        session.execute(
            select(Content).where(Content.id.in_(reported_pks(session, case.id)))
        ).scalars()
    )
    if Effect.SUSPEND_UPLOADER in effects:
        for uploader in sorted({c.uploader_id for c in reported if c.uploader_id}):
            emit(
                session,
                ActionKind.SUSPEND_ACCOUNT,
                case_id=str(case.id),
                reason="confirmed_violation",
                data={"uploader_id": uploader, "category": case.category},
            )
    if Effect.NOTIFY_UPLOADER in effects:
        for content in reported:
            emit(
                session,
                ActionKind.NOTIFY,
                content_id=content.content_id,
                case_id=str(case.id),
                reason="statement_of_reasons",
                data={"recipient": "uploader", "uploader_id": content.uploader_id},
            )
    return removed


def _link(session: Session, case: Case, hit: CopyHit, now: datetime) -> CaseContent:
    row = session.execute(
        select(CaseContent).where(
            CaseContent.case_id == case.id, CaseContent.content_pk == hit.content_pk
        )
    ).scalar_one_or_none()
    if row is None:
        row = CaseContent(
            case_id=case.id,
            content_pk=hit.content_pk,
            role="copy",
            match_type=hit.signal_type,
            distance=hit.distance,
            added_at=now,
        )
        session.add(row)
        session.flush()
    return row


def _remove_all(
    session: Session,
    case: Case,
    search: CopySearch,
    policy: Policy,
    now: datetime,
    reviewer: Reviewer,
) -> int:
    """Remove the reported items and every close copy; restrict the farther ones for a quick
    confirm; bank the reported items' signals so that a re-upload is blocked. Returns how many
    copies were removed."""
    reported = set(reported_pks(session, case.id))
    remove: set[int] = set(reported)
    review: set[int] = set()
    for hit in search.hits:
        if hit.content_pk in remove:
            continue
        row = _link(session, case, hit, now)
        close = (
            hit.signal_type in EXACT_TYPES
            or hit.signal_type == "vpdq"
            or hit.distance <= policy.auto_remove_distance
        )
        if close:
            remove.add(hit.content_pk)
        elif hit.distance <= policy.review_distance:
            review.add(hit.content_pk)
            row.status = "needs_confirm"
    removed = 0
    links = {
        row.content_pk: row
        for row in session.execute(
            select(CaseContent).where(CaseContent.case_id == case.id)
        ).scalars()
    }
    for content in session.execute(select(Content).where(Content.id.in_(remove))).scalars():
        if content.status != "removed":
            emit(
                session,
                ActionKind.REMOVE,
                content_id=content.content_id,
                case_id=str(case.id),
                reason="confirmed_violation",
                data={"category": case.category},
            )
            content.status = "removed"
            content.updated_at = now
            removed += content.id not in reported
        if content.id in links:
            links[content.id].status = "removed"
    if review:
        restrict_content(session, case, sorted(review), now, reason="possible_copy")
    _bank(session, case, reviewer, search.references)
    return removed


def settle_copy(
    session: Session, case: Case, content_id: str, remove: bool, reviewer: Reviewer, now: datetime
) -> str:
    """Decide a possible copy the confirmation restricted for a quick look."""
    serialize(session)
    row = session.execute(
        select(CaseContent, Content)
        .join(Content, Content.id == CaseContent.content_pk)
        .where(CaseContent.case_id == case.id, Content.content_id == content_id)
    ).first()
    if row is None or row[0].status != "needs_confirm":
        raise Refused("not_a_pending_copy", "that item is not a possible copy awaiting a look")
    link, content = row[0], row[1]
    kind = ActionKind.REMOVE if remove else ActionKind.RESTORE
    emit(session, kind, content_id=content.content_id, case_id=str(case.id), reason="copy_review")
    content.status = link.status = "removed" if remove else "restored"
    content.updated_at = now
    record(
        session,
        f"user:{reviewer.user_id}",
        "case.copy_remove" if remove else "case.copy_restore",
        f"case:{case.id}",
        {"content": content.content_id},
    )
    return link.status


def confirmed_bank_name(category: str) -> str:
    return f"confirmed-{category}"


def _bank(
    session: Session, case: Case, reviewer: Reviewer, references: Sequence[bank_files.BankEntry]
) -> None:
    """Bank the reported items: the signals taken at upload and, where the copy search
    hashed the evidence bytes, every turn and crop of them. The platform's block-hash action
    carries the upload signals only (the variants are this service's to match)."""
    name = confirmed_bank_name(case.category)
    actor = f"user:{reviewer.user_id}"
    bank = bank_service.ensure_bank(
        session, name, description="Items confirmed by this platform's reviewers", actor=actor
    )
    rows = session.execute(
        select(ContentSignal.signal_type, ContentSignal.value, Content.content_id)
        .join(Content, Content.id == ContentSignal.content_pk)
        .join(CaseContent, CaseContent.content_pk == Content.id)
        .where(CaseContent.case_id == case.id, CaseContent.role == "reported")
    ).all()
    entries = [
        bank_files.BankEntry(t, v, f"case {case.id}", "takedown", f"content:{cid}")
        for t, v, cid in rows
    ]
    held = {(entry.signal_type, entry.value) for entry in entries}
    entries += [
        replace(entry, label=f"case {case.id}", source="takedown")
        for entry in references
        if (entry.signal_type, entry.value) not in held
    ]
    if entries:
        bank_service.add_entries(session, bank, entries, actor=actor, how="case", case_id=case.id)
        emit(
            session,
            ActionKind.BLOCK_HASH,
            case_id=str(case.id),
            reason="confirmed_violation",
            data={"bank": name, "signals": [{"type": t, "value": v} for t, v, _ in rows]},
        )


def _restore(session: Session, case: Case, now: datetime) -> None:
    rows = session.execute(select(CaseContent).where(CaseContent.case_id == case.id)).scalars()
    for row in rows:
        content = session.get(Content, row.content_pk)
        if content is not None and content.status in ("restricted", "removed"):
            emit(
                session,
                ActionKind.RESTORE,
                content_id=content.content_id,
                case_id=str(case.id),
                reason="decision_reversed" if case.appealed_from else "no_violation",
            )
            content.status = "restored"
            content.updated_at = now
            row.status = "restored"
    case.restricted = False


def _unbank(session: Session, case: Case, reviewer: Reviewer) -> None:
    bank_service.disable_case_entries(
        session, case.id, actor=f"user:{reviewer.user_id}", reason="appeal"
    )


def open_appeal(
    session: Session,
    case_id: int,
    appellant: Appellant,
    reason: str,
    policy: Policy,
    now: datetime,
    actor: str,
) -> Appeal:
    serialize(session)
    case = get_case(session, case_id)
    window = timedelta(days=policy.appeal_window_days)
    state = machine.appeal(snapshot(session, case), appellant, now, window)
    appeal = Appeal(case_id=case.id, appellant=appellant.value, reason=reason, created_at=now)
    session.add(appeal)
    case.appealed_from = case.state
    case.state = state.value
    case.updated_at = now
    session.flush()
    record(session, actor, "case.appeal", f"case:{case.id}", {"appellant": appellant.value})
    return appeal


def decide_appeal(
    session: Session,
    case_id: int,
    reviewer: Reviewer,
    outcome: AppealOutcome,
    *,
    note: str,
    find_copies: CopyFinder,
    policy: Policy,
    now: datetime,
) -> Decision:
    serialize(session)
    case = get_case(session, case_id)
    ruling = machine.decide_appeal(
        snapshot(session, case), reviewer, outcome, policy.suspend_uploader_on
    )
    appeal = session.execute(
        select(Appeal).where(Appeal.case_id == case.id, Appeal.decided_at.is_(None))
    ).scalar_one()
    appeal.decided_at = now
    appeal.outcome = outcome.value
    return _rule(
        session, case, reviewer, outcome.value, ruling, note, find_copies, policy, now, True
    )


def reply(session: Session, token: str, message: str, now: datetime) -> Case:
    """The reporter answers the question asked of their own report; the case goes back to
    review. A reporter asked nothing (another reporter of the case may be) is refused."""
    serialize(session)  # one at a time with decisions: the question cannot change under us
    report = report_for_token(session, token)
    question = open_question(session, report)
    if question is None:
        raise Refused("no_question", "the case is not waiting for information from you")
    case = get_case(session, report.case_id)
    question.answer = message
    question.answered_at = now
    case.state = CaseState.IN_REVIEW.value
    case.updated_at = now
    record(session, "reporter", "report.reply", f"case:{case.id}", {"report": report.public_id})
    return case


def report_for_token(session: Session, token: str) -> Report:
    report = session.execute(
        select(Report).where(Report.status_token_hash == token_digest(token))
    ).scalar_one_or_none()
    if report is None:
        raise CaseNotFound("report")
    return report


@dataclass(frozen=True)
class ReportStatus:
    report_id: str
    received_at: datetime
    status: str
    decision: str | None
    statement: dict[str, object] | None
    question: str
    can_appeal: bool
    fingerprint: Fingerprint | None = None


_STATUS = {
    CaseState.NEW: "received",
    CaseState.RESTRICTED: "restricted_pending_review",
    CaseState.IN_REVIEW: "under_review",
    CaseState.SECOND_REVIEW: "under_review",
    CaseState.ESCALATED: "under_review",
    CaseState.AWAITING_INFO: "need_more_information",
    CaseState.CONFIRMED: "removed",
    CaseState.ACTIONED: "removed",
    CaseState.DISMISSED: "no_violation_found",
    CaseState.IN_APPEAL: "in_appeal",
}


def status(session: Session, token: str, policy: Policy, now: datetime) -> ReportStatus:
    """What the reporter may see: their report's case state and final decision, and a question
    only if it was asked of this report; nothing about the case's other reports."""
    return status_of(session, report_for_token(session, token), policy, now)


def status_of(session: Session, report: Report, policy: Policy, now: datetime) -> ReportStatus:
    """:func:`status` for a report at hand (the status e-mails compare it with the last sent)."""
    case = get_case(session, report.case_id)
    state = CaseState(case.state)
    question = open_question(session, report)
    shown = _STATUS[state]
    if state is CaseState.AWAITING_INFO and question is None:
        shown = _STATUS[CaseState.IN_REVIEW]  # another reporter is asked; not this one
    final = session.execute(
        select(Decision)
        .where(Decision.case_id == case.id, Decision.recommendation.is_(False))
        .order_by(Decision.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    final_state = state in (CaseState.ACTIONED, CaseState.DISMISSED, CaseState.CONFIRMED)
    window = timedelta(days=policy.appeal_window_days)
    return ReportStatus(
        report_id=report.public_id,
        received_at=report.created_at,
        status=shown,
        decision=final.outcome if final is not None and final_state else None,
        statement=dict(final.statement) if final is not None and final_state else None,
        question=question.question if question is not None else "",
        can_appeal=state is CaseState.DISMISSED
        and case.decided_at is not None
        and now - case.decided_at <= window,
        fingerprint=reported_fingerprint(session, case.id),
    )


def tick(session: Session, policy: Policy, now: datetime) -> int:
    """Record the warnings and breaches due at ``now``; a breach escalates the case to the
    senior queue. Returns how many events were recorded."""
    serialize(session)
    rows = session.execute(
        select(CaseClock, Case)
        .join(Case, Case.id == CaseClock.case_id)
        .where(
            CaseClock.met_at.is_(None),
            CaseClock.breached_at.is_(None),
            Case.state.in_(list(OPEN_STATES)),
        )
    ).all()
    recorded = 0
    for clock, case in rows:
        state = ClockState(
            ClockKind(clock.kind),
            clock.started_at,
            clock.due_at,
            clock.met_at,
            tuple(float(w) for w in clock.warned.split(",") if w),
            clock.breached_at,
        )
        for event in due_events(policy, state, now, on_platform=not case.unresolved):
            if event.event == "breach":
                clock.breached_at = now
                case.escalated = True
            else:
                clock.warned = ",".join(x for x in (clock.warned, f"{event.share:g}") if x)
            record(
                session,
                SYSTEM,
                f"clock.{event.event}",
                f"case:{case.id}",
                {"clock": clock.kind, "share": event.share, "due_at": clock.due_at.isoformat()},
            )
            recorded += 1
    return recorded


@dataclass(frozen=True)
class QueueItem:
    case: Case
    next_due: datetime | None
    breached: bool


def queue(session: Session, role: StaffRole, name: str | None, limit: int = 100) -> list[QueueItem]:
    """Open cases the role may see, nearest deadline first; breached cases are in the senior
    queue (and stay in their own)."""
    visible = [p.value for p in Priority if machine.can_view(role, p)]
    query = select(Case).where(Case.state.in_(list(OPEN_STATES)), Case.priority.in_(visible))
    if name == "senior":
        query = query.where(Case.escalated.is_(True))
    elif name:
        query = query.where(Case.queue == name)
    cases = list(session.execute(query).scalars())
    if not cases:
        return []
    ids = [c.id for c in cases]
    due = dict(
        session.execute(
            select(CaseClock.case_id, func.min(CaseClock.due_at))
            .where(CaseClock.case_id.in_(ids), CaseClock.met_at.is_(None))
            .group_by(CaseClock.case_id)
        ).all()
    )
    breached = set(
        session.execute(
            select(CaseClock.case_id).where(
                CaseClock.case_id.in_(ids), CaseClock.breached_at.is_not(None)
            )
        ).scalars()
    )
    items = [QueueItem(c, due.get(c.id), c.id in breached) for c in cases]
    far = datetime.max.replace(tzinfo=items[0].case.created_at.tzinfo)
    items.sort(key=lambda i: (i.case.priority, i.next_due or far, i.case.id))
    return items[:limit]
