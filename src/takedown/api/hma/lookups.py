"""HMA's matching over takedown's live indexes (no web types here).

``raw`` answers ``/m/raw_lookup``: HMA content ids (optionally with distances) of every
matching entry, in any bank the caller names. ``by_bank`` answers ``/m/lookup``: the enabled
contents grouped by bank, with HMA's per-bank ``matching_enabled_ratio`` applied through a coin
flip seeded by the caller's ``seed``. PDQ matches within 31 bits (takedown's default, HMA's
threshold) unless a takedown bank sets its own.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool

from takedown.api.errors import ApiError
from takedown.api.hma import ids
from takedown.api.hma.inputs import bad
from takedown.api.state import AppState
from takedown.service import hma_content
from takedown.service.live_index import BankHit
from takedown.signals import InvalidSignal
from takedown.signals.wire import from_stored

_CACHE_TTL_S = 60.0
_CACHE_MAX = 200_000


class ContentIdCache:
    """Entry id -> HMA content id, so a repeated lookup does not touch the database. Ids are
    stable; an entry only changes content when its content was deleted (its entries are then
    disabled and leave the index), so a minute's staleness reports nothing wrong."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids: dict[int, tuple[float, int]] = {}

    def get(self, entry_ids: Sequence[int]) -> tuple[dict[int, int], list[int]]:
        now = time.monotonic()
        found: dict[int, int] = {}
        missing: list[int] = []
        with self._lock:
            for entry_id in entry_ids:
                cached = self._ids.get(entry_id)
                if cached is not None and cached[0] > now:
                    found[entry_id] = cached[1]
                else:
                    missing.append(entry_id)
        return found, missing

    def put(self, mapping: dict[int, int]) -> None:
        expires = time.monotonic() + _CACHE_TTL_S
        with self._lock:
            if len(self._ids) + len(mapping) > _CACHE_MAX:
                self._ids.clear()
            for entry_id, content_id in mapping.items():
                self._ids[entry_id] = (expires, content_id)

    def clear(self) -> None:
        with self._lock:
            self._ids.clear()


@dataclass(frozen=True)
class Match:
    content_id: int
    bank: str  # HMA name
    distance: float

    @property
    def pretty_distance(self) -> str:
        """HMA's ``pretty_str()``: the integer distance as text."""
        return str(round(self.distance))


def _signal_type(name: str) -> str:
    if name not in ids.SIGNAL_TYPES:
        raise bad(f"No such SignalType '{name}'", "unknown_signal_type")
    return ids.SIGNAL_TYPES[name]


def hits(state: AppState, hma_type: str, value: str) -> list[BankHit]:
    signal_type = _signal_type(hma_type)
    try:
        signal = from_stored(signal_type, value)
    except InvalidSignal as exc:
        raise bad(f"invalid signal: {exc}", "invalid_signal") from None
    if not state.index.ready:
        raise ApiError(503, "index_loading", "index not yet ready")
    return state.index.match([signal])


async def matches(
    state: AppState, cache: ContentIdCache, hma_type: str, value: str, banks: set[str] | None
) -> list[Match]:
    """Each matching content once (its nearest entry), in the named banks only if any."""
    found = [
        h for h in hits(state, hma_type, value) if banks is None or ids.hma_bank(h.bank) in banks
    ]
    if not found:
        return []
    entry_ids = [h.hit.entry_id for h in found]
    known, missing = cache.get(entry_ids)
    if missing:
        read = await run_in_threadpool(hma_content.content_ids, state.db, missing)
        cache.put(read)
        known.update(read)
    best: dict[int, Match] = {}
    for h in found:
        content_id = known.get(h.hit.entry_id)
        if content_id is None:
            continue
        seen = best.get(content_id)
        if seen is None or h.hit.distance < seen.distance:
            best[content_id] = Match(content_id, ids.hma_bank(h.bank), h.hit.distance)
    return sorted(best.values(), key=lambda m: (m.distance, m.content_id))


def raw_json(found: list[Match], include_distance: bool) -> list[object]:
    if include_distance:
        return [{"bank_content_id": m.content_id, "distance": m.pretty_distance} for m in found]
    return [m.content_id for m in found]


async def by_bank(
    state: AppState,
    cache: ContentIdCache,
    hma_type: str,
    value: str,
    *,
    banks: set[str] | None,
    seed: str | None,
    bypass_coinflip: bool,
) -> dict[str, list[dict[str, object]]]:
    """HMA's ``lookup``: enabled contents, in banks whose ratio passes the coin flip."""
    found = await matches(state, cache, hma_type, value, banks)
    if not found:
        return {}

    def read() -> dict[int, hma_content.ContentView]:
        with state.db.read() as session:
            return hma_content.contents(session, [m.content_id for m in found])

    views = await run_in_threadpool(read)
    coinflip = 0.0 if bypass_coinflip else random.Random(seed).random()  # noqa: S311 - HMA's coin flip, not a secret
    now = time.time()
    out: dict[str, list[dict[str, object]]] = {}
    for m in found:
        view = views.get(m.content_id)
        if view is None or not hma_content.content_enabled(view.disable_until_ts, now):
            continue
        if view.bank.matching_enabled_ratio < coinflip:
            continue
        out.setdefault(view.bank.name, []).append(
            {"bank_content_id": m.content_id, "distance": m.pretty_distance}
        )
    return out
