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
from takedown.legal.vault import VaultError
from takedown.store.models import Delivery, utcnow

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process answers (no dependency checked)."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    """Ready to answer lookups and open evidence: database reachable, indexes loaded, and the
    evidence vault opens with the master key as configured now (a key file lost or replaced
    while the service runs shows here at once). Not ready: 503 with the first problem's
    ``code``; the details (paths, key ids) are for `takedown vault status`, not this public
    answer."""
    state = app_state(request)
    try:
        state.db.ping()
        database = "ok"
    except Exception:
        database = "unreachable"
    try:
        state.evidence.refresh()
        vault = "ok"
    except VaultError as exc:
        vault = exc.code
    problems = [
        (code, message)
        for failed, code, message in (
            (database != "ok", "database_unreachable", "the database does not answer"),
            (not state.index.ready, "indexes_loading", "the match indexes are still loading"),
            (
                vault != "ok",
                vault,
                "the evidence vault does not open with the configured master key; "
                "run `takedown vault status` on the server",
            ),
        )
        if failed
    ]
    body: dict[str, object] = {
        "status": "not_ready" if problems else "ready",
        "database": database,
        "indexes": "loaded" if state.index.ready else "loading",
        "index_entries": state.index.sizes() if state.index.ready else {},
        "vault": vault,
    }
    if problems:
        body["code"], body["message"] = problems[0]
    return JSONResponse(body, status_code=503 if problems else 200)


@router.get("/metrics", response_class=Response)
def metrics(request: Request, principal: Principal = Depends(require(Scope.METRICS))) -> Response:
    """Prometheus metrics, for a key with the ``metrics`` scope (Prometheus sends it as a
    bearer token: ``authorization: {credentials_file: ...}`` in the scrape config). Not
    public: queue depths, index sizes and per-route traffic tell an outsider too much."""
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
