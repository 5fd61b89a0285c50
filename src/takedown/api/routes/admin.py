"""Administration through the API (what the console's admin pages do): API keys and staff
accounts. Admin scope only; every change is audited by the account layer.

No key or role obtains more than it holds. There is no route that mints a token for a person (a
person signs in, and takes their own token from the console). Whoever creates an account learns
its first password, so staff accounts are created and moved between roles only by a person with
the admin role, and only into roles that reach no more than theirs (``auth.access.may_grant``):
the roles that read evidence or reporters' contacts are granted by the operator's CLI."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Request
from sqlalchemy import select

from takedown.api.errors import ApiError
from takedown.api.schemas import MAX_ID, KeyIn, KeyOut, UserIn, UserOut, UserPatch
from takedown.api.security import require
from takedown.api.state import app_state
from takedown.auth import access
from takedown.auth.accounts import (
    Principal,
    create_key,
    create_user,
    revoke_key,
    set_role,
)
from takedown.auth.scopes import Role, Scope
from takedown.store.models import ApiKey, User

router = APIRouter(prefix="/v1", tags=["admin"])


def _key_out(row: ApiKey, secret: str | None = None) -> KeyOut:
    return KeyOut(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        scopes=row.scopes.split(),
        user_id=row.user_id,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        key=secret,
    )


def _user_out(user: User, password: str | None = None) -> UserOut:
    return UserOut(
        id=user.id,
        email=user.email,
        role=user.role,
        disabled=user.disabled,
        created_at=user.created_at,
        password=password,
    )


def _grantable(principal: Principal, role: Role) -> None:
    if principal.user_id is None:
        raise ApiError(
            403,
            "people_are_made_by_people",
            "a platform key does not create or change staff accounts (a staff account opens "
            "cases, which no key does): a signed-in admin does, in the console or with their "
            "own token",
        )
    if not access.may_grant(principal.role, role):
        raise ApiError(
            403,
            "role_granted_by_operator",
            f"the {role.value} role reads evidence or reporters' contacts, which your role does "
            "not: the operator grants it with `takedown users create` / `takedown users role`",
        )


@router.post("/keys", response_model=KeyOut, status_code=201)
def create_api_key(
    body: KeyIn, request: Request, principal: Principal = Depends(require(Scope.ADMIN))
) -> KeyOut:
    """A platform client's key; the secret is in this answer only."""
    with app_state(request).db.write() as session:
        row, secret = create_key(
            session, body.name, frozenset(Scope(s) for s in body.scopes), principal.actor
        )
        return _key_out(row, secret)


@router.get("/keys", response_model=list[KeyOut])
def list_api_keys(
    request: Request, principal: Principal = Depends(require(Scope.ADMIN))
) -> list[KeyOut]:
    with app_state(request).db.read() as session:
        return [_key_out(k) for k in session.execute(select(ApiKey).order_by(ApiKey.id)).scalars()]


@router.delete("/keys/{key_id}", response_model=KeyOut)
def revoke_api_key(
    request: Request,
    key_id: int = Path(ge=1, le=MAX_ID),
    principal: Principal = Depends(require(Scope.ADMIN)),
) -> KeyOut:
    """Revoke a key or token (workers stop accepting it within ``key_cache_s``)."""
    with app_state(request).db.write() as session:
        if session.get(ApiKey, key_id) is None:
            raise ApiError(404, "key_not_found", f"no API key {key_id}")
        return _key_out(revoke_key(session, key_id, principal.actor))


@router.post("/users", response_model=UserOut, status_code=201)
def create_staff_user(
    body: UserIn, request: Request, principal: Principal = Depends(require(Scope.ADMIN))
) -> UserOut:
    """A staff account; without a password one is generated and returned once."""
    _grantable(principal, Role(body.role))
    with app_state(request).db.write() as session:
        user, generated = create_user(
            session, body.email, Role(body.role), body.password, principal.actor
        )
        return _user_out(user, generated)


@router.get("/users", response_model=list[UserOut])
def list_staff_users(
    request: Request, principal: Principal = Depends(require(Scope.ADMIN))
) -> list[UserOut]:
    with app_state(request).db.read() as session:
        return [_user_out(u) for u in session.execute(select(User).order_by(User.id)).scalars()]


@router.patch("/users/{user_id}", response_model=UserOut)
def change_staff_role(
    body: UserPatch,
    request: Request,
    user_id: int = Path(ge=1, le=MAX_ID),
    principal: Principal = Depends(require(Scope.ADMIN)),
) -> UserOut:
    """Change a staff member's role (audited; never one's own); it applies at their next
    request, to their console session and their tokens alike."""
    _grantable(principal, Role(body.role))
    with app_state(request).db.write() as session:
        if session.get(User, user_id) is None:
            raise ApiError(404, "user_not_found", f"no user {user_id}")
        return _user_out(set_role(session, user_id, Role(body.role), principal.actor))
