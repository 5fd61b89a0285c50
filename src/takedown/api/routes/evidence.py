"""Evidence access (18 U.S.C. 2258B: as few people as possible). The item's bytes follow the
one media rule (``auth.access.may_see_media``, the same the console's media route asks): the
legal and child-safety roles, and a reviewing role for an item in a case it may open. The
sealed record (uploader, IP events), holds and destruction are for the legal and child-safety
roles as ``auth.access`` says. Every read, hold and destruction is an audit event."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from takedown.api.errors import ApiError
from takedown.api.security import require, require_access
from takedown.api.state import app_state
from takedown.audit.log import record
from takedown.auth.access import Resource
from takedown.auth.accounts import Principal
from takedown.auth.scopes import Scope
from takedown.media import MediaError, MediaLimits, detect
from takedown.service.access import may_see_media

router = APIRouter(prefix="/v1/evidence", tags=["evidence"])


class HoldIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    hold: bool
    reason: str = Field("", max_length=2000)


class DestroyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    request_reference: str = Field(min_length=1, max_length=200)
    reason: str = Field("", max_length=2000)


@router.get("/{content_id}", response_class=Response)
def read_evidence(
    content_id: str, request: Request, principal: Principal = Depends(require(Scope.CASES_READ))
) -> Response:
    state = app_state(request)
    with state.db.write() as session:
        allowed = may_see_media(session, principal.role, content_id)
        if not allowed:  # the refusal is recorded: the transaction must commit before the 403
            record(session, principal.actor, "evidence.read_refused", f"content:{content_id}", {})
    if not allowed:
        raise ApiError(
            403, "forbidden", "this item's bytes are open to you only through a case you review"
        )
    data = state.evidence.get(content_id)
    if data is None:
        raise ApiError(404, "evidence_not_found", "no evidence is kept for that content")
    with state.db.write() as session:
        record(session, principal.actor, "evidence.read", f"content:{content_id}", {})
    try:
        mime = detect(data, MediaLimits()).mime
    except MediaError:
        mime = "application/octet-stream"
    return Response(data, media_type=mime, headers={"Cache-Control": "no-store"})


@router.get("/{content_id}/record")
def evidence_record(
    content_id: str, request: Request, principal: Principal = Depends(require(Scope.EVIDENCE))
) -> dict[str, object]:
    """The item's metadata (uploader, URL, times, IP events) and its retention."""
    require_access(principal, Resource.EVIDENCE_RECORD)
    state = app_state(request)
    metadata = state.evidence.vault.metadata(content_id)
    sealed = state.evidence.vault.retention(content_id)
    if metadata is None or sealed is None:
        raise ApiError(404, "evidence_not_found", "no evidence is kept for that content")
    with state.db.write() as session:
        record(session, principal.actor, "evidence.read_record", f"content:{content_id}", {})
    return {
        "metadata": metadata,
        "created_at": sealed.created_at,
        "expires_at": sealed.expires_at,
        "legal_hold": sealed.legal_hold,
    }


@router.post("/{content_id}/hold")
def legal_hold(
    content_id: str,
    body: HoldIn,
    request: Request,
    principal: Principal = Depends(require(Scope.EVIDENCE)),
) -> dict[str, object]:
    """Put an item under legal hold (no expiry until lifted), or lift the hold."""
    require_access(principal, Resource.EVIDENCE_HOLD)
    state = app_state(request)
    if not state.evidence.vault.set_hold(content_id, body.hold):
        raise ApiError(404, "evidence_not_found", "no evidence is kept for that content")
    with state.db.write() as session:
        record(
            session,
            principal.actor,
            "evidence.hold" if body.hold else "evidence.release",
            f"content:{content_id}",
            {"reason": body.reason},
        )
    return {"content_id": content_id, "legal_hold": body.hold}


@router.post("/{content_id}/destroy")
def destroy(
    content_id: str,
    body: DestroyIn,
    request: Request,
    principal: Principal = Depends(require(Scope.EVIDENCE)),
) -> dict[str, object]:
    """Destroy an item's evidence at once, on a law-enforcement request (2258B): legal staff."""
    require_access(principal, Resource.EVIDENCE_DESTROY)
    state = app_state(request)
    if not state.evidence.vault.destroy(content_id):
        raise ApiError(404, "evidence_not_found", "no evidence is kept for that content")
    with state.db.write() as session:
        record(
            session,
            principal.actor,
            "evidence.destroy",
            f"content:{content_id}",
            {"request_reference": body.request_reference, "reason": body.reason},
        )
    return {"content_id": content_id, "destroyed": True}
