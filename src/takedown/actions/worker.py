"""The background worker loop (`takedown worker`, or a thread inside `takedown serve`)."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime

import httpx

from takedown.actions.delivery import RetryPolicy, deliver_due
from takedown.audit.log import SYSTEM, record
from takedown.cases.policy import load_policy
from takedown.config import Settings
from takedown.legal.dsa_client import DsaClient, DsaConfig
from takedown.legal.evidence import EvidenceStore
from takedown.service.cases import tick
from takedown.service.dsa import send_pending
from takedown.store.db import Database

log = logging.getLogger("takedown.worker")


def policy_from(settings: Settings) -> RetryPolicy:
    return RetryPolicy(
        base_s=settings.webhook_retry_base_s,
        max_s=settings.webhook_retry_max_s,
        give_up_h=settings.webhook_give_up_h,
        timeout_s=settings.webhook_timeout_s,
    )


def purge_evidence(db: Database, evidence: EvidenceStore, now: datetime) -> int:
    """Delete expired evidence (not under legal hold) and record that it was done."""
    purged = evidence.vault.purge(now)
    if purged:
        with db.write() as session:
            record(session, SYSTEM, "evidence.purge", "evidence", {"items": purged})
    return purged


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
    evidence = EvidenceStore(settings.home, settings.vault_key, settings.evidence_retention_days)
    dsa = (
        DsaClient(DsaConfig(settings.dsa_url, settings.dsa_token))
        if settings.dsa_url and settings.dsa_token
        else None
    )
    next_tick = 0.0
    with httpx.Client(follow_redirects=False) as client:
        while not stop.is_set():
            try:
                busy = deliver_due(db, client, retry)
                if time.monotonic() >= next_tick:
                    now = datetime.now(UTC)
                    with db.write() as session:
                        tick(session, case_policy, now)
                    purge_evidence(db, evidence, now)
                    if dsa is not None:
                        send_pending(db, dsa, case_policy, now)
                    next_tick = time.monotonic() + settings.clock_tick_s
            except Exception:
                log.exception("worker round failed; retrying")
                busy = 0
            if not busy and not stop.is_set():
                wake.wait(settings.worker_poll_s)
                wake.clear()
