"""The background worker loop (`takedown worker`, or a thread inside `takedown serve`)."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime

import httpx

from takedown.actions.delivery import RetryPolicy, deliver_due
from takedown.cases.policy import load_policy
from takedown.config import Settings
from takedown.service.cases import tick
from takedown.store.db import Database

log = logging.getLogger("takedown.worker")


def policy_from(settings: Settings) -> RetryPolicy:
    return RetryPolicy(
        base_s=settings.webhook_retry_base_s,
        max_s=settings.webhook_retry_max_s,
        give_up_h=settings.webhook_give_up_h,
        timeout_s=settings.webhook_timeout_s,
    )


def run(
    db: Database,
    settings: Settings,
    stop: threading.Event,
    wake: threading.Event | None = None,
) -> None:
    """Deliver webhooks and check the deadline clocks until ``stop`` is set; a database hiccup
    is logged and retried, never fatal. ``wake`` (set by an API worker in the same process
    after it writes an action) cuts the wait short, so a P0 restriction goes out at once."""
    wake = wake or threading.Event()
    retry = policy_from(settings)
    case_policy = load_policy(settings.policy_file)
    next_tick = 0.0
    with httpx.Client(follow_redirects=False) as client:
        while not stop.is_set():
            try:
                busy = deliver_due(db, client, retry)
                if time.monotonic() >= next_tick:
                    with db.write() as session:
                        tick(session, case_policy, datetime.now(UTC))
                    next_tick = time.monotonic() + settings.clock_tick_s
            except Exception:
                log.exception("worker round failed; retrying")
                busy = 0
            if not busy and not stop.is_set():
                wake.wait(settings.worker_poll_s)
                wake.clear()
