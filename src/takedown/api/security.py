"""API key and staff-token authentication, and scope checks, as FastAPI dependencies."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from takedown.api.errors import ApiError
from takedown.api.state import AppState, app_state
from takedown.auth import access
from takedown.auth.access import Resource
from takedown.auth.accounts import Principal, principal_for
from takedown.auth.scopes import Scope, allows
from takedown.auth.secrets import key_digest


def _lookup(state: AppState, secret: str) -> Principal | None:
    with state.db.read() as session:
        return principal_for(session, secret)


def _secret(request: Request) -> str | None:
    authorization = request.headers.get("authorization")
    if authorization:
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() == "bearer" and credentials.strip():
            return credentials.strip()
    return request.headers.get("x-api-key") or None


async def authenticate(request: Request) -> Principal:
    """The caller, from ``Authorization: Bearer td_...`` or ``X-API-Key``.

    Read straight from the headers (one flat dependency, no sub-dependencies): FastAPI's
    nested security dependencies cost more than the lookup they guard. The OpenAPI document
    declares both schemes (see ``api.app``).
    """
    secret = _secret(request)
    if not secret:
        raise ApiError(401, "unauthorized", "an API key is required: Authorization: Bearer td_...")
    state = app_state(request)
    digest = key_digest(secret)
    known, principal = state.keys.get(digest)
    if not known:
        principal = await run_in_threadpool(_lookup, state, secret)
        state.keys.put(digest, principal)
    if principal is None:
        raise ApiError(401, "unauthorized", "unknown or revoked API key")
    return principal


async def optional_principal(request: Request) -> Principal | None:
    """The caller when a key is given (a trusted flagger on a public route), else None."""
    if _secret(request) is None:
        return None
    return await authenticate(request)


def require(scope: Scope) -> Callable[[Request], Awaitable[Principal]]:
    async def check(request: Request) -> Principal:
        principal = await authenticate(request)
        if not allows(principal.scopes, scope, staff=principal.user_id is not None):
            raise ApiError(403, "forbidden", f"this key lacks the {scope.value!r} scope")
        return principal

    return check


def require_access(principal: Principal, resource: Resource) -> None:
    """Some things follow the person's role, not the key's scopes (evidence, contacts, the
    CyberTipline): the rule in ``auth.access``, the same one the console asks."""
    if not access.allowed(principal.role, resource):
        names = ", ".join(sorted(r.value for r in access.roles_for(resource)))
        what = resource.value.replace("_", " ")
        raise ApiError(403, "forbidden", f"the {what} is open only to staff with the role {names}")
