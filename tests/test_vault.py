"""The evidence vault: nothing readable on disk, one data key per item, key rotation without
re-encrypting payloads, retention (expiry, legal hold, preservation), destruction, tampering."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from takedown.legal.evidence import KEY_FILE, EvidenceStore
from takedown.legal.vault import CHECK_FILE, MasterKeys, Vault, VaultError

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
YEAR = timedelta(days=365)
PATTERN = b"PLAINTEXT-MARKER-" * 64  # a known byte pattern that must never reach the disk


def _all_bytes(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in root.rglob("*") if p.is_file())


def test_nothing_readable_on_disk(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path)
    store.put("post-42", PATTERN, {"uploader_id": "uploader-secret-7", "url": "https://x/p/42"})
    disk = _all_bytes(tmp_path)
    assert b"PLAINTEXT-MARKER" not in disk
    assert b"uploader-secret-7" not in disk and b"post-42" not in disk
    assert store.get("post-42") == PATTERN
    assert store.vault.metadata("post-42") == {
        "content_id": "post-42",
        "uploader_id": "uploader-secret-7",
        "url": "https://x/p/42",
    }
    assert oct((tmp_path / KEY_FILE).stat().st_mode & 0o777) == "0o600"


def test_each_item_has_its_own_key_and_tampering_is_refused(tmp_path: Path) -> None:
    vault = Vault(tmp_path / "v", MasterKeys.generate())
    vault.put("a", b"same bytes", {}, now=NOW, retention=YEAR)
    vault.put("b", b"same bytes", {}, now=NOW, retention=YEAR)
    files = sorted((tmp_path / "v").glob("*.bin"))
    assert files[0].read_bytes() != files[1].read_bytes()
    files[0].write_bytes(files[1].read_bytes())  # swap one payload for another
    with pytest.raises(VaultError):
        [vault.get(i) for i in ("a", "b")]
    stranger = Vault(tmp_path / "v", MasterKeys.generate())
    with pytest.raises(VaultError):
        stranger.get("b")


def test_rotation_rewraps_keys_not_payloads(tmp_path: Path) -> None:
    keys = MasterKeys.generate()
    vault = Vault(tmp_path / "v", keys)
    vault.put("item", PATTERN, {"k": 1}, now=NOW, retention=YEAR)
    payload = next((tmp_path / "v").glob("*.bin")).read_bytes()
    new_keys = keys.rotated()
    assert vault.rewrap(new_keys) == 1
    assert next((tmp_path / "v").glob("*.bin")).read_bytes() == payload  # untouched
    only_new = MasterKeys(new_keys.current, {new_keys.current: new_keys.keys[new_keys.current]})
    assert Vault(tmp_path / "v", only_new).get("item") == PATTERN
    only_old = MasterKeys(keys.current, dict(keys.keys))
    with pytest.raises(VaultError):
        Vault(tmp_path / "v", only_old).get("item")


def test_retention_hold_preservation_and_destruction(tmp_path: Path) -> None:
    vault = Vault(tmp_path / "v", MasterKeys.generate())
    for item in ("expires", "held", "preserved", "destroyed"):
        vault.put(item, b"x", {}, now=NOW, retention=YEAR)
    vault.set_hold("held", True)
    vault.preserve_until("preserved", NOW + 2 * YEAR)
    assert vault.destroy("destroyed") and not vault.has("destroyed")
    assert vault.purge(NOW + YEAR - timedelta(seconds=1)) == 0
    assert vault.purge(NOW + YEAR + timedelta(days=1)) == 1
    assert not vault.has("expires")
    assert vault.has("held") and vault.has("preserved")
    vault.set_hold("held", False)
    assert vault.purge(NOW + 3 * YEAR) == 2
    assert [p.name for p in (tmp_path / "v").iterdir()] == [CHECK_FILE]  # key ids only


def test_evidence_access_is_narrow_and_audited(service: object, tmp_path: Path) -> None:
    from tests.conftest import encode, synthetic_rgb
    from tests.service_support import Service

    assert isinstance(service, Service)
    image = encode(synthetic_rgb(4, (200, 150)), "PNG")
    service.client.app.state.takedown.evidence.put(  # type: ignore[attr-defined]
        "held-1", image, {"uploader_id": "u-9"}
    )
    legal = service.staff("legal")
    reviewer = service.staff("reviewer")
    assert service.as_(reviewer, "GET", "/v1/evidence/held-1").status_code == 403
    admin_key = service.admin_key  # a platform/admin key has no staff role: refused too
    assert (
        service.client.get("/v1/evidence/held-1", headers=service.headers(admin_key)).status_code
        == 403
    )
    read = service.as_(legal, "GET", "/v1/evidence/held-1")
    assert read.status_code == 200 and read.content == image
    assert read.headers["content-type"] == "image/png"
    record = service.as_(legal, "GET", "/v1/evidence/held-1/record").json()
    assert record["metadata"]["uploader_id"] == "u-9" and record["legal_hold"] is False
    held = service.as_(legal, "POST", "/v1/evidence/held-1/hold", json={"hold": True})
    assert held.json()["legal_hold"] is True
    admin = service.staff("admin")
    order = {"request_reference": "LE-2026-17"}
    refused = service.as_(admin, "POST", "/v1/evidence/held-1/destroy", json=order)
    assert refused.status_code == 403  # destruction is legal's (auth.access)
    gone = service.as_(legal, "POST", "/v1/evidence/held-1/destroy", json=order)
    assert gone.status_code == 200
    assert service.as_(legal, "GET", "/v1/evidence/held-1").status_code == 404
    actions = [e["action"] for e in service.get("/v1/audit", params={"limit": 1000}).json()]
    for expected in ("evidence.read", "evidence.read_record", "evidence.hold", "evidence.destroy"):
        assert expected in actions


def test_purge_job_records_what_it_deleted(service: object) -> None:
    from takedown.actions.worker import purge_evidence
    from tests.service_support import Service

    assert isinstance(service, Service)
    evidence = service.client.app.state.takedown.evidence  # type: ignore[attr-defined]
    evidence.put("old-1", b"bytes", {})
    assert purge_evidence(service.db, evidence, datetime.now(UTC) + timedelta(days=400)) == 1
    assert not evidence.has("old-1")
    actions = [e["action"] for e in service.get("/v1/audit").json()]
    assert "evidence.purge" in actions


def test_cli_rotates_the_master_key(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    store = EvidenceStore(tmp_path)
    store.put("item-1", PATTERN, {})
    before = store.vault.keys.current
    env = {
        **os.environ,
        "TAKEDOWN_HOME": str(tmp_path),
        "TAKEDOWN_DATABASE_URL": f"sqlite:///{tmp_path / 'takedown.db'}",
    }
    done = subprocess.run(
        [sys.executable, "-m", "takedown", "vault", "rotate-key"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "re-wrapped 1 data keys" in done.stderr
    reopened = EvidenceStore(tmp_path)
    assert reopened.vault.keys.current != before
    assert list(reopened.vault.keys.keys) == [reopened.vault.keys.current]  # old key gone
    assert reopened.get("item-1") == PATTERN
