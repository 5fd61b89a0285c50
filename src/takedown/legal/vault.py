"""The evidence vault: media bytes and their metadata encrypted at rest.

Each item is sealed with its own random 256-bit data key (AES-256-GCM, with the item's stored
name, the SHA-256 of its id, as associated data, so that files cannot be swapped); the data key
is wrapped by a master key (AES-256-GCM too) and kept beside the payload with the item's
retention: created, expires, legal hold. Rotating the master key re-wraps the data keys only;
payloads are never re-encrypted. Nothing readable is written: file names are SHA-256 of the
item id, and the key file holds only wrapped keys, nonces, encrypted metadata and times.

Retention: an item expires ``retention`` after it is sealed (extended to the preservation
period after a CyberTipline report), never while under legal hold; :meth:`Vault.purge` deletes
the payload and the wrapped key of expired items. :meth:`Vault.destroy` does so at once (a
law-enforcement request under 18 U.S.C. 2258B).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class VaultError(Exception):
    """The vault cannot open an item (wrong or missing master key, tampered file)."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"))


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    tmp.replace(path)


@dataclass
class MasterKeys:
    """Master keys by id; ``current`` wraps new data keys. Kept in a 0600 JSON file under
    HOME (or given whole in configuration)."""

    current: str
    keys: dict[str, bytes]

    @classmethod
    def load(cls, path: Path, configured: str = "") -> MasterKeys:
        if configured:
            key = _unb64(configured)
            if len(key) != 32:
                raise VaultError("vault_key must be 32 bytes, base64-encoded")
            return cls("configured", {"configured": key})
        if not path.exists():
            keys = cls.generate()
            keys.save(path)
            return keys
        raw = json.loads(path.read_text())
        return cls(raw["current"], {k: _unb64(v) for k, v in raw["keys"].items()})

    @classmethod
    def generate(cls) -> MasterKeys:
        key_id = "k" + secrets.token_hex(4)
        return cls(key_id, {key_id: AESGCM.generate_key(bit_length=256)})

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        body = {"current": self.current, "keys": {k: _b64(v) for k, v in self.keys.items()}}
        _write_private(path, json.dumps(body).encode())

    def rotated(self) -> MasterKeys:
        """A new current key; older ones stay until every data key is re-wrapped."""
        key_id = "k" + secrets.token_hex(4)
        return MasterKeys(key_id, {**self.keys, key_id: AESGCM.generate_key(bit_length=256)})


@dataclass(frozen=True)
class Sealed:
    """The key file of one item: wrapped data key, nonces, encrypted metadata, retention."""

    key_id: str
    wrapped_key: str
    key_nonce: str
    payload_nonce: str
    meta_nonce: str
    meta: str
    created_at: str
    expires_at: str | None
    legal_hold: bool = False


