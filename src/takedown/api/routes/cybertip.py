"""The CyberTipline queue: reports drafted from confirmed child-sexual-abuse cases, approved by
legal staff and then filed with NCMEC (test or production service, from configuration)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel
from sqlalchemy import select

from takedown.api.errors import ApiError
from takedown.api.schemas import MAX_ID
from takedown.api.security import require, require_access
from takedown.api.state import AppState, app_state
from takedown.auth.access import Resource
from takedown.auth.accounts import Principal
from takedown.auth.scopes import Scope
from takedown.legal.cybertip import ReporterContact
from takedown.legal.ncmec import NcmecClient, NcmecConfig, NcmecError
from takedown.service import cybertip
from takedown.store.models import CyberTipReport

router = APIRouter(prefix="/v1/cybertipline", tags=["cybertipline"])


class TipOut(BaseModel):
    id: int
    case_id: str
    state: str
    ncmec_report_id: str | None
    files: int
    last_error: str


def _out(tip: CyberTipReport) -> TipOut:
    return TipOut(
        id=tip.id,
        case_id=str(tip.case_id),
        state=tip.state,
        ncmec_report_id=tip.ncmec_report_id,
        files=len(tip.files or {}),
        last_error=tip.last_error,
    )


def reporter_settings(state: AppState) -> cybertip.ReporterSettings:
    s = state.settings
    return cybertip.ReporterSettings(
        ReporterContact(
            s.reporter_company,
            s.reporter_first_name,
            s.reporter_last_name,
            s.reporter_email,
            s.reporter_phone,
        ),
        timedelta(days=s.preservation_days),
    )


def ncmec_client(state: AppState) -> NcmecClient:
    s = state.settings
    if cybertip.missing_settings(s):
        raise ApiError(
            409,
            "ncmec_not_configured",
            "set ncmec_username, ncmec_password and the reporter_* keys before filing",
        )
    return NcmecClient(NcmecConfig(s.ncmec_url, s.ncmec_username, s.ncmec_password))


@router.get("", response_model=list[TipOut])
def queue(
    request: Request,
    state_filter: str | None = Query(None, alias="state", max_length=20),
    principal: Principal = Depends(require(Scope.CASES_READ)),
) -> list[TipOut]:
    require_access(principal, Resource.CYBERTIP_VIEW)
    with app_state(request).db.read() as session:
        query = select(CyberTipReport).order_by(CyberTipReport.id)
        if state_filter:
            query = query.where(CyberTipReport.state == state_filter)
        return [_out(t) for t in session.execute(query).scalars()]


def _file(state: AppState, tip_id: int) -> TipOut:
    client = ncmec_client(state)
    try:
        tip = cybertip.file_report(
            state.db, client, state.evidence, reporter_settings(state), tip_id, state.now()
        )
    except NcmecError as error:
        raise ApiError(502, "ncmec_error", str(error), ncmec_code=error.code) from None
    except ValueError as error:
        raise ApiError(422, "report_invalid", str(error)) from None
    finally:
        client.close()
    return _out(tip)


@router.post("/{tip_id}/approve", response_model=TipOut)
def approve_and_file(
    request: Request,
    tip_id: int = Path(ge=1, le=MAX_ID),
    principal: Principal = Depends(require(Scope.CASES_READ)),
) -> TipOut:
    """A legal reviewer approves the report; it is filed at once."""
    require_access(principal, Resource.CYBERTIP_FILE)
    state = app_state(request)
    ncmec_client(state).close()  # refuse before approving when filing cannot happen
    with state.db.write() as session:
        try:
            cybertip.approve(session, tip_id, principal.user_id or 0, state.now())
        except cybertip.TipRefused as refused:
            raise ApiError(409, refused.code, str(refused)) from None
    return _file(state, tip_id)


@router.post("/{tip_id}/file", response_model=TipOut)
def resume_filing(
    request: Request,
    tip_id: int = Path(ge=1, le=MAX_ID),
    principal: Principal = Depends(require(Scope.CASES_READ)),
) -> TipOut:
    """Resume an interrupted or failed filing (never a second submission)."""
    require_access(principal, Resource.CYBERTIP_FILE)
    try:
        return _file(app_state(request), tip_id)
    except cybertip.TipRefused as refused:
        raise ApiError(409, refused.code, str(refused)) from None
