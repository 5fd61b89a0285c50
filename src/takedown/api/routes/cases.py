"""Staff case work: queues, a case's full picture, decisions, appeals. Staff tokens only (the
role decides what is visible: P0 cases only to child-safety, senior and legal staff)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request
from sqlalchemy.orm import Session

from takedown.api.errors import ApiError
from takedown.api.schemas import (
    MAX_ID,
    AppealDecisionIn,
    AppealIn,
    CaseSummary,
    CopyDecisionIn,
    DecisionIn,
    DecisionOut,
)
from takedown.api.security import require
from takedown.api.state import app_state
from takedown.audit.log import record
from takedown.auth import access
from takedown.auth.access import Resource
from takedown.auth.accounts import Principal
from takedown.auth.scopes import Scope
from takedown.cases.machine import Refused, Reviewer, can_view
from takedown.cases.vocabulary import (
    AppealOutcome,
    Appellant,
    Category,
    Outcome,
    Priority,
    StaffRole,
)
from takedown.service import cases as case_service
from takedown.service.copies import copies_in
from takedown.store.models import (
    Case,
    Decision,
    ReportQuestion,
)

router = APIRouter(prefix="/v1/cases", tags=["cases"])


def _staff(principal: Principal) -> Reviewer:
    if principal.user_id is None or principal.role is None:
        raise ApiError(403, "staff_only", "case work needs a staff token (takedown users token)")
    return Reviewer(principal.user_id, StaffRole(principal.role.value))


def _visible_case(session: Session, case_id: int, reviewer: Reviewer) -> Case:
    case = case_service.get_case(session, case_id)
    if not can_view(reviewer.role, Priority(case.priority)):
        raise ApiError(404, "case_not_found", "no such case")  # do not confirm it exists
    return case


@router.get("", response_model=list[CaseSummary])
def list_cases(
    request: Request,
    queue: str | None = Query(None, pattern="^(child_safety|ncii|general|senior)$"),
    limit: int = Query(100, ge=1, le=1000),
    principal: Principal = Depends(require(Scope.CASES_READ)),
) -> list[CaseSummary]:
    """Open cases by queue, nearest deadline first (P0 first)."""
    reviewer = _staff(principal)
    with app_state(request).db.read() as session:
        return [
            CaseSummary(
                case_id=str(item.case.id),
                state=item.case.state,
                priority=item.case.priority,
                queue=item.case.queue,
                category=item.case.category,
                minor_alleged=item.case.minor_alleged,
                restricted=item.case.restricted,
                unresolved=item.case.unresolved,
                escalated=item.case.escalated,
                breached=item.breached,
                next_due=item.next_due,
                created_at=item.case.created_at,
            )
            for item in case_service.queue(session, reviewer.role, queue, limit)
        ]


@router.get("/{case_id}")
def get_case(
    request: Request,
    case_id: int = Path(ge=1, le=MAX_ID),
    principal: Principal = Depends(require(Scope.CASES_READ)),
) -> dict[str, Any]:
    """Reports, content and copies with match distances, clocks, decisions, appeals, history.
    Reporter contacts only for the legal and child-safety roles."""
    state = app_state(request)
    reviewer = _staff(principal)
    with state.db.write() as session:
        case = _visible_case(session, case_id, reviewer)
        record(session, principal.actor, "case.view", f"case:{case.id}", {})
        found = case_service.case_file(session, case)
        asked = {r.id: r.public_id for r in found.reports}
        questions = [_question_out(q, asked[q.report_id]) for q in found.questions]
        open_questions = [q for q in questions if q["open"]]
        show_contact = access.allowed(principal.role, Resource.REPORTER_CONTACT)
        return {
            "case_id": str(case.id),
            "state": case.state,
            "priority": case.priority,
            "queue": case.queue,
            "category": case.category,
            "minor_alleged": case.minor_alleged,
            "restricted": case.restricted,
            "unresolved": case.unresolved,
            "escalated": case.escalated,
            "takedown_request": case.takedown_request,
            # the open question (one per case at most) and the report it was asked of
            "question": open_questions[-1]["question"] if open_questions else "",
            "question_report_id": open_questions[-1]["report_id"] if open_questions else None,
            "created_at": case.created_at.isoformat(),
            "decided_at": case.decided_at.isoformat() if case.decided_at else None,
            "reports": [
                {
                    "report_id": r.public_id,
                    "received_at": r.created_at.isoformat(),
                    "category": r.category,
                    "minor_depicted": r.minor_depicted,
                    "relationship": r.relationship,
                    "description": r.description,
                    "references": r.references,
                    "trusted_flagger": r.trusted_flagger,
                    "reply": _latest_answer(found.questions, r.id),
                    "questions": [q for q in questions if q["report_id"] == r.public_id],
                    "contact": {"email": r.contact_email, "phone": r.contact_phone}
                    if show_contact
                    else None,
                }
                for r in found.reports
            ],
            "content": [
                {
                    "content_id": content.content_id,
                    "url": content.url,
                    "kind": content.kind,
                    "status": content.status,
                    "role": link.role,
                    "match_type": link.match_type,
                    "distance": link.distance,
                    "case_status": link.status,
                }
                for link, content in ((i.link, i.content) for i in found.items)
            ],
            "clocks": [
                {
                    "kind": c.kind,
                    "started_at": c.started_at.isoformat(),
                    "due_at": c.due_at.isoformat(),
                    "met_at": c.met_at.isoformat() if c.met_at else None,
                    "warned": [float(w) for w in c.warned.split(",") if w],
                    "breached_at": c.breached_at.isoformat() if c.breached_at else None,
                }
                for c in found.clocks
            ],
            "decisions": [
                {
                    "decision_id": d.id,
                    "reviewer": f"user:{d.reviewer_id}",
                    "role": d.role,
                    "outcome": d.outcome,
                    "recommendation": d.recommendation,
                    "appeal": d.appeal,
                    "statement_of_reasons": d.statement,
                    "note": d.note,
                    "created_at": d.created_at.isoformat(),
                }
                for d in found.decisions
            ],
            "appeals": [
                {
                    "appellant": a.appellant,
                    "reason": a.reason,
                    "created_at": a.created_at.isoformat(),
                    "outcome": a.outcome,
                }
                for a in found.appeals
            ],
            "history": [
                {
                    "seq": e.seq,
                    "at": e.at,
                    "actor": e.actor,
                    "action": e.action,
                    "data": json.loads(e.data),
                }
                for e in found.history
            ],
        }


def _question_out(question: ReportQuestion, report_id: str) -> dict[str, Any]:
    return {
        "report_id": report_id,
        "question": question.question,
        "asked_at": question.asked_at.isoformat(),
        "answer": question.answer,
        "answered_at": question.answered_at.isoformat() if question.answered_at else None,
        "withdrawn_at": question.withdrawn_at.isoformat() if question.withdrawn_at else None,
        "open": question.answered_at is None and question.withdrawn_at is None,
    }


def _latest_answer(questions: list[ReportQuestion], report_pk: int) -> str:
    answers = [q.answer for q in questions if q.report_id == report_pk and q.answered_at]
    return answers[-1] if answers else ""


# a decision's refusals that are about the request's fields, not the case's state
_FIELD_REFUSALS = frozenset({"report_not_in_case", "question_required"})


def _decision_out(case: Case, decision: Decision) -> DecisionOut:
    return DecisionOut(
        decision_id=decision.id,
        case_id=str(case.id),
        state=case.state,
        outcome=decision.outcome,
        recommendation=decision.recommendation,
        statement_of_reasons=decision.statement,
    )


@router.post("/{case_id}/decisions", response_model=DecisionOut, status_code=201)
def decide(
    body: DecisionIn,
    request: Request,
    case_id: int = Path(ge=1, le=MAX_ID),
    principal: Principal = Depends(require(Scope.CASES_DECIDE)),
) -> DecisionOut:
    """Decide a case. A violation removes the item and every copy and banks it; on a case
    alleging a minor, a "no violation" needs a second, senior reviewer. ``need_more_info``
    asks one reporter (``report_id``, default the case's first report) the question in
    ``note``; only that reporter sees and answers it."""
    state = app_state(request)
    reviewer = _staff(principal)
    outcome = Outcome(body.outcome)
    if body.report_id is not None and outcome is not Outcome.NEED_MORE_INFO:
        raise ApiError(
            422, "report_id_without_question", "report_id is only for outcome need_more_info"
        )
    find_copies = copies_in(state.index, state.evidence, state.references)
    if outcome is Outcome.VIOLATION:  # hash the references before the write lock is taken
        find_copies.prepare(state.db, case_id)
    with state.db.write() as session:
        case = _visible_case(session, case_id, reviewer)
        try:
            decision = case_service.decide(
                session,
                case.id,
                reviewer,
                outcome,
                category=Category(body.category) if body.category else None,
                note=body.note,
                find_copies=find_copies,
                policy=state.policy,
                now=state.now(),
                ask=body.report_id,
            )
        except Refused as refused:
            if refused.code in _FIELD_REFUSALS:
                raise ApiError(422, refused.code, refused.message) from None
            raise
        out = _decision_out(case, decision)
    state.wake.set()
    return out


@router.post("/{case_id}/appeals", status_code=201)
def uploader_appeal(
    body: AppealIn,
    request: Request,
    case_id: int = Path(ge=1, le=MAX_ID),
    principal: Principal = Depends(require(Scope.APPEALS_WRITE)),
) -> dict[str, str]:
    """The platform forwards its user's appeal against a removal (within 6 months)."""
    state = app_state(request)
    with state.db.write() as session:
        case_service.open_appeal(
            session,
            case_id,
            Appellant.UPLOADER,
            body.reason,
            state.policy,
            state.now(),
            actor=principal.actor,
        )
        case = case_service.get_case(session, case_id)
        return {"case_id": str(case.id), "state": case.state}


@router.post("/{case_id}/appeal-decision", response_model=DecisionOut, status_code=201)
def decide_appeal(
    body: AppealDecisionIn,
    request: Request,
    case_id: int = Path(ge=1, le=MAX_ID),
    principal: Principal = Depends(require(Scope.CASES_DECIDE)),
) -> DecisionOut:
    """Decide an open appeal (only a reviewer who took no part in the case)."""
    state = app_state(request)
    reviewer = _staff(principal)
    find_copies = copies_in(state.index, state.evidence, state.references)
    if AppealOutcome(body.outcome) is AppealOutcome.OVERTURNED:  # may remove every copy
        find_copies.prepare(state.db, case_id)
    with state.db.write() as session:
        case = _visible_case(session, case_id, reviewer)
        decision = case_service.decide_appeal(
            session,
            case.id,
            reviewer,
            AppealOutcome(body.outcome),
            note=body.note,
            find_copies=find_copies,
            policy=state.policy,
            now=state.now(),
        )
        out = _decision_out(case, decision)
    state.wake.set()
    return out


@router.post("/{case_id}/copies/{content_id}", status_code=200)
def confirm_copy(
    body: CopyDecisionIn,
    request: Request,
    content_id: str,
    case_id: int = Path(ge=1, le=MAX_ID),
    principal: Principal = Depends(require(Scope.CASES_DECIDE)),
) -> dict[str, str]:
    """The quick confirm of a possible copy (PDQ distance 17..31): ``remove`` it as a copy of
    the confirmed item, or ``restore`` it as unrelated."""
    state = app_state(request)
    reviewer = _staff(principal)
    with state.db.write() as session:
        case = _visible_case(session, case_id, reviewer)
        status = case_service.settle_copy(
            session, case, content_id, body.decision == "remove", reviewer, state.now()
        )
        return {"case_id": str(case.id), "content_id": content_id, "status": status}
