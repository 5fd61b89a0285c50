"""A circuit breaker per webhook: pure, with time passed in.

An endpoint that keeps failing is not worth a network attempt per delivery: after
``failures`` consecutive failed attempts its circuit *opens* for ``cooldown_s``, during which
its deliveries wait without being sent. Then one delivery is sent as a *probe* (the claimer
holds the circuit for the probe's lease, so no other worker probes at the same time): a 2xx
closes the circuit and the waiting deliveries go out; a failure opens it for another
cool-down. The state lives on the webhook row, so every worker process sees it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class CircuitState(StrEnum):
    CLOSED = "closed"  # deliveries are sent
    OPEN = "open"  # deliveries wait; no network attempt until the cool-down ends
    PROBE = "probe"  # the cool-down is over: the next delivery is a single probe


@dataclass(frozen=True)
class Breaker:
    failures: int = 5
    cooldown_s: float = 60.0


@dataclass(frozen=True)
class Circuit:
    """What the webhook row keeps: consecutive failures and, when open, until when."""

    failures: int
    open_until: datetime | None

    def state(self, now: datetime) -> CircuitState:
        if self.open_until is None:
            return CircuitState.CLOSED
        return CircuitState.OPEN if self.open_until > now else CircuitState.PROBE


def held_for_probe(circuit: Circuit, lease_until: datetime) -> Circuit:
    """The circuit while one claimed probe is in flight: open until the probe's lease ends
    (if its worker dies, another probe follows then)."""
    return Circuit(circuit.failures, lease_until)


def after_attempt(circuit: Circuit, ok: bool, breaker: Breaker, now: datetime) -> Circuit:
    """The circuit after one settled attempt (a probe or an ordinary delivery)."""
    if ok:
        return Circuit(0, None)
    failures = max(circuit.failures, 0) + 1
    if failures >= breaker.failures or circuit.open_until is not None:
        # the threshold reached, or a failed probe: (re)open for a full cool-down
        return Circuit(max(failures, breaker.failures), now + timedelta(seconds=breaker.cooldown_s))
    return Circuit(failures, None)
