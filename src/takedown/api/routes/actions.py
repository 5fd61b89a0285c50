"""Actions for the platform (pull with a cursor), webhooks and their delivery log."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Query, Request
from sqlalchemy import select

from takedown.actions import delivery as delivery_service
from takedown.actions import webhooks as webhook_service
from takedown.actions.acknowledge import RESTRICTING, acknowledge, by_fetch
from takedown.actions.addresses import Networks, UrlRefused, check_new
from takedown.actions.breaker import Circuit, CircuitState
from takedown.actions.kinds import ActionKind
from takedown.actions.outbox import after, payload
from takedown.api.errors import ApiError
from takedown.api.schemas import MAX_ID, ActionOut, ActionsPage, DeliveryOut, WebhookIn, WebhookOut
from takedown.api.security import require
from takedown.api.state import app_state
from takedown.audit.log import record
from takedown.auth.accounts import Principal
from takedown.auth.scopes import Scope
from takedown.store.db import serialize
from takedown.store.models import Action, Delivery, Webhook, utcnow

router = APIRouter(prefix="/v1", tags=["actions"])


@router.get("/actions", response_model=ActionsPage)
def list_actions(
    request: Request,
    after_cursor: int = Query(0, alias="after", ge=0, le=MAX_ID, description="Last cursor seen"),
    limit: int = Query(100, ge=1, le=1000),
    principal: Principal = Depends(require(Scope.ACTIONS_READ)),
) -> ActionsPage:
    """Actions in the order they were decided; pass the last ``cursor`` as ``after`` to get
    only newer ones (an alternative, or a backstop, to webhooks). A platform key's fetch
    acknowledges the actions it returns (a restriction fetched meets the restrict clock)."""
    state = app_state(request)
    db = state.db
    with db.read() as session:
        rows = after(session, after_cursor, limit)
        page = ActionsPage(
            actions=[ActionOut.model_validate(payload(a)) for a in rows],
            next_cursor=rows[-1].id if rows else after_cursor,
        )
    fresh = [a for a in rows if a.acknowledged_at is None]
    if fresh and principal.user_id is None:  # the platform's integration, not a person
        with db.write() as session:
            if any(a.kind in RESTRICTING for a in fresh):
                serialize(session)  # first, before any action row (see acknowledge)
            actions = session.execute(
                select(Action).where(Action.id.in_([a.id for a in fresh]))
            ).scalars()
            acknowledge(session, actions, by_fetch(principal.key_id), state.now())
    return page


def _webhook_out(hook: Webhook, secret: str | None = None) -> WebhookOut:
    circuit = Circuit(hook.consecutive_failures, hook.circuit_open_until)
    return WebhookOut(
        id=hook.id,
        url=hook.url,
        kinds=hook.kinds.split(),
        enabled=hook.enabled,
        created_at=hook.created_at,
        secret=secret,
        circuit=circuit.state(utcnow()).value,
        consecutive_failures=hook.consecutive_failures,
        circuit_open_until=hook.circuit_open_until,
    )


@router.post("/webhooks", response_model=WebhookOut, status_code=201)
def create_webhook(
    body: WebhookIn,
    request: Request,
    principal: Principal = Depends(require(Scope.WEBHOOKS_WRITE)),
) -> WebhookOut:
    """Register a receiver (http or https, outside ``webhook_deny_networks``: else 422
    ``invalid_webhook_url``); the signing secret is in this answer only."""
    state = app_state(request)
    try:
        checked = check_new(body.url, Networks.from_settings(state.settings))
    except UrlRefused as refused:
        raise ApiError(422, "invalid_webhook_url", str(refused)) from None
    with state.db.write() as session:
        hook, secret = webhook_service.create_webhook(
            session, checked, [ActionKind(k) for k in body.kinds], principal.actor
        )
        return _webhook_out(hook, secret)


@router.get("/webhooks", response_model=list[WebhookOut])
def list_webhooks(
    request: Request, principal: Principal = Depends(require(Scope.WEBHOOKS_WRITE))
) -> list[WebhookOut]:
    with app_state(request).db.read() as session:
        return [_webhook_out(h) for h in session.execute(select(Webhook)).scalars()]


@router.delete("/webhooks/{webhook_id}", status_code=204)
def disable_webhook(
    request: Request,
    webhook_id: int = Path(ge=1, le=MAX_ID),
    principal: Principal = Depends(require(Scope.WEBHOOKS_WRITE)),
) -> None:
    """Stop sending to a receiver (its delivery log is kept)."""
    with app_state(request).db.write() as session:
        hook = session.get(Webhook, webhook_id)
        if hook is None:
            raise ApiError(404, "webhook_not_found", f"no webhook {webhook_id}")
        webhook_service.disable_webhook(session, hook, principal.actor)


@router.get("/webhooks/{webhook_id}/deliveries", response_model=list[DeliveryOut])
def list_deliveries(
    request: Request,
    webhook_id: int = Path(ge=1, le=MAX_ID),
    status: str | None = Query(None, pattern="^(pending|delivered|failed)$"),
    limit: int = Query(100, ge=1, le=1000),
    principal: Principal = Depends(require(Scope.WEBHOOKS_WRITE)),
) -> list[DeliveryOut]:
    """The delivery log, newest first."""
    with app_state(request).db.read() as session:
        hook = session.get(Webhook, webhook_id)
        held = hook is not None and (
            Circuit(hook.consecutive_failures, hook.circuit_open_until).state(utcnow())
            is not CircuitState.CLOSED
        )
        query = (
            select(Delivery, Action)
            .join(Action, Action.id == Delivery.action_id)
            .where(Delivery.webhook_id == webhook_id)
            .order_by(Delivery.id.desc())
            .limit(limit)
        )
        if status:
            query = query.where(Delivery.status == status)
        return [
            DeliveryOut(
                id=d.id,
                action_key=a.key,
                action=a.kind,
                status=d.status,
                attempts=d.attempts,
                next_attempt_at=d.next_attempt_at,
                last_status=d.last_status,
                last_error=d.last_error,
                delivered_at=d.delivered_at,
                held_by_circuit=held and d.status == "pending",
            )
            for d, a in session.execute(query).all()
        ]


@router.post("/deliveries/{delivery_id}/retry", status_code=202)
def retry_delivery(
    request: Request,
    delivery_id: int = Path(ge=1, le=MAX_ID),
    principal: Principal = Depends(require(Scope.WEBHOOKS_WRITE)),
) -> dict[str, object]:
    """Make a waiting or failed delivery due now (same idempotency key, same body)."""
    state = app_state(request)
    if not delivery_service.retry_now(state.db, delivery_id):
        raise ApiError(404, "delivery_not_found", f"no undelivered delivery {delivery_id}")
    with state.db.write() as session:
        record(session, principal.actor, "delivery.retry", f"delivery:{delivery_id}", {})
    return {"id": delivery_id, "status": "pending"}
