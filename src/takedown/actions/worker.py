"""The background worker (`takedown worker`, or threads inside `takedown serve`): webhook
delivery on its own thread (per-webhook lanes, :mod:`takedown.actions.lanes`) and, on this
one, the deadline clocks, evidence purging and DSA statements, so that neither a slow
receiver nor a slow DSA database holds up the other."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

from takedown.actions.addresses import Networks
from takedown.actions.exchange_runner import fetch_until
from takedown.actions.lanes import deliver_until
from takedown.audit.log import SYSTEM, record
from takedown.cases.policy import load_policy
from takedown.config import Settings
from takedown.legal.dsa_client import DsaClient, DsaConfig
from takedown.legal.evidence import EvidenceStore
from takedown.notify.delivery import start_mailer
from takedown.service import retro_scan
from takedown.service.cases import tick
from takedown.service.dsa import send_pending
from takedown.store.db import Database
from takedown.web.session import secret_key

log = logging.getLogger("takedown.worker")


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
    after it writes an action) cuts the delivery wait short, so a P0 restriction goes out at
    once."""
    wake = wake or threading.Event()
    sender = threading.Thread(
        target=deliver_until, args=(db, settings, stop, wake), name="webhook-dispatch", daemon=True
    )
    sender.start()
    fetcher = threading.Thread(
        target=fetch_until,
        args=(db, secret_key(settings.secret_key, settings.home), stop),
        kwargs={"networks": Networks.from_settings(settings)},
        name="exchange-schedule",
        daemon=True,
    )
    fetcher.start()
    case_policy = load_policy(settings.policy_file)
    evidence = EvidenceStore(settings.home, settings.vault_key, settings.evidence_retention_days)
    dsa = (
        DsaClient(DsaConfig(settings.dsa_url, settings.dsa_token))
        if settings.dsa_url and settings.dsa_token
        else None
    )
    mail = start_mailer(db, settings, case_policy, stop)  # reporters' status e-mails
    retro = threading.Thread(  # known material already on the platform; sharing back
        target=retro_scan.run_until,
        args=(db, case_policy, settings.clock_tick_s, stop),
        name="retro-scan",
        daemon=True,
    )
    retro.start()
    try:
        while not stop.is_set():
            try:
                now = datetime.now(UTC)
                with db.write() as session:
                    tick(session, case_policy, now)
                purge_evidence(db, evidence, now)
                if dsa is not None:
                    send_pending(db, dsa, case_policy, now)
            except Exception:
                log.exception("worker round failed; retrying")
            stop.wait(settings.clock_tick_s)
    finally:
        wake.set()
        sender.join(timeout=15)
        fetcher.join(timeout=30)
        retro.join(timeout=30)
        if mail is not None:
            mail.join(timeout=15)
