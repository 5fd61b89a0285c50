"""Webhook signatures: HMAC-SHA256 over ``"{timestamp}.{body}"``.

The header reads ``Takedown-Signature: t=1700000000,v1=<hex>``. A receiver recomputes the HMAC
with the shared secret, compares in constant time, and refuses timestamps older than a few
minutes (a replayed request carries an old timestamp). :func:`verify` is that receiver's check.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "Takedown-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
ACTION_HEADER = "Takedown-Action"
DEFAULT_TOLERANCE_S = 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The header value for ``body`` signed now (or at ``timestamp``)."""
    moment = int(time.time()) if timestamp is None else timestamp
    return f"t={moment},v1={signature(secret, moment, body)}"


def verify(
    secret: str,
    header: str,
    body: bytes,
    *,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> bool:
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        moment = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - moment) > tolerance_s:
        return False
    expected = signature(secret, moment, body)
    return hmac.compare_digest(expected, parts.get("v1", ""))
