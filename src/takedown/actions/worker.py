"""The background worker loop (`takedown worker`, or a thread inside `takedown serve`)."""

from __future__ import annotations

import logging
import threading

import httpx

from takedown.actions.delivery import RetryPolicy, deliver_due
from takedown.config import Settings
from takedown.store.db import Database

log = logging.getLogger("takedown.worker")


def policy_from(settings: Settings) -> RetryPolicy:
    return RetryPolicy(
        base_s=settings.webhook_retry_base_s,
        max_s=settings.webhook_retry_max_s,
        give_up_h=settings.webhook_give_up_h,
        timeout_s=settings.webhook_timeout_s,
    )


def run(db: Database, settings: Settings, stop: threading.Event) -> None:
    """Deliver until ``stop`` is set; a database hiccup is logged and retried, never fatal."""
    policy = policy_from(settings)
    with httpx.Client(follow_redirects=False) as client:
        while not stop.is_set():
            try:
                busy = deliver_due(db, client, policy)
            except Exception:
                log.exception("worker round failed; retrying")
                busy = 0
            if not busy:
                stop.wait(settings.worker_poll_s)
