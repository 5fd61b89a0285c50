"""The hash chain itself: pure functions, no storage.

Each event's hash covers the previous event's hash and every field of the event, serialised as
canonical JSON; changing, removing or reordering any event breaks every hash after it, and the
stored head (last sequence and hash) catches removal of the newest events.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

GENESIS = "0" * 64


@dataclass(frozen=True)
class ChainedEvent:
    seq: int
    at: str
    actor: str
    action: str
    subject: str
    data: str
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class ChainProblem:
    """The first sequence number at which the chain stops being what was written."""

    seq: int
    reason: str


def canonical_data(data: Mapping[str, object]) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def timestamp(moment: datetime | None = None) -> str:
    return (moment or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="microseconds")


def event_hash(
    prev_hash: str, seq: int, at: str, actor: str, action: str, subject: str, data: str
) -> str:
    payload = json.dumps(
        [prev_hash, seq, at, actor, action, subject, data],
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def verify_chain(
    events: Iterable[ChainedEvent], head: tuple[int, str] | None
) -> tuple[int, ChainProblem | None]:
    """Check events in stored order; returns how many were good and the first problem."""
    expected_seq = 1
    prev = GENESIS
    checked = 0
    for event in events:
        if event.seq != expected_seq:
            return checked, ChainProblem(
                expected_seq, f"sequence {expected_seq} missing (found {event.seq} next)"
            )
        if event.prev_hash != prev:
            return checked, ChainProblem(event.seq, "previous-hash link broken")
        fields = (event.seq, event.at, event.actor, event.action, event.subject, event.data)
        if event_hash(prev, *fields) != event.hash:
            return checked, ChainProblem(event.seq, "event content does not match its hash")
        prev = event.hash
        expected_seq += 1
        checked += 1
    if head is None:
        problem = ChainProblem(1, "chain head record missing") if checked else None
    elif head[0] > checked:
        problem = ChainProblem(checked + 1, f"events {checked + 1}..{head[0]} are missing")
    elif head[0] < checked:
        problem = ChainProblem(head[0] + 1, "events after the recorded head")
    elif head[1] != prev:
        problem = ChainProblem(checked, "chain head hash differs from the last event")
    else:
        problem = None
    return checked, problem
