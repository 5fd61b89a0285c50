"""Public report intake and the reporter's private status page (no account needed)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Header, Request, Response
from starlette.concurrency import run_in_threadpool

from takedown.api.clients import request_client
from takedown.api.errors import ApiError
from takedown.api.report_limits import admit_report
from takedown.api.schemas import (
    AppealIn,
    FingerprintOut,
    MessageIn,
    ReportAccepted,
    ReportIn,
    ReportReceipt,
    ReportStatusOut,
)
from takedown.api.security import optional_principal
from takedown.api.state import AppState, app_state, public_base
from takedown.auth.scopes import Scope, allows
from takedown.cases.validation import ReportDraft, validate
from takedown.cases.vocabulary import Appellant, Category, MinorDepicted, Relationship
from takedown.service import cases as case_service
from takedown.service.idempotency import BadKey, InProgress, Replay, Reused, Ticket
from takedown.service.intake import BadHash, ReportedHash, accept_report, report_signals
from takedown.service.reports import Accepted, ReportInvalid
from takedown.signals import AnySignal
from takedown.web.media import capture

router = APIRouter(prefix="/v1/reports", tags=["reports"])


def _draft(body: ReportIn) -> ReportDraft:
    return ReportDraft(
        category=Category(body.category),
        minor_depicted=MinorDepicted(body.minor_depicted),
        relationship=Relationship(body.relationship),
        content_urls=tuple(c.url.strip() for c in body.content if c.url and c.url.strip()),
        content_ids=tuple(
            c.content_id.strip() for c in body.content if c.content_id and c.content_id.strip()
        ),
        hashes=tuple((h.type, h.value.strip().lower()) for h in body.hashes),
        description=body.description,
        email=body.contact.email.strip() if body.contact else "",
        phone=body.contact.phone.strip() if body.contact else "",
        good_faith_statement=body.good_faith_statement,
        signature=body.signature,
    )


def _hash_signals(body: ReportIn) -> list[AnySignal]:
    try:
        return report_signals(
            [ReportedHash(h.type, h.value.strip().lower(), h.dihedral) for h in body.hashes]
        )
    except BadHash as bad:
        field = f"hashes.{bad.position}.{bad.part}"
        raise ApiError(
            422,
            "invalid_report",
            f"{field}: {bad.message}",
            errors=[{"field": field, "message": bad.message}],
        ) from None


def _ticket(state: AppState, caller: str, key: str, body: ReportIn) -> Ticket:
    try:
        return state.replays.ticket(caller, key, body.model_dump_json().encode())
    except BadKey as bad:
        raise ApiError(422, "invalid_idempotency_key", str(bad)) from None


async def _claim(state: AppState, ticket: Ticket) -> ReportAccepted | None:
    """The first answer when this is a retry of a stored report; None when it is new."""
    claim = await run_in_threadpool(state.replays.claim, state.db, ticket, state.now())
    if isinstance(claim, Replay):
        return ReportAccepted.model_validate_json(claim.answer)
    if isinstance(claim, Reused):
        raise ApiError(
            422,
            "idempotency_key_reused",
            "this Idempotency-Key was sent with a different report; use a new key",
        )
    if isinstance(claim, InProgress):
        raise ApiError(
            409,
            "idempotency_key_in_progress",
            "a report with this Idempotency-Key is being stored; retry in a few seconds",
        )
    return None


@router.post(
    "",
    response_model=ReportAccepted,
    status_code=201,
    responses={
        409: {"description": "A report with this Idempotency-Key is still being stored."},
        422: {"description": "Invalid report, or an Idempotency-Key reused with another body."},
        429: {"description": "Too many reports from this client, or from everyone just now."},
    },
)
async def submit_report(
    body: ReportIn,
    request: Request,
    response: Response,
    background: BackgroundTasks,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="Any unique string (a UUID): a retry with the same key and body within "
            "24 h gets the first answer (header `Idempotent-Replayed: true`), not a second "
            "report.",
        ),
    ] = None,
) -> ReportAccepted:
    """Report content, with no account. A report of a minor in sexual content, or of known
    child-abuse material, restricts the content in this same request. Rate limits count only
    accepted reports, and a P0 report is never refused because of other people's reports."""
    state = app_state(request)
    principal = await optional_principal(request)
    trusted = principal is not None and allows(
        principal.scopes, Scope.TRUSTED_FLAGGER, staff=principal.user_id is not None
    )
    signals = _hash_signals(body)
    draft = _draft(body)
    problems = validate(draft)
    if problems:
        raise ReportInvalid(problems)  # before any budget is charged or key claimed
    ticket = None
    if idempotency_key is not None:
        # a key is the caller's own: their API key's, else their (hashed) address's
        caller = (
            f"key:{principal.key_id}"
            if principal
            else state.limiter.client_key(request_client(request))
        )
        ticket = _ticket(state, caller, idempotency_key, body)
        replayed = await _claim(state, ticket)
        if replayed is not None:
            response.headers["Idempotent-Replayed"] = "true"
            return replayed
    try:
        if not trusted and not (await admit_report(request, draft, signals)).admitted:
            raise ApiError(
                429, "too_many_requests", "too many reports from here; try again shortly"
            )
        now = state.now()
        accepted = await run_in_threadpool(
            accept_report,
            state.db,
            state.index,
            state.policy,
            draft,
            signals,
            trusted_flagger=trusted,
            reporter_key_id=principal.key_id if principal else None,
            now=now,
        )
    except Exception:  # nothing stored: the key is free again (a crash leaves the claim)
        if ticket is not None:
            await run_in_threadpool(state.replays.release, state.db, ticket)
        raise
    state.wake.set()  # a restriction goes out now, not at the next poll
    if accepted.content_ids:  # captured (with media_url_template) and hashed as references
        background.add_task(
            capture, state.settings, state.evidence, list(accepted.content_ids), state.references
        )
    answer = _answer(request, draft, accepted, now)
    if ticket is not None:
        await run_in_threadpool(
            state.replays.complete, state.db, ticket, accepted.report_id, answer.model_dump_json()
        )
    return answer


