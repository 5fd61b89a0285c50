"""Webhook delivery: claim due deliveries per webhook, POST them signed, record every attempt.

At-least-once with one idempotency key per action: a delivery is claimed by pushing its next
attempt time past a lease in a committed transaction *before* the request is sent. A process
killed mid-request leaves the claim to expire and the delivery is retried with the same key and
the same body, so a receiver that remembers keys applies each action exactly once. Retries back
off exponentially (with jitter) until ``webhook_give_up_h`` after the action was created.

Webhooks never wait on each other: claims are made per webhook, up to the room in that
webhook's lane (:mod:`takedown.actions.lanes`), and a webhook whose circuit breaker is open
(:mod:`takedown.actions.breaker`) gets no claims, so a dead receiver costs only its own lane.
A request waits at most ``webhook_connect_timeout_s`` to connect and ``webhook_timeout_s``
for the answer, and goes only to an address checked against the deny list after resolution
(:mod:`takedown.actions.addresses`). A 2xx acknowledges the action
(:mod:`takedown.actions.acknowledge`).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from takedown.actions.acknowledge import RESTRICTING, acknowledge, by_webhook
from takedown.actions.addresses import Networks, UrlRefused, target
from takedown.actions.breaker import Breaker, Circuit, CircuitState, after_attempt, held_for_probe
from takedown.actions.outbox import body
from takedown.actions.signing import ACTION_HEADER, IDEMPOTENCY_HEADER, SIGNATURE_HEADER, sign
from takedown.store.db import Database, serialize
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
    timeout_s: float = 10.0  # waiting for the answer
    connect_timeout_s: float = 2.0

    def delay(self, attempts: int) -> float:
        """Seconds before attempt ``attempts + 1``: base * 2^(attempts-1), capped, +-20%."""
        raw: float = min(self.max_s, self.base_s * 2.0 ** max(0, attempts - 1))
        jitter: float = random.uniform(0.8, 1.2)  # noqa: S311 (jitter, not a secret)
        return raw * jitter

    @property
    def lease(self) -> timedelta:
        """Long enough for a request to time out and be settled; short enough that a killed
        worker's claims come back soon."""
        return timedelta(seconds=2 * (self.connect_timeout_s + self.timeout_s) + 1)

    @property
    def timeout(self) -> httpx.Timeout:
        return httpx.Timeout(self.timeout_s, connect=self.connect_timeout_s)


@dataclass(frozen=True)
class Claim:
    delivery_id: int
    action_id: int
    webhook_id: int
    url: str
    secret: str
    key: str
    kind: str
    body: bytes
    action_created: datetime
    probe: bool = False


@dataclass(frozen=True)
class Outcome:
    status: int | None
    error: str  # empty for a 2xx
    took_ms: int = 0


def _row_lock(db: Database) -> dict[str, bool] | bool:
    """``FOR NO KEY UPDATE`` on PostgreSQL: it does not block the foreign-key checks of the
    deliveries an intake transaction inserts for the webhook (``FOR UPDATE`` would, and the
    two could deadlock); SQLite writes one transaction at a time anyway."""
    return False if db.is_sqlite else {"key_share": True}


def _waiting(db: Database, now: datetime) -> list[int]:
    """Webhooks with a due delivery or a circuit ready for its probe (a cheap read first, so
    that an idle worker does not take SQLite's write lock every poll)."""
    with db.read() as session:
        # per webhook, an index probe each (ix_deliveries_lane), not a scan of every backlog
        due = set(
            session.execute(
                select(Webhook.id).where(
                    Webhook.enabled.is_(True),
                    select(Delivery.id)
                    .where(
                        Delivery.webhook_id == Webhook.id,
                        Delivery.status == PENDING,
                        Delivery.next_attempt_at <= now,
                    )
                    .exists(),
                )
            ).scalars()
        )
        probing = set(
            session.execute(
                select(Webhook.id).where(
                    Webhook.enabled.is_(True),
                    Webhook.circuit_open_until <= now,
                    select(Delivery.id)
                    .where(Delivery.webhook_id == Webhook.id, Delivery.status == PENDING)
                    .exists(),
                )
            ).scalars()
        )
    return sorted(due | probing)


def claim(
    db: Database,
    policy: RetryPolicy,
    room: Callable[[int], int],
    now: datetime | None = None,
) -> list[Claim]:
    """Claim, for each webhook with work, as many due deliveries as ``room(webhook_id)``
    allows: none while its circuit is open, a single probe when the cool-down is over."""
    return dispatch(db, [], policy, Breaker(), room, now)


