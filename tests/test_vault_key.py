"""Losing the vault's master key is loud: with sealed items and their key missing or different,
`takedown serve`, `takedown worker` and the app refuse to start with a message saying what to
do; a new key is made only for an empty vault; `/readyz` answers 503 with a code while the vault
does not open; reading evidence then is a 503 with a code, never a 500. `vault reset-key`
acknowledges a loss (audited); `vault rotate-key` run beside a running service loses nothing."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from takedown.api.app import create_app
from takedown.legal.evidence import KEY_FILE, RESET_COMMAND, EvidenceStore
from takedown.legal.vault import MasterKeys, Vault, VaultKeyMissing, VaultKeyWrong
from tests.conftest import run_takedown
from tests.service_support import Service, make_settings

PAYLOAD = b"sealed evidence bytes " * 16


def _sealed_home(home: Path) -> EvidenceStore:
    store = EvidenceStore(home)
    store.put("item-1", PAYLOAD, {"uploader_id": "u-1"})
    store.put("item-2", PAYLOAD, {})
    return store


def _cli(home: Path, db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TAKEDOWN_HOME": str(home), "TAKEDOWN_DATABASE_URL": db_url}
    return subprocess.run(
        [sys.executable, "-m", "takedown", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_serve_and_worker_refuse_when_the_key_file_is_lost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _sealed_home(tmp_path)
    (tmp_path / KEY_FILE).unlink()  # the key file is lost; the sealed items are not
    monkeypatch.setenv("TAKEDOWN_HOME", str(tmp_path))
    monkeypatch.setenv("TAKEDOWN_DATABASE_URL", f"sqlite:///{tmp_path / 'takedown.db'}")
    monkeypatch.setenv("TAKEDOWN_PORT", "1")  # never reached: it must refuse before listening
    for command in ("serve", "worker"):
        done = run_takedown(command, timeout=60)
        assert done.returncode == 1, done.stderr
        message = " ".join(done.stderr.split())
        assert "cannot open the evidence vault" in message
        assert "holds 2 sealed items" in message
        assert f"{tmp_path / KEY_FILE} is missing" in message
        assert f"Restore {tmp_path / KEY_FILE} from your backup" in message
        assert RESET_COMMAND in message
    assert not (tmp_path / KEY_FILE).exists()  # no new key was made over the evidence
    with pytest.raises(VaultKeyMissing):  # and the app itself refuses too
        create_app(make_settings(tmp_path, f"sqlite:///{tmp_path / 'takedown.db'}"))


def test_a_different_key_is_detected(tmp_path: Path) -> None:
    store = _sealed_home(tmp_path)
    same_id = store.vault.keys.current
    stranger = MasterKeys(same_id, {same_id: os.urandom(32)})
    stranger.save(tmp_path / KEY_FILE)  # another key under the same id (a wrong backup)
    with pytest.raises(VaultKeyWrong, match="holds a different key"):
        EvidenceStore(tmp_path)
    status = _cli(tmp_path, f"sqlite:///{tmp_path / 'takedown.db'}", "vault", "status")
    assert status.returncode == 1 and "holds a different key" in status.stderr

    # a vault sealed before the check file existed: found by opening one item per key
    (tmp_path / "evidence" / "key-check.json").unlink()
    with pytest.raises(VaultKeyWrong):
        EvidenceStore(tmp_path)


def test_a_changed_vault_key_setting_is_detected(tmp_path: Path) -> None:
    first = base64.b64encode(os.urandom(32)).decode()
    EvidenceStore(tmp_path, first).put("item-1", PAYLOAD)
    assert EvidenceStore(tmp_path, first).get("item-1") == PAYLOAD
    with pytest.raises(VaultKeyWrong, match="configured vault_key holds a different key"):
        EvidenceStore(tmp_path, base64.b64encode(os.urandom(32)).decode())
    with pytest.raises(VaultKeyMissing):  # back to a key file: not the key the items need
        EvidenceStore(tmp_path)


def test_a_key_is_made_only_for_an_empty_vault(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path)
    assert (tmp_path / KEY_FILE).is_file()  # first start: made and kept
    store.put("item-1", PAYLOAD)
    assert store.vault.destroy("item-1")  # the vault is empty again
    (tmp_path / KEY_FILE).unlink()
    fresh = EvidenceStore(tmp_path)  # nothing to lose: a new key
    assert fresh.vault.keys.current != store.vault.keys.current
    fresh.put("item-2", PAYLOAD)
    assert EvidenceStore(tmp_path).get("item-2") == PAYLOAD  # the old key is not needed


def test_reset_key_acknowledges_the_loss_and_is_audited(db_url: str, tmp_path: Path) -> None:
    store = _sealed_home(tmp_path)
    store.vault.set_hold("item-1", True)
    (tmp_path / KEY_FILE).unlink()
    refused = _cli(tmp_path, db_url, "vault", "reset-key")
    assert refused.returncode == 2 and "restore" in refused.stderr.lower()
    assert not (tmp_path / KEY_FILE).exists()

    done = _cli(tmp_path, db_url, "vault", "reset-key", "--i-understand-evidence-is-lost")
    assert done.returncode == 0, done.stderr
    assert "2 unreadable items (1 under legal hold) moved to" in done.stderr
    aside = list(tmp_path.glob("evidence-unreadable-*"))
    assert len(aside) == 1 and len(list(aside[0].glob("*.key"))) == 2  # kept, not deleted
    reopened = EvidenceStore(tmp_path)  # starts again, with the new key
    assert not reopened.has("item-1")
    assert _cli(tmp_path, db_url, "vault", "status").returncode == 0
    engine = create_engine(db_url)
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT data FROM audit_events WHERE action = 'vault.reset_key'")
        ).all()
    engine.dispose()
    assert len(rows) == 1
    assert json.loads(rows[0][0])["items_lost"] == 2
    again = _cli(tmp_path, db_url, "vault", "reset-key", "--i-understand-evidence-is-lost")
    assert again.returncode == 0 and "nothing to reset" in again.stderr


def test_readyz_and_evidence_reads_when_the_vault_cannot_open(service: Service) -> None:
    home = service.settings.home
    evidence = service.client.app.state.takedown.evidence  # type: ignore[attr-defined]
    evidence.put("held-1", PAYLOAD, {"uploader_id": "u-9"})
    legal = service.staff("legal")
    assert service.client.get("/readyz").json()["vault"] == "ok"
    assert service.as_(legal, "GET", "/v1/evidence/held-1").content == PAYLOAD

    key_file = (home / KEY_FILE).read_bytes()
    (home / KEY_FILE).unlink()  # lost while the service runs
    ready = service.client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["code"] == "vault_key_missing" and ready.json()["vault"] != "ok"
    assert str(home) not in ready.text  # no server paths in a public answer

    other = MasterKeys.generate()
    other.save(home / KEY_FILE)  # a wrong key file put back
    ready = service.client.get("/readyz")
    assert ready.status_code == 503 and ready.json()["code"] == "vault_key_missing"
    (home / KEY_FILE).write_bytes(key_file)  # the right one restored
    assert service.client.get("/readyz").status_code == 200

    # an item sealed under a key this service does not have (and cannot find): 503, not 500
    Vault(evidence.vault.root, other).put(
        "held-2", PAYLOAD, {}, now=datetime.now(UTC), retention=evidence.retention
    )
    read = service.as_(legal, "GET", "/v1/evidence/held-2")
    assert read.status_code == 503 and read.json()["code"] == "vault_key_missing"
    record = service.as_(legal, "GET", "/v1/evidence/held-2/record")
    assert record.status_code == 503 and record.json()["code"] == "vault_key_missing"
    assert service.client.get("/readyz").json()["code"] == "vault_key_missing"


def test_rotating_the_key_beside_a_running_service_loses_nothing(
    service: Service,
) -> None:
    home = service.settings.home
    evidence = service.client.app.state.takedown.evidence  # type: ignore[attr-defined]
    evidence.put("held-1", PAYLOAD, {})
    legal = service.staff("legal")
    rotated = _cli(home, service.settings.db_url, "vault", "rotate-key")
    assert rotated.returncode == 0, rotated.stderr
    # the running service still holds only the old key in memory: it finds the new one
    assert service.as_(legal, "GET", "/v1/evidence/held-1").content == PAYLOAD
    evidence.put("held-2", PAYLOAD, {})  # sealed with the new key, not the dropped one
    assert service.client.get("/readyz").status_code == 200
    assert EvidenceStore(home).get("held-2") == PAYLOAD