def _answer(
    request: Request, draft: ReportDraft, accepted: Accepted, now: datetime
) -> ReportAccepted:
    status_url = f"{public_base(request)}/v1/reports/status/{accepted.status_token}"
    return ReportAccepted(
        report_id=accepted.report_id,
        status_token=accepted.status_token,
        status_url=status_url,
        case_id=str(accepted.case_id),
        receipt=ReportReceipt(
            received_at=now,
            category=draft.category.value,
            items_identified=len(draft.content_urls) + len(draft.content_ids) + len(draft.hashes),
            restricted=accepted.restricted,
            message=(
                "Received. The content has been restricted while a person reviews it."
                if accepted.restricted
                else "Received. A person will review it within the deadlines on our report page."
            ),
        ),
    )


def _status(state: AppState, token: str) -> ReportStatusOut:
    with state.db.read() as session:
        try:
            found = case_service.status(session, token, state.policy, state.now())
        except case_service.CaseNotFound:
            raise ApiError(404, "report_not_found", "no report has that status link") from None
    return ReportStatusOut(
        report_id=found.report_id,
        received_at=found.received_at,
        status=found.status,
        decision=found.decision,
        statement_of_reasons=found.statement,
        question=found.question,
        can_appeal=found.can_appeal,
        fingerprint=(
            FingerprintOut.model_validate(found.fingerprint.to_json())
            if found.fingerprint is not None
            else None
        ),
    )


@router.get("/status/{token}", response_model=ReportStatusOut)
def report_status(token: str, request: Request) -> ReportStatusOut:
    """The state and decision of the case this report is part of; nothing about others."""
    return _status(app_state(request), token)


@router.post("/status/{token}/reply", response_model=ReportStatusOut)
def reply(token: str, body: MessageIn, request: Request) -> ReportStatusOut:
    """Answer the reviewer's question to this report (when the status says
    need_more_information). 409 ``no_question`` when this report was asked nothing: a
    question to another reporter of the same case is theirs to answer."""
    state = app_state(request)
    with state.db.write() as session:
        try:
            case_service.reply(session, token, body.message, state.now())
        except case_service.CaseNotFound:
            raise ApiError(404, "report_not_found", "no report has that status link") from None
    return _status(state, token)


@router.post("/status/{token}/appeal", response_model=ReportStatusOut)
def reporter_appeal(token: str, body: AppealIn, request: Request) -> ReportStatusOut:
    """Appeal a dismissal (within 6 months); a reviewer who took no part decides."""
    state = app_state(request)
    with state.db.write() as session:
        try:
            report = case_service.report_for_token(session, token)
        except case_service.CaseNotFound:
            raise ApiError(404, "report_not_found", "no report has that status link") from None
        case_service.open_appeal(
            session,
            report.case_id,
            Appellant.REPORTER,
            body.reason,
            state.policy,
            state.now(),
            actor="reporter",
        )
    return _status(state, token)
