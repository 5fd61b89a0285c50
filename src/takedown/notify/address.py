"""The reporter's e-mail address, sealed at rest: AES-256-GCM under a key derived from the
service secret, with the report bound in as associated data (a sealed address copied onto
another report does not open). Rotating the service secret makes the stored addresses
unreadable: their e-mails then stop, and nothing else breaks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_ADDRESS = re.compile(r"^[^@\s<>,;\"']+@[^@\s<>,;\"']+\.[^@\s<>,;\"']+$")


def plausible_address(text: str) -> bool:
    """An address a mail server can be given as is (one address, no header tricks)."""
    return len(text) <= 320 and bool(_ADDRESS.match(text))


class AddressUnreadable(Exception):
    """The sealed address does not open with this secret (rotated, or tampered with)."""


class AddressBox:
    def __init__(self, secret: str) -> None:
        if not secret:
            raise ValueError("the service secret is needed to seal addresses")
        self._key = hmac.new(secret.encode(), b"takedown status-mail address", "sha256").digest()

    def seal(self, address: str, bound_to: str) -> str:
        nonce = secrets.token_bytes(12)
        sealed = AESGCM(self._key).encrypt(nonce, address.encode(), _aad(bound_to))
        return base64.urlsafe_b64encode(nonce + sealed).decode()

    def open(self, sealed: str, bound_to: str) -> str:
        try:
            raw = base64.urlsafe_b64decode(sealed.encode())
            return AESGCM(self._key).decrypt(raw[:12], raw[12:], _aad(bound_to)).decode()
        except (InvalidTag, ValueError) as error:
            raise AddressUnreadable("the sealed address does not open") from error


def _aad(bound_to: str) -> bytes:
    return hashlib.sha256(b"status-mail:" + bound_to.encode()).digest()
