"""Evidence: the bytes (and metadata) of reported, held and confirmed items, in the vault.

Only those items are kept (an allowed upload's bytes are hashed and dropped); every read goes
through an authenticated, audited route. This is the service's view of :mod:`legal.vault`:
items keyed by the platform's content id, sealed for ``evidence_retention_days``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from takedown.legal.vault import MasterKeys, Vault

KEY_FILE = "vault-keys.json"


class EvidenceStore:
    def __init__(self, home: Path, vault_key: str = "", retention_days: float = 365.0) -> None:
        self.vault = Vault(home / "evidence", MasterKeys.load(home / KEY_FILE, vault_key))
        self.retention = timedelta(days=retention_days)

    def put(self, content_id: str, data: bytes, metadata: dict[str, Any] | None = None) -> None:
        self.vault.put(
            content_id,
            data,
            {"content_id": content_id, **(metadata or {})},
            now=datetime.now(UTC),
            retention=self.retention,
        )

    def get(self, content_id: str) -> bytes | None:
        return self.vault.get(content_id)

    def has(self, content_id: str) -> bool:
        return self.vault.has(content_id)
