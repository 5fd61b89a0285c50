"""Operations: liveness, readiness, Prometheus metrics, and the audit log."""

from __future__ import annotations

import json
from datetime import datetime

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import func, select

from takedown.api.schemas import MAX_ID, AuditEventOut, AuditVerifyOut
from takedown.api.security import require
from takedown.api.state import app_state
from takedown.audit import log as audit_log
from takedown.auth.accounts import Principal
from takedown.auth.scopes import Scope
from takedown.store.models import Delivery, utcnow

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process answers (no dependency checked)."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    """Ready to answer lookups: database reachable and indexes loaded."""
    state = app_state(request)
    try:
        state.db.ping()
        database = "ok"
    except Exception:
        database = "unreachable"
    ready = database == "ok" and state.index.ready
    body = {
        "status": "ready" if ready else "not_ready",
        "database": database,
        "indexes": "loaded" if state.index.ready else "loading",
        "index_entries": state.index.sizes() if state.index.ready else {},
    }
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics", response_class=Response)
def metrics(request: Request) -> Response:
    state = app_state(request)
    for name, size in state.index.sizes().items():
        state.metrics.index_size.labels(name).set(size)
    with state.db.read() as session:
        pending, oldest = session.execute(
            select(func.count(), func.min(Delivery.created_at)).where(Delivery.status == "pending")
        ).one()
    state.metrics.outbox_pending.set(pending)
    lag = (utcnow() - oldest).total_seconds() if isinstance(oldest, datetime) else 0.0
    state.metrics.outbox_lag.set(lag)
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)


@router.get("/v1/audit", response_model=list[AuditEventOut], tags=["audit"])
def list_audit(
    request: Request,
    after: int = Query(0, ge=0, le=MAX_ID),
    limit: int = Query(100, ge=1, le=1000),
    principal: Principal = Depends(require(Scope.AUDIT_READ)),
) -> list[AuditEventOut]:
    with app_state(request).db.read() as session:
        return [
            AuditEventOut(
                seq=e.seq,
                at=e.at,
                actor=e.actor,
                action=e.action,
                subject=e.subject,
                data=json.loads(e.data),
                hash=e.hash,
            )
            for e in audit_log.events(session, after=after, limit=limit)
        ]


@router.get("/v1/audit/verify", response_model=AuditVerifyOut, tags=["audit"])
def verify_audit(
    request: Request, principal: Principal = Depends(require(Scope.AUDIT_READ))
) -> AuditVerifyOut:
    result = audit_log.verify(app_state(request).db)
    return AuditVerifyOut(
        ok=result.ok,
        events=result.events,
        first_bad_seq=result.problem.seq if result.problem else None,
        reason=result.problem.reason if result.problem else None,
    )
