"""The ed25519 key that signs takedown's own feed, kept in the service home (0600).

Created on first use, like the session secret: a subscriber pins its public half when it adds
this platform as an exchange, so the key must outlive restarts and never change by itself.
"""

from __future__ import annotations

import base64
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from takedown.store.private import private_dir, tighten, write_private

KEY_FILE = "exchange_feed_key"


def feed_signing_key(home: Path) -> Ed25519PrivateKey:
    """The feed's private key from ``home``, made (0600, whole on first appearance) if missing."""
    path = private_dir(home) / KEY_FILE
    if not path.exists():
        raw = Ed25519PrivateKey.generate().private_bytes(
            Encoding.Raw, PrivateFormat.Raw, NoEncryption()
        )
        write_private(path, base64.b64encode(raw).decode("ascii") + "\n")
    tighten(path)
    raw = base64.b64decode(path.read_text().strip(), validate=True)
    return Ed25519PrivateKey.from_private_bytes(raw)
