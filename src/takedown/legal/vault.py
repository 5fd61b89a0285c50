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

Which master keys the sealed items need is kept beside them, in ``key-check.json``: each key's
id and fingerprint (a hash of the key, which cannot be turned back into it). :meth:`Vault.check`
compares them with the keys at hand, so that a missing key file, or a different key, is noticed
when the service starts and at every readiness probe, not when someone first opens evidence.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

CHECK_FILE = "key-check.json"


class VaultError(Exception):
    """The vault cannot open an item or itself. ``code`` is the error code answers carry; the
    message names key ids, fingerprints and paths only (never an item)."""

    code = "evidence_unreadable"

    def __init__(self, message: str, *, key_id: str = "", fingerprint: str = "") -> None:
        super().__init__(message)
        self.key_id = key_id
        self.fingerprint = fingerprint


class VaultKeyMissing(VaultError):
    """Sealed items need a master key that is not at hand (the key file was lost)."""

    code = "vault_key_missing"


class VaultKeyWrong(VaultError):
    """A master key with the right id is at hand, but it is another key than the one the items
    were sealed with (a different key file or ``vault_key``)."""

    code = "vault_key_wrong"


def fingerprint(key: bytes) -> str:
    """A short, one-way name of a master key: tells two keys apart, reveals nothing of them."""
    return hashlib.sha256(b"takedown vault key fingerprint\0" + key).hexdigest()[:32]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"))


