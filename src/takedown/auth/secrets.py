"""Key material: API keys (random, stored as SHA-256) and staff passwords (argon2id)."""

from __future__ import annotations

import hashlib
import secrets
import threading

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

KEY_PREFIX = "td_"
_hasher = PasswordHasher()
_dummy: list[str] = []
_dummy_lock = threading.Lock()


def new_api_key() -> str:
    """256 random bits, url-safe, prefixed so that secret scanners can recognise a leaked key."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def key_display_prefix(key: str) -> str:
    return key[: len(KEY_PREFIX) + 6]


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _dummy_hash() -> str:
    """A real argon2 hash of a random password nobody knows, made once with the same
    parameters as every stored hash: verifying against it costs what a real check costs."""
    with _dummy_lock:
        if not _dummy:
            _dummy.append(_hasher.hash(secrets.token_urlsafe(32)))
        return _dummy[0]


def verify_login(password_hash: str | None, password: str) -> bool:
    """Check a sign-in's password with the same work whether or not there is an account to
    check it against (``password_hash`` None: unknown email, disabled or locked account), so
    that the answer's timing does not tell which emails have accounts."""
    if password_hash is None:
        check_password(_dummy_hash(), password)
        return False
    return check_password(password_hash, password)
