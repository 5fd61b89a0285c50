"""API key and staff-token authentication, and scope checks, as FastAPI dependencies."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from takedown.api.errors import ApiError
from takedown.api.state import AppState, app_state
from takedown.auth.accounts import Principal, principal_for
from takedown.auth.scopes import Scope, allows
from takedown.auth.secrets import key_digest

_bearer = HTTPBearer(auto_error=False, description="An API key or staff token: `Bearer td_...`")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="The same, as a header")


def _lookup(state: AppState, secret: str) -> Principal | None:
    with state.db.read() as session:
        return principal_for(session, secret)


async def authenticate(
    request: Request,
    bearer: HTTPAuthorizationCredentials | None = Depends(_bearer),
    header_key: str | None = Depends(_header),
) -> Principal:
    secret = bearer.credentials if bearer is not None else header_key
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


def require(scope: Scope) -> Callable[..., Awaitable[Principal]]:
    async def check(principal: Principal = Depends(authenticate)) -> Principal:
        if not allows(principal.scopes, scope):
            raise ApiError(403, "forbidden", f"this key lacks the {scope.value!r} scope")
        return principal

    return check