def settle(
    db: Database,
    settled: Sequence[tuple[Claim, Outcome]],
    policy: RetryPolicy,
    breaker: Breaker,
) -> None:
    """Record attempts (see :func:`dispatch`), claiming nothing."""
    dispatch(db, settled, policy, breaker, None)


def dispatch(
    db: Database,
    settled: Sequence[tuple[Claim, Outcome]],
    policy: RetryPolicy,
    breaker: Breaker,
    room: Callable[[int], int] | None,
    now: datetime | None = None,
) -> list[Claim]:
    """Record the attempts in ``settled`` and claim what is due, in one transaction (a SQLite
    writer's turn is precious: a burst of deliveries costs one, not two each).

    A 2xx delivers and acknowledges the action, a failure schedules a retry (or gives up);
    each moves its webhook's circuit breaker. Then, for each webhook with work, as many due
    deliveries are claimed as ``room(webhook_id)`` allows: none while its circuit is open, a
    single probe when the cool-down is over. Locks, on PostgreSQL, in the one order every
    writer here keeps: the audit log's (when a clock may be met), the settled rows, then the
    webhooks in id order, then deliveries to claim (skipping locked ones, never waiting)."""
    now = now or utcnow()
    waiting = [] if room is None else [h for h in _waiting(db, now) if room(h) > 0]
    if not settled and not waiting:
        return []
    with db.write() as session:
        if any(not outcome.error and item.kind in RESTRICTING for item, outcome in settled):
            serialize(session)  # first: acknowledging it may meet a clock (see acknowledge)
        moves: dict[int, list[bool]] = {}
        for item, outcome in settled:
            ok = _record(session, item, outcome, policy, now)
            if ok is not None:
                moves.setdefault(item.webhook_id, []).append(ok)
        hooks = {
            hook_id: session.get(Webhook, hook_id, with_for_update=_row_lock(db))
            for hook_id in sorted(set(moves) | set(waiting))
        }
        for hook_id, outcomes in moves.items():
            hook = hooks[hook_id]
            if hook is not None:
                for ok in outcomes:
                    _move_breaker(hook, ok, breaker, now)
        claims: list[Claim] = []
        for hook_id in waiting:
            hook = hooks[hook_id]
            if hook is not None and hook.enabled and room is not None:
                claims += _claim_for(session, db, hook, policy, room(hook_id), now)
    return claims


def _claim_for(
    session: Session, db: Database, hook: Webhook, policy: RetryPolicy, room: int, now: datetime
) -> list[Claim]:
    circuit = Circuit(hook.consecutive_failures, hook.circuit_open_until)
    state = circuit.state(now)
    if state is CircuitState.OPEN:
        return []  # postponed, no network attempt
    lease = now + policy.lease
    query = (
        select(Delivery, Action)
        .join(Action, Action.id == Delivery.action_id)
        .where(Delivery.webhook_id == hook.id, Delivery.status == PENDING)
        .order_by(Delivery.next_attempt_at, Delivery.id)
    )
    if state is CircuitState.PROBE:
        _give_up_old(session, hook.id, policy, now)
        # the oldest waiting delivery, due or not: the breaker, not its back-off, decides
        # when this endpoint is tried again
        query = query.limit(1)
    else:
        query = query.where(Delivery.next_attempt_at <= now).limit(room)
    if not db.is_sqlite:
        query = query.with_for_update(of=Delivery, skip_locked=True)
    rows = session.execute(query).all()
    if state is CircuitState.PROBE and rows:
        hook.circuit_open_until = held_for_probe(circuit, lease).open_until
    claims = []
    for delivery, action in rows:
        delivery.next_attempt_at = lease
        claims.append(
            Claim(
                delivery.id,
                action.id,
                hook.id,
                hook.url,
                hook.secret,
                action.key,
                action.kind,
                body(action),
                action.created_at,
                probe=state is CircuitState.PROBE,
            )
        )
    return claims