def _write_private(path: Path, data: bytes) -> None:
    """Write atomically (a unique temporary file, then rename): several processes may write
    the check file at once."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
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
    def configured(cls, value: str) -> MasterKeys:
        """The key given whole in configuration (``vault_key``)."""
        try:
            key = _unb64(value)
        except ValueError:
            key = b""
        if len(key) != 32:
            raise VaultKeyWrong("vault_key must be 32 bytes, base64-encoded")
        return cls("configured", {"configured": key})

    @classmethod
    def read(cls, path: Path) -> MasterKeys | None:
        """The key file, or None when there is none. Never makes a key: whether one may be
        made depends on the vault being empty (:class:`takedown.legal.evidence.EvidenceStore`)."""
        try:
            raw = json.loads(path.read_text())
            return cls(raw["current"], {k: _unb64(v) for k, v in raw["keys"].items()})
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            raise VaultKeyWrong(
                f"the key file {path} cannot be read (damaged?): restore it from your backup"
            ) from None

    @classmethod
    def none(cls) -> MasterKeys:
        """No key at all: what a vault is opened with when the key file is gone."""
        return cls("", {})

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
    """Items under ``root``, sealed with ``keys``. ``on_stale`` is called when the keys at hand
    look out of date (another process rotated the master key): it should load the current keys
    into :attr:`keys`, or raise."""

    def __init__(
        self, root: Path, keys: MasterKeys, on_stale: Callable[[], None] | None = None
    ) -> None:
        self.root = root
        self.keys = keys
        self.on_stale = on_stale

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

    def _master(self, key_id: str) -> bytes:
        master = self.keys.keys.get(key_id)
        if master is None and self.on_stale is not None:
            self.on_stale()  # rotated elsewhere: the key file may hold it now
            master = self.keys.keys.get(key_id)
        if master is None:
            raise VaultKeyMissing(f"master key {key_id} is not available", key_id=key_id)
        return master

    def _unwrap(self, name: str, sealed: Sealed) -> bytes:
        master = self._master(sealed.key_id)
        try:
            return AESGCM(master).decrypt(
                _unb64(sealed.key_nonce), _unb64(sealed.wrapped_key), name.encode()
            )
        except InvalidTag:
            raise VaultError(
                "the data key does not open: wrong master key or tampering", key_id=sealed.key_id
            ) from None

    # the check file: which master keys the sealed items need

    def _check_path(self) -> Path:
        return self.root / CHECK_FILE

    def _needed(self) -> dict[str, str] | None:
        """Key id -> fingerprint of every master key sealed items were wrapped with, as the
        check file says; None when there is no check file (a vault from before it existed)."""
        try:
            raw = json.loads(self._check_path().read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            raise VaultError(f"the vault's {CHECK_FILE} cannot be read") from None
        keys = raw.get("keys") if isinstance(raw, dict) else None
        if not isinstance(keys, dict):
            raise VaultError(f"the vault's {CHECK_FILE} cannot be read")
        return {str(k): str(v) for k, v in keys.items()}

    def _write_needed(self, needed: dict[str, str]) -> None:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        body = {"version": 1, "keys": dict(sorted(needed.items()))}
        _write_private(self._check_path(), json.dumps(body).encode())

    def _remember(self, key_id: str) -> None:
        """Record that items are sealed with ``key_id`` (before the first one is written)."""
        needed = self._needed() or {}
        wanted = fingerprint(self.keys.keys[key_id])
        if needed.get(key_id) == wanted:
            return
        # an emptied vault needs none of the keys it once did
        self._write_needed({key_id: wanted} if self.is_empty() else {**needed, key_id: wanted})

    def _survey(self) -> dict[str, str]:
        """Build the check file of a vault that has none: each key id in use must open one of
        its items with the key at hand (which proves it is the right key)."""
        needed: dict[str, str] = {}
        for key_path in self._key_files():
            sealed = Sealed(**json.loads(key_path.read_text()))
            if sealed.key_id in needed:
                continue
            master = self.keys.keys.get(sealed.key_id)
            if master is None:
                raise VaultKeyMissing(
                    f"sealed items need master key {sealed.key_id}, which is not at hand",
                    key_id=sealed.key_id,
                )
            try:
                AESGCM(master).decrypt(
                    _unb64(sealed.key_nonce), _unb64(sealed.wrapped_key), key_path.stem.encode()
                )
            except InvalidTag:
                raise VaultKeyWrong(
                    f"the master key {sealed.key_id} at hand does not open the sealed items",
                    key_id=sealed.key_id,
                ) from None
            needed[sealed.key_id] = fingerprint(master)
        self._write_needed(needed)
        return needed

    def is_empty(self) -> bool:
        return not self.root.is_dir() or next(self.root.glob("*.key"), None) is None

    def count(self) -> int:
        return sum(1 for _ in self._key_files())

    def check(self) -> None:
        """Raise :class:`VaultKeyMissing` or :class:`VaultKeyWrong` unless every master key the
        sealed items need is at hand (an empty vault needs none). Cheap: no item is read,
        except once to build the check file of a vault made before it existed."""
        if self.is_empty():
            return
        needed = self._needed()
        if needed is None:
            needed = self._survey()
        for key_id, expected in sorted(needed.items()):
            master = self.keys.keys.get(key_id)
            if master is None:
                raise VaultKeyMissing(
                    f"sealed items need master key {key_id}, which is not at hand",
                    key_id=key_id,
                    fingerprint=expected,
                )
            if fingerprint(master) != expected:
                raise VaultKeyWrong(
                    f"the master key {key_id} at hand is not the one the items were sealed with",
                    key_id=key_id,
                    fingerprint=expected,
                )

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
        needed = self._needed()
        if needed and self.keys.current not in needed and self.on_stale is not None:
            self.on_stale()  # the items moved to another key: seal with the current one
        self._remember(self.keys.current)
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
        try:
            opened = AESGCM(data_key).decrypt(
                _unb64(sealed.meta_nonce), _unb64(sealed.meta), self._aad(item_id)
            )
        except InvalidTag:
            raise VaultError("the metadata does not open: it was changed on disk") from None
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

    def _rewrap_pass(self, keys: MasterKeys) -> int:
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
        return count

    def rewrap(self, keys: MasterKeys) -> int:
        """Re-wrap every data key with ``keys.current`` (payloads untouched); returns how many.

        The check file names both keys while this runs, and only the new one afterwards. A
        second pass catches an item another process sealed with the old key meanwhile (it saw
        the check file still naming the old key)."""
        old = self.keys
        self.keys = MasterKeys(keys.current, {**old.keys, **keys.keys})
        self._remember(keys.current)
        count = self._rewrap_pass(keys)
        self._write_needed({keys.current: fingerprint(keys.keys[keys.current])})
        count += self._rewrap_pass(keys)
        self.keys = keys
        return count

    def set_aside(self, folder: Path) -> SetAside:
        """Move every item the keys at hand cannot open into ``folder`` (which keeps them, should
        the key turn up), and record that the rest need only those keys. For a vault whose key
        is lost for good: see ``takedown vault reset-key``."""
        moved = held = 0
        for key_path in self._key_files():
            sealed = Sealed(**json.loads(key_path.read_text()))
            master = self.keys.keys.get(sealed.key_id)
            if master is not None:
                try:
                    AESGCM(master).decrypt(
                        _unb64(sealed.key_nonce), _unb64(sealed.wrapped_key), key_path.stem.encode()
                    )
                    continue
                except InvalidTag:
                    pass
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            for path in (key_path, key_path.with_suffix(".bin")):
                if path.exists():
                    path.replace(folder / path.name)
            moved += 1
            held += sealed.legal_hold
        if self.is_empty():
            self._write_needed({})
        else:
            self._survey()  # every item left opens with the keys at hand
        return SetAside(moved, held)


@dataclass(frozen=True)
class SetAside:
    """What :meth:`Vault.set_aside` moved: items, and how many of them were under legal hold."""

    items: int
    held: int
