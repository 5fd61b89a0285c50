"""Per-webhook lanes: each receiver has its own senders, so one that hangs holds up only itself.

A :class:`Lane` is a few daemon threads and an HTTP client for one webhook; the
:class:`Dispatcher` claims due deliveries for each webhook up to the room in its lane (see
:func:`takedown.actions.delivery.dispatch`) and hands them over; the outcomes that came back
meanwhile are recorded in the same transaction. Daemon threads, because a request hanging
on a dead receiver must not keep a stopping process alive: its claim simply expires and
another worker retries it with the same idempotency key.
"""

from __future__ import annotations

import logging
import queue
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable

import httpx
from sqlalchemy import select

from takedown.actions.addresses import Networks
from takedown.actions.breaker import Breaker
from takedown.actions.delivery import Claim, Outcome, RetryPolicy, dispatch, send, settle
from takedown.config import Settings
from takedown.store.db import Database
from takedown.store.models import Webhook

log = logging.getLogger("takedown.delivery")

LANE_REFRESH_S = 1.0  # how often an idle dispatcher looks for new webhooks to open lanes for
SETTLE_BATCH = 200  # outcomes recorded in one dispatch transaction at most


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
        self._busy = 0  # queued, in flight, or sent and not yet recorded
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

    def release(self) -> None:
        """One claim is finished with (its outcome recorded, or given up on): room again.
        Room is made only then, so that the circuit breaker has seen every outcome before
        the next claim for this webhook."""
        with self._lock:
            self._busy -= 1
        self._done.set()

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
                self._deliver(self._client, item)  # released once its outcome is recorded
            except Exception:
                # an unexpected error: the claim expires and the delivery is retried
                log.exception("webhook delivery failed unexpectedly; it will be retried")
                self.release()


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
        self._settled: queue.SimpleQueue[tuple[Claim, Outcome]] = queue.SimpleQueue()

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
        """Record the outcomes sent so far and claim what is due, in one transaction, then
        hand the claims to their lanes; returns how many outcomes and claims there were."""
        settled: list[tuple[Claim, Outcome]] = []
        while len(settled) < SETTLE_BATCH:
            try:
                settled.append(self._settled.get_nowait())
            except queue.Empty:
                break
        freed = Counter(item.webhook_id for item, _ in settled)
        try:
            claims = dispatch(
                self.db,
                settled,
                self.policy,
                self.breaker,
                lambda hook_id: self.room(hook_id) + freed[hook_id],
            )
        except Exception:
            log.exception("webhook dispatch failed; recording outcomes one by one")
            claims = []
            for one in settled:
                try:
                    settle(self.db, [one], self.policy, self.breaker)
                except Exception:
                    # its claim expires and the delivery is sent again under the same key
                    log.exception("a webhook delivery could not be recorded; it will be retried")
        finally:
            for item, _outcome in settled:
                self._lane(item.webhook_id).release()
        for item in claims:
            self._lane(item.webhook_id).submit(item)
        return len(settled) + len(claims)

    def _deliver(self, client: httpx.Client, item: Claim) -> None:
        started = time.perf_counter()
        outcome = send(client, item, self.policy, self.networks)
        took = int((time.perf_counter() - started) * 1000)
        self._settled.put((item, Outcome(outcome.status, outcome.error, took)))
        self._wake.set()  # the dispatcher records it (and claims again) at once

    def close(self) -> None:
        for lane in self._lanes.values():
            lane.close()
        self._lanes = {}


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
