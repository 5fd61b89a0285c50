"""What a running API worker holds: settings, database, live index, caches."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from fastapi import Request

from takedown.api.metrics import Metrics
from takedown.auth.accounts import Principal
from takedown.config import Settings
from takedown.service.live_index import LiveIndex
from takedown.store.db import Database


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


@dataclass
class AppState:
    settings: Settings
    db: Database
    index: LiveIndex
    metrics: Metrics
    keys: KeyCache
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    lifespans: int = 0


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.takedown
    return state
