"""What a running API worker holds: settings, database, live index, caches."""

from __future__ import annotations

import enum
import hmac
import ipaddress
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from fastapi import Request

from takedown.api.hash_pool import HashPool
from takedown.api.metrics import Metrics
from takedown.auth.accounts import Principal
from takedown.cases.policy import Policy
from takedown.config import Settings
from takedown.legal.evidence import EvidenceStore
from takedown.media import MediaLimits
from takedown.service.idempotency import Replays
from takedown.service.live_index import LiveIndex
from takedown.service.references import ReferenceCache
from takedown.store import buckets
from takedown.store.buckets import Rate
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


class Verdict(enum.Enum):
    ADMIT = "admit"
    ADMIT_OVER_BUDGET = "admit_over_budget"
    """A P0 report while everyone's budget is spent: never refused for other people's traffic."""
    CLIENT_LIMIT = "client_limit"
    TOTAL_LIMIT = "total_limit"

    @property
    def admitted(self) -> bool:
        return self in (Verdict.ADMIT, Verdict.ADMIT_OVER_BUDGET)


def decide(client_tokens: float, total_tokens: float, *, p0: bool) -> Verdict:
    """One report against the client's bucket, then everyone's."""
    if client_tokens < 1.0:
        return Verdict.CLIENT_LIMIT
    if total_tokens >= 1.0:
        return Verdict.ADMIT
    return Verdict.ADMIT_OVER_BUDGET if p0 else Verdict.TOTAL_LIMIT


def client_group(address: str) -> str:
    """What a limit counts as one client: an IPv4 address, or an IPv6 /64 (the block one
    subscriber usually holds, so that rotating addresses inside it buys nothing). Report rate
    limits and sign-in lock-outs both count by it."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is None:
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip.ipv4_mapped) if isinstance(ip, ipaddress.IPv6Address) else address


class RateLimiter:
    """Report intake's token buckets: one per client and one for everyone together, kept in
    the database (:mod:`takedown.store.buckets`) so that every worker shares them.

    Only admitted reports are charged, and a caller asks only after the report validated, so
    junk costs nobody's budget. A P0 report uses a token of the global budget when there is one
    and is admitted when there is none; the client's own limit applies to it as to any report.
    A client's bucket is keyed by a hash of its address salted with a key derived from the
    service secret (the same in every worker); the address is neither stored nor logged. IPv6
    clients are counted per /64, the block one subscriber usually holds.
    """

    TOTAL = "reports:total"
    PRUNE_EVERY_S = 60.0

    def __init__(self, per_client_per_min: float, total_per_s: float, secret: str) -> None:
        self.client_rate = Rate(per_client_per_min / 60.0, max(1.0, per_client_per_min / 2))
        self.total_rate = Rate(total_per_s, max(1.0, total_per_s * 2))
        self._salt = hmac.new(secret.encode(), b"takedown rate-limit salt", "sha256").digest()
        self._next_prune = 0.0

    def client_key(self, address: str) -> str:
        """The bucket key (and idempotency caller) of a client address."""
        digest = hmac.new(self._salt, client_group(address).encode(), "sha256").hexdigest()[:40]
        return f"reports:client:{digest}"

    def admit(self, db: Database, address: str, now: datetime, *, p0: bool) -> Verdict:
        """Charge one report to ``address`` (if admitted). Blocking: one short write
        transaction; callers run it off the event loop."""
        key = self.client_key(address)
        with db.write() as session:
            client = buckets.lock(session, key, self.client_rate, now)
            total = buckets.lock(session, self.TOTAL, self.total_rate, now)
            client_tokens = buckets.refill(client, self.client_rate, now)
            total_tokens = buckets.refill(total, self.total_rate, now)
            verdict = decide(client_tokens, total_tokens, p0=p0)
            if verdict is Verdict.ADMIT:
                buckets.save(session, key, client_tokens - 1.0, now)
                buckets.save(session, self.TOTAL, total_tokens - 1.0, now)
            elif verdict is Verdict.ADMIT_OVER_BUDGET:
                buckets.save(session, key, client_tokens - 1.0, now)
        if time.monotonic() >= self._next_prune:  # apart: never while holding the buckets
            self._next_prune = time.monotonic() + self.PRUNE_EVERY_S
            with db.write() as session:
                buckets.prune(session, self.client_rate, now, keep=self.TOTAL)
        return verdict


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
    replays: Replays
    secret: str = field(repr=False, default="")
    """The service secret (HOME/secret_key or ``secret_key``), read once at start: it keys the
    sign-in throttle's HMACs, the rate-limit salt and the session signer."""
    hashing: HashPool = field(default_factory=lambda: HashPool(workers=1, queue=0))
    """Where uploaded media is hashed (worker processes, bounded; see ``api.hash_pool``)."""
    references: ReferenceCache = field(default_factory=lambda: ReferenceCache(MediaLimits()))
    """Reported items' bytes hashed as references, warmed when their evidence is captured."""
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
