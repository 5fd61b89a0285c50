"""What a running API worker holds: settings, database, live index, caches."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from fastapi import Request

from takedown.api.metrics import Metrics
from takedown.auth.accounts import Principal
from takedown.cases.policy import Policy
from takedown.config import Settings
from takedown.legal.evidence import EvidenceStore
from takedown.service.live_index import LiveIndex
from takedown.store.db import Database
from takedown.web.session import Sessions


@dataclass
class KeyCache:
    """Checked keys for ``ttl_s`` seconds: the lookup path must not touch the database."""

    ttl_s: float
    _entries: dict[str, tuple[float, Principal | None]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, digest: str) -> tuple[bool, Principal | None]:
        with self._lock:
            found = self._entries.get(digest)
        if found is None or found[0] < time.monotonic():
            return False, None
        return True, found[1]

    def put(self, digest: str, principal: Principal | None) -> None:
        with self._lock:
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[digest] = (time.monotonic() + self.ttl_s, principal)


class RateLimiter:
    """Token buckets: one per client (keyed by a salted hash of the address, which is never
    stored or logged) and one for everyone together. Per API worker process."""

    def __init__(self, per_client_per_min: float, total_per_s: float) -> None:
        self._client_rate = per_client_per_min / 60.0
        self._client_burst = max(1.0, per_client_per_min / 2)
        self._total_rate = total_per_s
        self._total_burst = max(1.0, total_per_s * 2)
        self._salt = secrets.token_bytes(16)
        self._clients: dict[bytes, tuple[float, float]] = {}
        self._total = (self._total_burst, time.monotonic())
        self._lock = threading.Lock()

    @staticmethod
    def _take(
        bucket: tuple[float, float], rate: float, burst: float, now: float
    ) -> tuple[bool, tuple[float, float]]:
        tokens, last = bucket
        tokens = min(burst, tokens + (now - last) * rate)
        if tokens < 1.0:
            return False, (tokens, now)
        return True, (tokens - 1.0, now)

    def allow(self, client: str) -> bool:
        key = hashlib.blake2b(client.encode(), key=self._salt, digest_size=16).digest()
        now = time.monotonic()
        with self._lock:
            if len(self._clients) > 100_000:
                self._clients.clear()
            bucket = self._clients.get(key, (self._client_burst, now))
            ok, bucket = self._take(bucket, self._client_rate, self._client_burst, now)
            self._clients[key] = bucket
            if not ok:
                return False
            ok, self._total = self._take(self._total, self._total_rate, self._total_burst, now)
            return ok


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class AppState:
    settings: Settings
    db: Database
    index: LiveIndex
    metrics: Metrics
    keys: KeyCache
    policy: Policy
    limiter: RateLimiter
    sessions: Sessions
    evidence: EvidenceStore
    now: Callable[[], datetime] = utc_now
    stop: threading.Event = field(default_factory=threading.Event)
    wake: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    lifespans: int = 0


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.takedown
    return state


def public_base(request: Request) -> str:
    """The URL people reach the service at: ``public_url`` when configured (behind a proxy),
    else the one this request came in on."""
    configured = app_state(request).settings.public_url
    return configured.rstrip("/") if configured else str(request.base_url).rstrip("/")