def _give_up_old(session: Session, webhook_id: int, policy: RetryPolicy, now: datetime) -> None:
    """Deliveries that waited behind an open circuit past ``give_up_h`` are failed without
    another attempt (they would otherwise wait for a probe each)."""
    old = (
        select(Delivery.id)
        .where(
            Delivery.webhook_id == webhook_id,
            Delivery.status == PENDING,
            Delivery.created_at < now - timedelta(hours=policy.give_up_h),
        )
        .with_for_update(skip_locked=True)  # never wait on a delivery being settled
    )
    ids = list(session.execute(old).scalars())
    if ids:
        session.execute(
            update(Delivery)
            .where(Delivery.id.in_(ids))
            .values(status=FAILED, last_error="gave up: the receiver's circuit stayed open")
        )


def send(client: httpx.Client, claim: Claim, policy: RetryPolicy, networks: Networks) -> Outcome:
    """One attempt: to the checked address only, the answer's body never read."""
    try:
        where = target(claim.url, networks)
    except UrlRefused as refused:
        return Outcome(None, f"not sent: {refused}")
    headers = {
        "Host": where.host_header,
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(claim.secret, claim.body),
        IDEMPOTENCY_HEADER: claim.key,
        ACTION_HEADER: claim.kind,
        "User-Agent": "takedown-webhooks",
    }
    extensions = {"sni_hostname": where.sni_hostname} if where.sni_hostname else {}
    failure = "no address"
    for url in where.urls:
        try:
            with client.stream(
                "POST",
                url,
                content=claim.body,
                headers=headers,
                timeout=policy.timeout,
                extensions=extensions,
            ) as response:
                status = response.status_code
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            failure = f"{type(exc).__name__}: {exc}"[:500]
            continue  # nothing was sent: the host's next address may answer
        except httpx.HTTPError as exc:
            return Outcome(None, f"{type(exc).__name__}: {exc}"[:500])
        if 200 <= status < 300:
            return Outcome(status, "")
        return Outcome(status, f"HTTP {status}")
    return Outcome(None, failure)


def _record(
    session: Session,
    claim: Claim,
    outcome: Outcome,
    policy: RetryPolicy,
    now: datetime,
) -> bool | None:
    """One attempt into the delivery log; whether it succeeded, or None when the delivery
    was settled already (another worker's retry after this claim's lease expired)."""
    delivery = session.get(Delivery, claim.delivery_id)
    if delivery is None or delivery.status != PENDING:
        return None
    delivery.attempts += 1
    delivery.last_attempt_at = now
    delivery.last_status = outcome.status
    delivery.last_error = outcome.error
    session.add(
        DeliveryAttempt(
            delivery_id=delivery.id,
            at=now,
            status=outcome.status,
            error=outcome.error,
            duration_ms=outcome.took_ms,
        )
    )
    ok = not outcome.error
    if ok:
        delivery.status = DELIVERED
        delivery.delivered_at = now
        action = session.get(Action, claim.action_id)
        if action is not None:
            acknowledge(session, [action], by_webhook(claim.webhook_id), now)
    elif now - claim.action_created > timedelta(hours=policy.give_up_h):
        delivery.status = FAILED
        log.warning("webhook delivery gave up", extra={"delivery": delivery.id})
    else:
        delivery.next_attempt_at = now + timedelta(seconds=policy.delay(delivery.attempts))
    return ok


def _move_breaker(hook: Webhook, ok: bool, breaker: Breaker, now: datetime) -> None:
    """The webhook's circuit after one attempt; an opening or closing is logged (not audited:
    it is the service's own state, shown on the webhook, and writing the audit log here
    would take its lock after row locks, out of the order that keeps PostgreSQL free of
    deadlocks)."""
    before = Circuit(hook.consecutive_failures, hook.circuit_open_until)
    after = after_attempt(before, ok, breaker, now)
    if after == before:
        return
    hook.consecutive_failures = after.failures
    hook.circuit_open_until = after.open_until
    if before.open_until is None and after.open_until is not None:
        log.warning(
            "webhook circuit opened", extra={"webhook": hook.id, "failures": after.failures}
        )
    elif before.open_until is not None and after.open_until is None:
        log.info("webhook circuit closed", extra={"webhook": hook.id})


def retry_now(db: Database, delivery_id: int) -> bool:
    """Make a failed or waiting delivery due at once (the console's "retry" button); an open
    circuit still holds it until its probe succeeds."""
    with db.write() as session:
        delivery = session.get(Delivery, delivery_id)
        if delivery is None or delivery.status == DELIVERED:
            return False
        delivery.status = PENDING
        delivery.next_attempt_at = utcnow()
        return True