class Vault:
    def __init__(self, root: Path, keys: MasterKeys) -> None:
        self.root = root
        self.keys = keys

    def _name(self, item_id: str) -> str:
        return hashlib.sha256(item_id.encode("utf-8")).hexdigest()

    def _paths(self, item_id: str) -> tuple[Path, Path]:
        name = self._name(item_id)
        return self.root / f"{name}.bin", self.root / f"{name}.key"

    def _sealed(self, item_id: str) -> Sealed | None:
        _, key_path = self._paths(item_id)
        if not key_path.is_file():
            return None
        return Sealed(**json.loads(key_path.read_text()))

    def _save(self, item_id: str, sealed: Sealed) -> None:
        _write_private(self._paths(item_id)[1], json.dumps(asdict(sealed)).encode())

    def _aad(self, item_id: str) -> bytes:
        return self._name(item_id).encode()

    def _unwrap(self, name: str, sealed: Sealed) -> bytes:
        master = self.keys.keys.get(sealed.key_id)
        if master is None:
            raise VaultError(f"master key {sealed.key_id} is not available")
        try:
            return AESGCM(master).decrypt(
                _unb64(sealed.key_nonce), _unb64(sealed.wrapped_key), name.encode()
            )
        except InvalidTag:
            raise VaultError("the data key does not open: wrong master key or tampering") from None

    def put(
        self,
        item_id: str,
        data: bytes,
        metadata: dict[str, Any],
        *,
        now: datetime,
        retention: timedelta,
    ) -> None:
        """Seal an item (replacing an earlier one with the same id)."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        data_key = AESGCM.generate_key(bit_length=256)
        sealer = AESGCM(data_key)
        aad = self._aad(item_id)
        payload_nonce, meta_nonce, key_nonce = (secrets.token_bytes(12) for _ in range(3))
        payload_path, _ = self._paths(item_id)
        _write_private(payload_path, sealer.encrypt(payload_nonce, data, aad))
        master = self.keys.keys[self.keys.current]
        meta = sealer.encrypt(meta_nonce, json.dumps(metadata, default=str).encode(), aad)
        self._save(
            item_id,
            Sealed(
                key_id=self.keys.current,
                wrapped_key=_b64(AESGCM(master).encrypt(key_nonce, data_key, aad)),
                key_nonce=_b64(key_nonce),
                payload_nonce=_b64(payload_nonce),
                meta_nonce=_b64(meta_nonce),
                meta=_b64(meta),
                created_at=now.isoformat(),
                expires_at=(now + retention).isoformat(),
            ),
        )

    def has(self, item_id: str) -> bool:
        return self._sealed(item_id) is not None

    def get(self, item_id: str) -> bytes | None:
        sealed = self._sealed(item_id)
        if sealed is None:
            return None
        payload_path, _ = self._paths(item_id)
        try:
            return AESGCM(self._unwrap(self._name(item_id), sealed)).decrypt(
                _unb64(sealed.payload_nonce), payload_path.read_bytes(), self._aad(item_id)
            )
        except InvalidTag:
            raise VaultError("the payload does not open: it was changed on disk") from None

    def metadata(self, item_id: str) -> dict[str, Any] | None:
        sealed = self._sealed(item_id)
        if sealed is None:
            return None
        data_key = self._unwrap(self._name(item_id), sealed)
        opened = AESGCM(data_key).decrypt(
            _unb64(sealed.meta_nonce), _unb64(sealed.meta), self._aad(item_id)
        )
        result: dict[str, Any] = json.loads(opened)
        return result

    def retention(self, item_id: str) -> Sealed | None:
        return self._sealed(item_id)

    def preserve_until(self, item_id: str, until: datetime) -> bool:
        """Keep an item at least until ``until`` (one year after a CyberTipline report)."""
        sealed = self._sealed(item_id)
        if sealed is None:
            return False
        current = datetime.fromisoformat(sealed.expires_at) if sealed.expires_at else None
        if current is None or until > current:
            self._save(item_id, replace(sealed, expires_at=until.isoformat()))
        return True

    def set_hold(self, item_id: str, hold: bool) -> bool:
        sealed = self._sealed(item_id)
        if sealed is None:
            return False
        self._save(item_id, replace(sealed, legal_hold=hold))
        return True

    def destroy(self, item_id: str) -> bool:
        """Delete the payload and its wrapped key (the key first: what remains is noise)."""
        payload_path, key_path = self._paths(item_id)
        existed = key_path.exists()
        key_path.unlink(missing_ok=True)
        payload_path.unlink(missing_ok=True)
        return existed

    def _key_files(self) -> Iterator[Path]:
        return iter(sorted(self.root.glob("*.key"))) if self.root.is_dir() else iter(())

    def purge(self, now: datetime) -> int:
        """Delete every expired item not under legal hold; returns how many."""
        purged = 0
        for key_path in self._key_files():
            sealed = Sealed(**json.loads(key_path.read_text()))
            if sealed.legal_hold or sealed.expires_at is None:
                continue
            if datetime.fromisoformat(sealed.expires_at) <= now:
                key_path.unlink(missing_ok=True)
                key_path.with_suffix(".bin").unlink(missing_ok=True)
                purged += 1
        return purged

    def rewrap(self, keys: MasterKeys) -> int:
        """Re-wrap every data key with ``keys.current`` (payloads untouched); returns how many."""
        old = self.keys
        self.keys = MasterKeys(keys.current, {**old.keys, **keys.keys})
        count = 0
        for key_path in self._key_files():
            sealed = Sealed(**json.loads(key_path.read_text()))
            if sealed.key_id == keys.current:
                continue
            name = key_path.stem
            data_key = self._unwrap(name, sealed)
            nonce = secrets.token_bytes(12)
            wrapped = AESGCM(keys.keys[keys.current]).encrypt(nonce, data_key, name.encode())
            updated = replace(
                sealed, key_id=keys.current, wrapped_key=_b64(wrapped), key_nonce=_b64(nonce)
            )
            _write_private(key_path, json.dumps(asdict(updated)).encode())
            count += 1
        self.keys = keys
        return count
