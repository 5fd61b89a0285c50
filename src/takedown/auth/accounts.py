"""Create and check API keys, staff accounts and staff tokens in the database."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

import pyotp
from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.audit.log import record
from takedown.auth import throttle
from takedown.auth.scopes import ROLE_SCOPES, Role, Scope
from takedown.auth.secrets import (
    hash_password,
    key_digest,
    key_display_prefix,
    new_api_key,
)
from takedown.store.models import ApiKey, User, utcnow


class AccountError(ValueError):
    """A refused account operation; the message says what to do instead."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: a platform client's key or a staff member's token."""

    key_id: int
    name: str
    scopes: frozenset[Scope]
    user_id: int | None = None
    role: Role | None = None

    @property
    def actor(self) -> str:
        """How the audit log names this caller (never a secret)."""
        return f"user:{self.user_id}" if self.user_id is not None else f"key:{self.key_id}"


def create_key(
    session: Session, name: str, scopes: frozenset[Scope], actor: str = "cli"
) -> tuple[ApiKey, str]:
    """Returns the stored row and the secret, which is shown once and never stored."""
    if not scopes:
        raise AccountError("an API key needs at least one scope (--scope lookup, ...)")
    secret = new_api_key()
    row = ApiKey(
        name=name,
        prefix=key_display_prefix(secret),
        key_hash=key_digest(secret),
        scopes=" ".join(sorted(scopes)),
    )
    session.add(row)
    session.flush()
    record(session, actor, "key.create", f"key:{row.id}", {"name": name, "scopes": row.scopes})
    return row, secret


def revoke_key(session: Session, key_id: int, actor: str) -> ApiKey:
    row = session.get(ApiKey, key_id)
    if row is None:
        raise AccountError(f"no API key with id {key_id}; `takedown keys list` shows them")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        record(session, actor, "key.revoke", f"key:{row.id}", {"name": row.name})
    return row


def principal_for(session: Session, secret: str) -> Principal | None:
    row = session.execute(
        select(ApiKey).where(ApiKey.key_hash == key_digest(secret), ApiKey.revoked_at.is_(None))
    ).scalar_one_or_none()
    if row is None:
        return None
    scopes = frozenset(Scope(s) for s in row.scopes.split())
    if row.user_id is None:
        return Principal(row.id, row.name, scopes)
    user = session.get(User, row.user_id)
    if user is None or user.disabled:
        return None
    role = Role(user.role)
    return Principal(row.id, row.name, scopes & ROLE_SCOPES[role], user.id, role)


def create_user(
    session: Session, email: str, role: Role, password: str | None, actor: str = "cli"
) -> tuple[User, str | None]:
    """Returns the user and, when no password was given, a generated one (shown once)."""
    email = email.strip().lower()
    if "@" not in email:
        raise AccountError(f"{email!r} is not an email address")
    if session.execute(select(User).where(User.email == email)).scalar_one_or_none():
        raise AccountError(f"a user {email} already exists")
    generated = None if password else secrets.token_urlsafe(12)
    password = password or generated or ""
    if len(password) < 12:
        raise AccountError("a password needs at least 12 characters")
    user = User(email=email, password_hash=hash_password(password), role=role.value)
    session.add(user)
    session.flush()
    record(session, actor, "user.create", f"user:{user.id}", {"role": role.value})
    return user, generated


def set_role(session: Session, user_id: int, role: Role, actor: str) -> User:
    """Change a staff member's role. It takes effect on their next request, console and tokens
    alike (both read the role from the account). Nobody changes their own role: an admin cannot
    lock the platform out of its last admin by accident."""
    user = session.get(User, user_id)
    if user is None:
        raise AccountError(f"no user {user_id}")
    if actor == f"user:{user.id}":
        raise AccountError("you cannot change your own role; ask another admin")
    if user.role != role.value:
        record(
            session, actor, "user.role", f"user:{user.id}", {"from": user.role, "to": role.value}
        )
        user.role = role.value
    return user


def create_user_token(
    session: Session, email: str, actor: str = "cli", name: str = ""
) -> tuple[ApiKey, str]:
    """A staff API token: it carries the role's scopes (narrowed again at each use, so that a
    role change or disabling the user takes effect on existing tokens)."""
    user = session.execute(
        select(User).where(User.email == email.strip().lower())
    ).scalar_one_or_none()
    if user is None:
        raise AccountError(f"no user {email}; create one with `takedown users create`")
    if user.disabled:
        raise AccountError(f"user {email} is disabled")
    secret = new_api_key()
    row = ApiKey(
        name=name or f"token for user {user.id}",
        prefix=key_display_prefix(secret),
        key_hash=key_digest(secret),
        scopes=" ".join(sorted(ROLE_SCOPES[Role(user.role)])),
        user_id=user.id,
    )
    session.add(row)
    session.flush()
    record(session, actor, "user.token", f"user:{user.id}", {"key": row.id})
    return row, secret


def enable_totp(session: Session, email: str, actor: str = "cli") -> str:
    """Turn on the optional second factor; returns the otpauth:// URI for an authenticator."""
    user = session.execute(
        select(User).where(User.email == email.strip().lower())
    ).scalar_one_or_none()
    if user is None:
        raise AccountError(f"no user {email}; create one with `takedown users create`")
    user.totp_secret = pyotp.random_base32()
    record(session, actor, "user.totp_enable", f"user:{user.id}", {})
    return pyotp.TOTP(user.totp_secret).provisioning_uri(name=user.email, issuer_name="takedown")


def check_totp(user: User, code: str) -> bool:
    """True when the user has no second factor, or ``code`` is valid now (+-30 s)."""
    if not user.totp_secret:
        return True
    return bool(code.strip()) and pyotp.TOTP(user.totp_secret).verify(code.strip(), valid_window=1)


def unlock_user(session: Session, user_id: int, secret: str, now: datetime, actor: str) -> User:
    """Let a locked-out person back in: lift every sign-in lock on their account (from every
    source). ``secret`` is the service's secret key, which keys the throttle's counters."""
    user = session.get(User, user_id)
    if user is None:
        raise AccountError(f"no user {user_id}")
    lifted = throttle.unlock(session, throttle.account_key(secret, user.email), now)
    record(session, actor, "user.unlock", f"user:{user.id}", {"locks": lifted})
    return user


def user_by_email(session: Session, email: str) -> User:
    user = session.execute(
        select(User).where(User.email == email.strip().lower())
    ).scalar_one_or_none()
    if user is None:
        raise AccountError(f"no user {email}; `takedown users create` makes one")
    return user
