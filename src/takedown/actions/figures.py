"""How webhook delivery went over a period, for the dashboard: time from an action being
written to its first 2xx (median, p95), and what did not go well: actions still waiting for
any receiver, failed deliveries, deliveries being retried, receivers with an open circuit.

Time is measured to the *first* 2xx of an action (what the platform needed), and the actions
still waiting are reported next to it, so a median over the delivered ones cannot hide them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from takedown.actions.delivery import FAILED, PENDING
from takedown.store.models import Action, Delivery, Webhook


@dataclass(frozen=True)
class DeliveryFigures:
    durations_s: tuple[float, ...]  # per delivered action: written -> first 2xx
    waiting: int  # actions with deliveries, none delivered yet, not all failed
    oldest_waiting_s: float | None
    failed: int  # deliveries given up
    retrying: int  # pending deliveries with at least one failed attempt
    open_circuits: int  # enabled webhooks whose circuit is open (or waiting for its probe)
    webhooks: int  # enabled webhooks

    @property
    def delivered(self) -> int:
        return len(self.durations_s)

    @property
    def median_s(self) -> float | None:
        return percentile(self.durations_s, 0.5)

    @property
    def p95_s(self) -> float | None:
        return percentile(self.durations_s, 0.95)


def percentile(values: Sequence[float], share: float) -> float | None:
    """Nearest-rank percentile (an observed value, never an interpolation)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def delivery_figures(session: Session, since: datetime, now: datetime) -> DeliveryFigures:
    rows = session.execute(
        select(
            Action.id,
            Action.created_at,
            func.min(Delivery.delivered_at),
            func.sum(case((Delivery.status == PENDING, 1), else_=0)),
        )
        .join(Delivery, Delivery.action_id == Action.id)
        .where(Action.created_at >= since)
        .group_by(Action.id, Action.created_at)
    ).all()
    durations = []
    waiting_since = []
    for _id, created, first_delivered, pending in rows:
        if first_delivered is not None:
            durations.append(max(0.0, (first_delivered - created).total_seconds()))
        elif pending:
            waiting_since.append(created)
    failed = session.execute(
        select(func.count())
        .select_from(Delivery)
        .where(Delivery.created_at >= since, Delivery.status == FAILED)
    ).scalar_one()
    retrying = session.execute(
        select(func.count())
        .select_from(Delivery)
        .where(Delivery.status == PENDING, Delivery.attempts > 0)
    ).scalar_one()
    hooks = list(session.execute(select(Webhook).where(Webhook.enabled.is_(True))).scalars())
    return DeliveryFigures(
        durations_s=tuple(durations),
        waiting=len(waiting_since),
        oldest_waiting_s=(now - min(waiting_since)).total_seconds() if waiting_since else None,
        failed=int(failed),
        retrying=int(retrying),
        open_circuits=sum(1 for h in hooks if h.circuit_open_until is not None),
        webhooks=len(hooks),
    )
