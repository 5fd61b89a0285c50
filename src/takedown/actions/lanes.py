"""Per-webhook lanes: each receiver has its own senders, so one that hangs holds up only itself.

A :class:`Lane` is a few daemon threads and an HTTP client for one webhook; the
:class:`Dispatcher` claims due deliveries for each webhook up to the room in its lane (see
:func:`takedown.actions.delivery.claim`) and hands them over, and one settling thread records
the outcomes, all those waiting in one transaction. Daemon threads, because a request hanging
on a dead receiver must not keep a stopping process alive: its claim simply expires and
another worker retries it with the same idempotency key.
"""

from __future__ import annotations

import logging
import queue
import ssl
import threading
import time
from collections.abc import Callable

import httpx
from sqlalchemy import select

from takedown.actions.addresses import Networks
from takedown.actions.breaker import Breaker
from takedown.actions.delivery import Claim, Outcome, RetryPolicy, claim, send, settle
from takedown.config import Settings
from takedown.store.db import Database
from takedown.store.models import Webhook

log = logging.getLogger("takedown.delivery")

LANE_REFRESH_S = 1.0  # how often an idle dispatcher looks for new webhooks to open lanes for
SETTLE_BATCH = 200  # outcomes recorded in one transaction at most


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(
        base_s=settings.webhook_retry_base_s,
        max_s=settings.webhook_retry_max_s,
        give_up_h=settings.webhook_give_up_h,
        timeout_s=settings.webhook_timeout_s,
        connect_timeout_s=settings.webhook_connect_timeout_s,
    )


def breaker_policy(settings: Settings) -> Breaker:
    return Breaker(settings.webhook_breaker_failures, settings.webhook_breaker_cooldown_s)


class Lane:
    """Up to ``width`` deliveries to one webhook at a time."""

    def __init__(
        self,
        webhook_id: int,
        width: int,
        deliver: Callable[[httpx.Client, Claim], None],
        done: threading.Event,
        tls: ssl.SSLContext,
    ) -> None:
        self.width = width
        self._deliver = deliver
        self._done = done
        self._queue: queue.SimpleQueue[Claim | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._busy = 0  # queued or in flight
        self._client = httpx.Client(
            follow_redirects=False,
            trust_env=False,  # no proxy from the environment: it would bypass the address check
            verify=tls,
            limits=httpx.Limits(max_connections=width, max_keepalive_connections=width),
        )
        self._threads = [
            threading.Thread(target=self._run, name=f"webhook-{webhook_id}-{i}", daemon=True)
            for i in range(width)
        ]
        for thread in self._threads:
            thread.start()

    def room(self) -> int:
        with self._lock:
            return self.width - self._busy

    def submit(self, item: Claim) -> None:
        with self._lock:
            self._busy += 1
        self._queue.put(item)

    def close(self) -> None:
        """Let the threads end after what they are sending (they are not waited for)."""
        for _ in self._threads:
            self._queue.put(None)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            try:
                self._deliver(self._client, item)
            except Exception:
                # an unexpected error: the claim expires and the delivery is retried
                log.exception("webhook delivery failed unexpectedly; it will be retried")
            finally:
                with self._lock:
                    self._busy -= 1
                self._done.set()


class Dispatcher:
    """Claims work for every webhook with room and sends it in that webhook's lane."""

    def __init__(self, db: Database, settings: Settings, wake: threading.Event) -> None:
        self.db = db
        self.policy = retry_policy(settings)
        self.breaker = breaker_policy(settings)
        self.networks = Networks.from_settings(settings)
        self.width = settings.webhook_concurrency
        self._wake = wake
        self._lanes: dict[int, Lane] = {}
        # made once (loading the CA bundle takes a while), not when a first P0 is waiting
        self._tls = httpx.create_ssl_context()
        self._settled: queue.SimpleQueue[tuple[Claim, Outcome] | None] = queue.SimpleQueue()
        threading.Thread(target=self._settle_forever, name="webhook-settle", daemon=True).start()

    def open_lanes(self) -> None:
        """A lane for every enabled webhook, ready before the first P0 restriction needs one."""
        with self.db.read() as session:
            hooks = session.execute(select(Webhook.id).where(Webhook.enabled.is_(True))).scalars()
            for hook_id in hooks:
                self._lane(hook_id)

    def _lane(self, webhook_id: int) -> Lane:
        lane = self._lanes.get(webhook_id)
        if lane is None:
            lane = Lane(webhook_id, self.width, self._deliver, self._wake, self._tls)
            self._lanes[webhook_id] = lane
        return lane

    def room(self, webhook_id: int) -> int:
        lane = self._lanes.get(webhook_id)
        return self.width if lane is None else lane.room()

    def round(self) -> int:
        """Claim and hand over what is due; returns how many deliveries were claimed."""
        claims = claim(self.db, self.policy, self.room)
        for item in claims:
            self._lane(item.webhook_id).submit(item)
        return len(claims)

    def _deliver(self, client: httpx.Client, item: Claim) -> None:
        started = time.perf_counter()
        outcome = send(client, item, self.policy, self.networks)
        took = int((time.perf_counter() - started) * 1000)
        self._settled.put((item, Outcome(outcome.status, outcome.error, took)))

    def _settle_forever(self) -> None:
        """Record outcomes as they come, every outcome waiting at that moment in one
        transaction; if that fails, one at a time, so one bad row costs only itself. An
        outcome never recorded (a crash, the database down) leaves its claim to expire: the
        delivery is sent again under the same key."""
        while True:
            first = self._settled.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < SETTLE_BATCH:
                try:
                    more = self._settled.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._settled.put(None)
                    break
                batch.append(more)
            try:
                settle(self.db, batch, self.policy, self.breaker)
            except Exception:
                for one in batch:
                    try:
                        settle(self.db, [one], self.policy, self.breaker)
                    except Exception:
                        log.exception(
                            "a webhook delivery could not be recorded; it will be retried"
                        )

    def close(self) -> None:
        for lane in self._lanes.values():
            lane.close()
        self._lanes = {}
        self._settled.put(None)


def deliver_until(
    db: Database, settings: Settings, stop: threading.Event, wake: threading.Event
) -> None:
    """The delivery loop: claim whenever something may be due (woken by a new action in this
    process, by a lane with room again, or every ``worker_poll_s``) until ``stop``."""
    dispatcher = Dispatcher(db, settings, wake)
    lanes_checked = 0.0
    try:
        while not stop.is_set():
            wake.clear()
            try:
                claimed = dispatcher.round()
                if not claimed and time.monotonic() - lanes_checked > LANE_REFRESH_S:
                    dispatcher.open_lanes()  # a new webhook's lane, while nothing waits
                    lanes_checked = time.monotonic()
            except Exception:
                log.exception("webhook dispatch failed; retrying")
                claimed = 0
            if not claimed and not stop.is_set():
                wake.wait(settings.worker_poll_s)
    finally:
        dispatcher.close()
