"""Token buckets kept in the database, so that every API worker (and every host) draws on the
same budget.

A bucket is one row (``rate_buckets``: key, tokens, updated_at). Refilling is computed from
the time since ``updated_at``; nothing ticks. A caller locks the rows it needs for the rest of
its write transaction (:func:`lock`: the row is created full if missing, then ``SELECT ... FOR
UPDATE`` on PostgreSQL; SQLite's write transactions are already one at a time), decides with
the pure :func:`refill`, then writes with :func:`save`. Rows are always locked in the order
the caller names them, so two transactions never wait on each other in a circle.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from takedown.store.models import RateBucket
from takedown.store.upsert import insert_or_ignore


@dataclass(frozen=True)
class Rate:
    """Tokens added per second, up to ``burst``."""

    per_s: float
    burst: float

    @property
    def full_after(self) -> timedelta:
        """An untouched bucket is full again after this long (its row can then go)."""
        return timedelta(seconds=self.burst / self.per_s)


@dataclass(frozen=True)
class Bucket:
    key: str
    tokens: float
    updated_at: datetime


def refill(bucket: Bucket, rate: Rate, now: datetime) -> float:
    """The tokens in ``bucket`` at ``now``. A clock that went back (workers on hosts whose
    clocks disagree a little) adds nothing rather than taking away."""
    elapsed = max(0.0, (now - bucket.updated_at).total_seconds())
    return min(rate.burst, bucket.tokens + elapsed * rate.per_s)


def lock(session: Session, key: str, rate: Rate, now: datetime) -> Bucket:
    """The bucket ``key``, locked for the rest of the transaction (created full if new)."""
    insert_or_ignore(session, RateBucket, {"key": key, "tokens": rate.burst, "updated_at": now})
    # SQLite: the write transaction already holds the database's one write lock
    query = select(RateBucket).where(RateBucket.key == key).with_for_update()
    row = session.execute(query.execution_options(populate_existing=True)).scalar_one()
    return Bucket(row.key, row.tokens, row.updated_at)


def save(session: Session, key: str, tokens: float, now: datetime) -> None:
    row = session.get(RateBucket, key)
    if row is None:  # pragma: no cover - locked above in the same transaction
        raise LookupError(key)
    row.tokens = tokens
    row.updated_at = now


def prune(session: Session, rate: Rate, now: datetime, keep: str) -> None:
    """Drop buckets that are full again (the same as having no row), except ``keep``."""
    session.execute(
        delete(RateBucket).where(
            RateBucket.updated_at < now - rate.full_after, RateBucket.key != keep
        )
    )
