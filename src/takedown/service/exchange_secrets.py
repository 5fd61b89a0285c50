"""Exchange credentials sealed at rest: AES-256-GCM under a key derived from the service secret.

Credentials must be sent to the exchange, so they cannot be hashed like API keys. They are
sealed with a key derived (HKDF-SHA256) from the service secret (``secret_key``, or the
HOME/secret_key file), with the exchange's name as associated data so that a sealed blob
cannot be moved to another exchange. Every process that holds the service secret (API
workers, the worker, the CLI) can open them; a database dump alone cannot. Replacing the
service secret makes them unreadable: the exchange then stops with ``credentials_unreadable``
until they are set again.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_VERSION = "v1"


class CredentialsUnreadable(Exception):
    """The sealed credentials do not open with this service secret."""

    code = "credentials_unreadable"


def kind_scope(kind: str) -> str:
    """What a kind's own credentials (used by its exchanges that have none) are sealed to, in
    place of an exchange's name: no exchange name holds a ":", so neither opens the other."""
    return f"api:{kind}"


def _key(secret: str) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"takedown exchange credentials"
    ).derive(secret.encode("utf-8"))


def seal(secret: str, exchange: str, credentials: Mapping[str, str]) -> str:
    """The credentials as stored ("" when there are none)."""
    if not credentials:
        return ""
    nonce = os.urandom(12)
    plain = json.dumps(dict(credentials), sort_keys=True).encode("utf-8")
    sealed = AESGCM(_key(secret)).encrypt(nonce, plain, exchange.encode("utf-8"))
    return f"{_VERSION}:{base64.b64encode(nonce + sealed).decode('ascii')}"


def unseal(secret: str, exchange: str, stored: str) -> dict[str, str]:
    if not stored:
        return {}
    version, _, body = stored.partition(":")
    try:
        if version != _VERSION:
            raise ValueError(version)
        raw = base64.b64decode(body.encode("ascii"), validate=True)
        plain = AESGCM(_key(secret)).decrypt(raw[:12], raw[12:], exchange.encode("utf-8"))
        loaded = json.loads(plain)
    except (ValueError, InvalidTag) as exc:
        raise CredentialsUnreadable(
            f"the credentials of exchange {exchange!r} cannot be opened with this service "
            "secret (was secret_key changed?): set them again"
        ) from exc
    return {str(k): str(v) for k, v in loaded.items()}
