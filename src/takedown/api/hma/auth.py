"""Who may call the HMA API: the same API keys and scopes as ``/v1``, and the HMA client.

HMA itself has no authentication, and some of the tools built on it cannot send a header.
For them one API key may be flagged as the HMA client (``takedown keys hma-client``): a request
that carries no key, from an address in ``hma_client_networks`` (read as ``api.clients`` reads
addresses: ``X-Forwarded-For`` only from ``trusted_proxies``), acts as that key, with its
scopes. From any other address, or with no key flagged, a key is required as everywhere else.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from functools import lru_cache

from fastapi import Request
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from takedown.api.clients import request_client
from takedown.api.errors import ApiError
from takedown.api.security import optional_principal
from takedown.api.state import AppState, app_state
from takedown.auth.accounts import Principal
from takedown.auth.scopes import Scope, allows
from takedown.store.models import ApiKey, HmaClient

_CACHE_KEY = "hma-client"  # the key cache's slot for the flagged key (not a key digest)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=16)
def _networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(e, strict=False) for e in entries)


def _from_client_network(request: Request, state: AppState) -> bool:
    networks = _networks(tuple(state.settings.hma_client_networks))
    if not networks:
        return False
    try:
        address = ipaddress.ip_address(request_client(request))
    except ValueError:
        return False
    return any(address in network for network in networks)


def flagged_key(state: AppState) -> Principal | None:
    """The unrevoked key flagged as the HMA client (the newest flag, if several)."""
    with state.db.read() as session:
        row = session.execute(
            select(ApiKey)
            .join(HmaClient, HmaClient.key_id == ApiKey.id)
            .where(ApiKey.revoked_at.is_(None), ApiKey.user_id.is_(None))
            .order_by(HmaClient.created_at.desc(), ApiKey.id.desc())
            .limit(1)
        ).scalar_one_or_none()
        if row is None:
            return None
        return Principal(row.id, row.name, frozenset(Scope(s) for s in row.scopes.split()))


async def _keyless(request: Request) -> Principal | None:
    state = app_state(request)
    if not _from_client_network(request, state):
        return None
    known, principal = state.keys.get(_CACHE_KEY)
    if not known:
        principal = await run_in_threadpool(flagged_key, state)
        state.keys.put(_CACHE_KEY, principal)
    return principal


def hma_require(scope: Scope) -> Callable[[Request], Awaitable[Principal]]:
    async def check(request: Request) -> Principal:
        principal = await optional_principal(request) or await _keyless(request)
        if principal is None:
            raise ApiError(
                401, "unauthorized", "an API key is required: Authorization: Bearer td_..."
            )
        if not allows(principal.scopes, scope, staff=principal.user_id is not None):
            raise ApiError(403, "forbidden", f"this key lacks the {scope.value!r} scope")
        return principal

    return check


# the gates of the HMA routes (one per scope, shared by the /hma and the root mounts)
LOOKUP = hma_require(Scope.LOOKUP)
BANKS_READ = hma_require(Scope.BANKS_READ)
BANKS_WRITE = hma_require(Scope.BANKS_WRITE)
EXCHANGES_ADMIN = hma_require(Scope.EXCHANGES_ADMIN)
