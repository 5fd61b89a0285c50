"""Evidence: the bytes (and metadata) of reported, held and confirmed items, in the vault.

Only those items are kept (an allowed upload's bytes are hashed and dropped); every read goes
through an authenticated, audited route. This is the service's view of :mod:`legal.vault`:
items keyed by the platform's content id, sealed for ``evidence_retention_days``.

The master key comes from ``vault_key`` or from ``HOME/vault-keys.json``. A new key is made only
for an empty vault: when sealed items exist and their key is missing or different, opening the
store fails with :class:`VaultKeyMissing` / :class:`VaultKeyWrong` and a message that says what
happened and what to do (a silently made new key would leave every earlier item unreadable).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from takedown.legal.vault import MasterKeys, Vault, VaultError, VaultKeyMissing, VaultKeyWrong

KEY_FILE = "vault-keys.json"
RESET_COMMAND = "takedown vault reset-key --i-understand-evidence-is-lost"


class EvidenceStore:
    def __init__(self, home: Path, vault_key: str = "", retention_days: float = 365.0) -> None:
        self.key_file = home / KEY_FILE
        self._configured = vault_key
        self.vault = Vault(home / "evidence", MasterKeys.none(), on_stale=self.refresh)
        self.retention = timedelta(days=retention_days)
        keys = self._source_keys()
        if keys is None and self.vault.is_empty():
            keys = MasterKeys.generate()  # the only time a key is made: nothing to lose
            keys.save(self.key_file)
        self.vault.keys = keys or MasterKeys.none()
        try:
            self.vault.check()
        except (VaultKeyMissing, VaultKeyWrong) as exc:
            raise self._explained(exc, self.vault.count()) from None

    def _source_keys(self) -> MasterKeys | None:
        """The master keys as configured now (None: the key file is not there)."""
        if self._configured:
            return MasterKeys.configured(self._configured)
        return MasterKeys.read(self.key_file)

    def refresh(self) -> None:
        """Read the master keys again from their source and check them against the vault;
        adopt them only if they open it. Readiness probes call this (a key file deleted or
        replaced while the service runs shows at once), and so does the vault when the keys
        at hand look out of date (``takedown vault rotate-key`` ran in another process)."""
        keys = self._source_keys()
        if keys is None and self.vault.is_empty():
            raise VaultKeyMissing(
                f"{self.key_file} is missing; the vault is empty, so restarting makes a new key"
            )
        try:
            Vault(self.vault.root, keys or MasterKeys.none()).check()
        except (VaultKeyMissing, VaultKeyWrong) as exc:
            raise self._explained(exc, None) from None
        self.vault.keys = keys or MasterKeys.none()

    def _explained(self, exc: VaultError, items: int | None) -> VaultError:
        """The same error, with a message saying what happened and what to do."""
        held = f"holds {items} sealed items" if items is not None else "holds sealed items"
        need = f"master key {exc.key_id}" if exc.key_id else "a master key"
        if exc.fingerprint:
            need += f" (fingerprint {exc.fingerprint})"
        where = "the configured vault_key" if self._configured else str(self.key_file)
        if isinstance(exc, VaultKeyMissing):
            what = (
                f"{where} is missing"
                if not self._configured and not self.key_file.exists()
                else f"{where} does not hold it"
            )
        else:
            what = f"{where} holds a different key"
        restore = (
            "Set vault_key back to the key the items were sealed with"
            if self._configured
            else f"Restore {self.key_file} from your backup"
        )
        message = (
            f"The evidence vault at {self.vault.root} {held} that need {need}, but {what}. "
            "No new key was made: it would leave that evidence unreadable. "
            f"{restore}, then start again (`takedown vault status` checks it). "
            "Only if no copy of the key exists and the evidence is truly lost, acknowledge it "
            f"with `{RESET_COMMAND}` (audited): the unreadable items are moved aside and a new "
            "key is used."
        )
        return type(exc)(message, key_id=exc.key_id, fingerprint=exc.fingerprint)

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


def open_for_reset(home: Path, vault_key: str = "") -> Vault:
    """The vault with whatever key is at hand, unchecked, for ``takedown vault reset-key``: a
    new key is made when the key file is gone (the items it sealed are lost anyway)."""
    key_file = home / KEY_FILE
    keys = MasterKeys.configured(vault_key) if vault_key else MasterKeys.read(key_file)
    if keys is None:
        keys = MasterKeys.generate()
        keys.save(key_file)
    return Vault(home / "evidence", keys)
