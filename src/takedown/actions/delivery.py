"""Webhook delivery: claim due deliveries, POST them signed, record every attempt.

At-least-once with one idempotency key per action: a delivery is claimed by pushing its next
attempt time past a lease in a committed transaction *before* the request is sent. A process
killed mid-request leaves the claim to expire and the delivery is retried with the same key and
the same body, so a receiver that remembers keys applies each action exactly once. Retries back
off exponentially (with jitter) until ``webhook_give_up_h`` after the action was created.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import select

from takedown.actions.outbox import body
from takedown.actions.signing import ACTION_HEADER, IDEMPOTENCY_HEADER, SIGNATURE_HEADER, sign
from takedown.store.db import Database
from takedown.store.models import Action, Delivery, DeliveryAttempt, Webhook, utcnow

log = logging.getLogger("takedown.delivery")

PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"


@dataclass(frozen=True)
class RetryPolicy:
    base_s: float = 10.0
    max_s: float = 3600.0
    give_up_h: float = 72.0
    timeout_s: float = 10.0

    def delay(self, attempts: int) -> float:
        """Seconds before attempt ``attempts + 1``: base * 2^(attempts-1), capped, +-20%."""
        raw: float = min(self.max_s, self.base_s * 2.0 ** max(0, attempts - 1))
        jitter: float = random.uniform(0.8, 1.2)  # noqa: S311 (jitter, not a secret)
        return raw * jitter


@dataclass(frozen=True)
class _Claim:
    delivery_id: int
    url: str
    secret: str
    key: str
    kind: str
    body: bytes
    action_created: datetime


def _claim(db: Database, policy: RetryPolicy, limit: int) -> list[_Claim]:
    now = utcnow()
    # long enough for the request to time out and be settled; short enough that a killed
    # worker's claims come back soon
    lease = now + timedelta(seconds=2 * policy.timeout_s + 1)
    with db.write() as session:
        query = (
            select(Delivery, Webhook, Action)
            .join(Webhook, Webhook.id == Delivery.webhook_id)
            .join(Action, Action.id == Delivery.action_id)
            .where(Delivery.status == PENDING, Delivery.next_attempt_at <= now)
            .order_by(Delivery.next_attempt_at, Delivery.id)
            .limit(limit)
        )
        if not db.is_sqlite:
            query = query.with_for_update(of=Delivery, skip_locked=True)
        claims = []
        for delivery, hook, action in session.execute(query).all():
            delivery.next_attempt_at = lease
            claims.append(
                _Claim(
                    delivery.id,
                    hook.url,
                    hook.secret,
                    action.key,
                    action.kind,
                    body(action),
                    action.created_at,
                )
            )
    return claims


def _send(client: httpx.Client, claim: _Claim, policy: RetryPolicy) -> tuple[int | None, str]:
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(claim.secret, claim.body),
        IDEMPOTENCY_HEADER: claim.key,
        ACTION_HEADER: claim.kind,
        "User-Agent": "takedown-webhooks",
    }
    try:
        response = client.post(
            claim.url, content=claim.body, headers=headers, timeout=policy.timeout_s
        )
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"[:500]
    if 200 <= response.status_code < 300:
        return response.status_code, ""
    return response.status_code, f"HTTP {response.status_code}"


def _settle(
    db: Database, claim: _Claim, status: int | None, error: str, took_ms: int, policy: RetryPolicy
) -> None:
    with db.write() as session:
        delivery = session.get(Delivery, claim.delivery_id)
        if delivery is None or delivery.status != PENDING:
            return
        now = utcnow()
        delivery.attempts += 1
        delivery.last_attempt_at = now
        delivery.last_status = status
        delivery.last_error = error
        session.add(
            DeliveryAttempt(
                delivery_id=delivery.id, at=now, status=status, error=error, duration_ms=took_ms
            )
        )
        if not error:
            delivery.status = DELIVERED
            delivery.delivered_at = now
        elif now - claim.action_created > timedelta(hours=policy.give_up_h):
            delivery.status = FAILED
            log.warning("webhook delivery gave up", extra={"delivery": delivery.id})
        else:
            delivery.next_attempt_at = now + timedelta(seconds=policy.delay(delivery.attempts))


def deliver_due(db: Database, client: httpx.Client, policy: RetryPolicy, limit: int = 50) -> int:
    """One round: every due delivery (up to ``limit``) attempted once; returns how many."""
    claims = _claim(db, policy, limit)
    for claim in claims:
        started = time.perf_counter()
        status, error = _send(client, claim, policy)
        _settle(db, claim, status, error, int((time.perf_counter() - started) * 1000), policy)
    return len(claims)


def retry_now(db: Database, delivery_id: int) -> bool:
    """Make a failed or waiting delivery due at once (the console's "retry" button)."""
    with db.write() as session:
        delivery = session.get(Delivery, delivery_id)
        if delivery is None or delivery.status == DELIVERED:
            return False
        delivery.status = PENDING
        delivery.next_attempt_at = utcnow()
        return True
