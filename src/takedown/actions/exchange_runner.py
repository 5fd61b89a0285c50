"""The worker's exchange schedule: each due exchange is fetched on a thread of its own, so a
slow or failing exchange never holds up another (nor the worker's other duties)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

import httpx

from takedown.actions.addresses import Networks
from takedown.exchanges.guard import DEFAULT_NETWORKS, GuardedClient
from takedown.service.exchange_fetch import due, fetch_exchange
from takedown.service.exchange_share import share_pending
from takedown.store.db import Database

log = logging.getLogger("takedown.exchanges")

POLL_S = 5.0


def _now() -> datetime:
    return datetime.now(UTC)


def fetch_until(
    db: Database,
    secret: str,
    stop: threading.Event,
    *,
    poll_s: float = POLL_S,
    now: Callable[[], datetime] = _now,
    http_factory: Callable[[], httpx.Client] | None = None,
    networks: Networks = DEFAULT_NETWORKS,
) -> None:
    """Start a fetch for every due exchange not already fetching here, until ``stop``; a
    fetch in progress stops after its current page (its checkpoint is kept)."""
    running: dict[str, threading.Thread] = {}

    def one(name: str) -> None:
        http = http_factory() if http_factory else GuardedClient(networks)
        try:
            result = fetch_exchange(db, name, secret=secret, http=http, stop=stop, now=now)
            log.info(
                "exchange fetched",
                extra={"exchange": name, "status": result.status, "added": result.added},
            )
            share_pending(db, name, secret=secret, http=http, now=now())  # sharing back
        except KeyError:
            pass  # removed meanwhile
        except Exception:
            log.exception("exchange fetch crashed", extra={"exchange": name})
        finally:
            http.close()

    try:
        while not stop.is_set():
            try:
                for name in due(db, now()):
                    thread = running.get(name)
                    if thread is not None and thread.is_alive():
                        continue
                    running[name] = threading.Thread(
                        target=one, args=(name,), name=f"exchange-{name}", daemon=True
                    )
                    running[name].start()
            except Exception:
                log.exception("exchange schedule round failed; retrying")
            stop.wait(poll_s)
    finally:
        for thread in running.values():
            thread.join(timeout=15)
