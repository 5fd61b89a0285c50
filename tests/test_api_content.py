"""The platform API end to end over HTTP through the ASGI app, on SQLite and PostgreSQL: the
issue's "done when" path (a photo into a bank, a re-encoded copy posted as content is blocked)
and every error shape."""

from __future__ import annotations

import io
import json
from pathlib import Path

from PIL import Image

from takedown.auth.scopes import Scope
from tests.conftest import encode, synthetic_rgb
from tests.service_support import Service, wait_for


def _reencoded(path: Path) -> bytes:
    image = Image.open(path).convert("RGB")
    image = image.resize((image.width * 2 // 3, image.height * 2 // 3))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=55)
    return out.getvalue()


def _bank_with_photo(service: Service, photo: Path, bank: str = "confirmed-csam") -> None:
    assert service.post("/v1/banks", json={"name": bank}).status_code == 201
    added = service.post(
        f"/v1/banks/{bank}/entries",
        files={"file": (photo.name, photo.read_bytes(), "image/jpeg")},
        data={"label": "known item", "external_id": "item-1"},
    )
    assert added.status_code == 201, added.text
    assert added.json()["added"] >= 3  # pdq (+ trimmed variants), md5, sha256


def test_reencoded_copy_is_blocked_and_registration_is_idempotent(
    service: Service, photo_paths: list[Path]
) -> None:
    photo = photo_paths[0]
    _bank_with_photo(service, photo)
    copy = _reencoded(photo)
    form = {"content_id": "post-1", "uploader_id": "user-77", "url": "https://p.example/1"}

    def blocked() -> bool:
        answer = service.post("/v1/lookup", files={"file": ("c.jpg", copy, "image/jpeg")})
        return bool(answer.json()["verdict"] == "block")

    wait_for(blocked, 2, "the bank entry to reach the index")
    first = service.post("/v1/content", data=form, files={"file": ("c.jpg", copy, "image/jpeg")})
    assert first.status_code == 201, first.text
    verdict = first.json()
    assert verdict["verdict"] == "block"
    assert verdict["case_id"] is None
    match = verdict["matches"][0]
    assert match["bank"] == "confirmed-csam"
    assert match["signal_type"] == "pdq"
    assert 0 <= match["distance"] <= 31
    assert match["label"] == "known item"
    assert set(match) >= {"bank", "entry_id", "label", "signal_type", "distance"}

    again = service.post("/v1/content", data=form, files={"file": ("c.jpg", copy, "image/jpeg")})
    assert again.status_code == 200
    assert again.json()["verdict"] == "block"
    assert again.json()["matches"] == verdict["matches"]

    actions = service.get("/v1/actions").json()["actions"]
    assert [(a["action"], a["content_id"]) for a in actions] == [("remove", "post-1")]

    # bytes are kept only for blocked or held items, never for allowed ones
    from takedown.legal.evidence import EvidenceStore

    evidence = EvidenceStore(service.settings.home)
    assert evidence.get("post-1") == copy
    other = encode(synthetic_rgb(5, (320, 240)), "PNG")
    allowed = service.post(
        "/v1/content", data={"content_id": "fine-1"}, files={"file": ("o.png", other, "image/png")}
    )
    assert allowed.json()["verdict"] == "allow"
    assert not evidence.has("fine-1")


def test_a_mirrored_copy_is_blocked_at_upload(service: Service, photo_paths: list[Path]) -> None:
    """Uploads are hashed mirrored too: a flipped repost of a banked photo is blocked, and the
    match says how it was turned (the bank holds the original only)."""
    photo = photo_paths[1]
    _bank_with_photo(service, photo, bank="known-items")
    image = Image.open(photo).convert("RGB").transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=70)
    flipped = out.getvalue()

    def verdict() -> dict[str, object]:
        answer = service.post("/v1/lookup", files={"file": ("f.jpg", flipped, "image/jpeg")})
        found: dict[str, object] = answer.json()
        return found

    wait_for(lambda: verdict()["verdict"] == "block", 2, "the bank entry to reach the index")
    matches = verdict()["matches"]
    assert isinstance(matches, list)
    nearest = next(m for m in matches if m["signal_type"] == "pdq")
    assert nearest["transform"] == "mirror" and nearest["distance"] <= 31


def test_json_signals_and_unrelated_content_is_allowed(service: Service) -> None:
    rgb = synthetic_rgb(3, (400, 300))
    banked = service.post("/v1/lookup", files={"file": ("a.png", encode(rgb, "PNG"), "image/png")})
    pdq = next(s["value"] for s in banked.json()["signals"] if s["type"] == "pdq")
    service.post("/v1/banks", json={"name": "ncii", "action": "hold"})
    service.post("/v1/banks/ncii/entries", json={"entries": [{"signal_type": "pdq", "value": pdq}]})
    wait_for(
        lambda: (
            service.post("/v1/lookup", json={"signals": [{"type": "pdq", "value": pdq}]}).json()[
                "verdict"
            ]
            == "hold"
        ),
        2,
        "hold verdict",
    )
    other = service.post(
        "/v1/content",
        json={"content_id": "x-2", "signals": [{"type": "md5", "value": "0" * 32}]},
    )
    assert other.status_code == 201
    assert other.json() | {"status": None} == {
        "verdict": "allow",
        "matches": [],
        "case_id": None,
        "content_id": "x-2",
        "status": None,
        "fingerprint": {
            "strength": "exact_only",
            "reason": "only exact hashes (MD5/SHA-256) were given; no perceptual fingerprint",
        },
    }
    held = service.post(
        "/v1/content", json={"content_id": "x-3", "signals": [{"type": "pdq", "value": pdq}]}
    )
    assert held.json()["verdict"] == "hold"
    assert held.json()["status"] == "restricted"
    assert service.get("/v1/actions").json()["actions"][-1]["action"] == "restrict"


def test_patch_content_records_deletion(service: Service) -> None:
    service.post(
        "/v1/content", json={"content_id": "p-1", "signals": [{"type": "md5", "value": "a" * 32}]}
    )
    patched = service.client.patch(
        "/v1/content/p-1", json={"status": "deleted"}, headers=service.headers()
    )
    assert patched.status_code == 200
    assert patched.json()["status"] == "deleted"
    assert service.get("/v1/content/p-1").json()["status"] == "deleted"


def test_errors_have_codes(service: Service, tmp_path: Path) -> None:
    def code(response: object) -> tuple[int, str]:
        return response.status_code, response.json()["code"]  # type: ignore[attr-defined]

    client = service.client
    body = {"signals": [{"type": "pdq", "value": "f" * 64}]}
    assert code(client.post("/v1/lookup", json=body)) == (401, "unauthorized")
    bad_key = {"Authorization": "Bearer td_not-a-key"}
    assert code(client.post("/v1/lookup", json=body, headers=bad_key)) == (401, "unauthorized")
    reader = service.key(Scope.BANKS_READ)
    assert code(client.post("/v1/lookup", json=body, headers=service.headers(reader))) == (
        403,
        "forbidden",
    )
    assert code(service.get("/v1/content/nope")) == (404, "content_not_found")
    assert code(service.get("/v1/banks/nope")) == (404, "bank_not_found")
    assert code(service.post("/v1/lookup", json={"signals": [{"type": "pdq", "value": "12"}]})) == (
        422,
        "invalid_signal",
    )
    assert code(
        service.post("/v1/lookup", json={"signals": [{"type": "nohash", "value": "12"}]})
    ) == (422, "invalid_signal")
    missing = service.post("/v1/content", json={"signals": body["signals"]})
    assert code(missing) == (422, "invalid_field")
    assert "content_id" in missing.json()["message"]
    assert code(
        service.post("/v1/lookup", files={"file": ("a.txt", b"just some text", "text/plain")})
    ) == (415, "unsupported_media")
    assert code(
        service.post("/v1/lookup", content=b"x", headers={"Content-Type": "text/plain"})
    ) == (415, "unsupported_media_type")
    truncated = encode(synthetic_rgb(1), "JPEG")[:300]
    assert code(service.post("/v1/lookup", files={"file": ("t.jpg", truncated, "image/jpeg")})) == (
        422,
        "corrupt_media",
    )
    assert code(
        service.post("/v1/lookup", content=b"{", headers={"Content-Type": "application/json"})
    ) == (
        400,
        "bad_request",
    )


def test_body_over_the_limit_is_413(db_url: str, tmp_path: Path) -> None:
    from tests.service_support import make_settings, running_service

    with running_service(make_settings(tmp_path, db_url, max_upload_bytes=10_000)) as service:
        big = encode(synthetic_rgb(2, (900, 700)), "PNG")
        assert len(big) > 10_000
        answer = service.post("/v1/lookup", files={"file": ("b.png", big, "image/png")})
        assert answer.status_code == 413
        assert answer.json()["code"] == "payload_too_large"
        # nothing was registered by a refused upload
        refused = service.post(
            "/v1/content", data={"content_id": "big-1"}, files={"file": ("b.png", big, "image/png")}
        )
        assert refused.status_code == 413
        assert service.get("/v1/content/big-1").status_code == 404


def test_uploader_id_and_ip_never_reach_the_logs_or_errors(
    service: Service, caplog: object
) -> None:
    """Personal data: the uploader id and IP addresses appear in no log line and no error; an
    allowed upload's IP events are dropped, not kept."""
    import logging

    from takedown.legal.evidence import EvidenceStore

    image = encode(synthetic_rgb(9, (320, 240)), "PNG")
    event = {"ip_address": "203.0.113.77", "at": "2026-11-25T10:00:00Z"}
    with caplog.at_level(logging.DEBUG):  # type: ignore[attr-defined]
        service.post(
            "/v1/content",
            json={
                "content_id": "priv-1",
                "uploader_id": "uploader-secret-4242",
                "signals": [{"type": "md5", "value": "b" * 32}],
                "ip_events": [event],
            },
        )
        allowed = service.post(
            "/v1/content",
            data={"content_id": "priv-2", "ip_events": json.dumps([event])},
            files={"file": ("p.png", image, "image/png")},
        )
        bad = service.post(
            "/v1/content",
            json={"content_id": "priv-3", "ip_events": [{**event, "ip_address": "10.0.0.999"}]},
        )
    logged = json.dumps([r.getMessage() for r in caplog.records])  # type: ignore[attr-defined]
    assert "uploader-secret-4242" not in logged and "203.0.113.77" not in logged
    assert allowed.json()["verdict"] == "allow"
    assert not EvidenceStore(service.settings.home).has("priv-2")  # nothing kept
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "ip_events.0.ip_address"
    assert "10.0.0.999" not in bad.text  # the error names the field, never the value


def test_reencoded_video_is_found_by_vpdq(service: Service, shared_data: Path) -> None:
    """The shared reference pair: a clip and a heavily compressed copy of it (different bytes,
    so only the video hash can find it)."""
    original = (shared_data / "videos" / "carphone_pristine.mp4").read_bytes()
    distorted = (shared_data / "videos" / "carphone_distorted.mp4").read_bytes()
    service.post("/v1/banks", json={"name": "videos"})
    added = service.post(
        "/v1/banks/videos/entries", files={"file": ("a.mp4", original, "video/mp4")}
    )
    assert added.status_code == 201, added.text

    def found() -> list[dict[str, object]]:
        answer = service.post("/v1/lookup", files={"file": ("b.mp4", distorted, "video/mp4")})
        return [m for m in answer.json()["matches"] if m["bank"] == "videos"]

    wait_for(lambda: bool(found()), 2, "the video entry")
    assert [m["signal_type"] for m in found()] == ["vpdq"]
    assert found()[0]["query_share"] >= 0.8
    registered = service.post(
        "/v1/content",
        data={"content_id": "vid-1"},
        files={"file": ("b.mp4", distorted, "video/mp4")},
    )
    assert registered.json()["verdict"] == "block"
    assert registered.json()["matches"][0]["signal_type"] == "vpdq"


def test_readiness_and_metrics(service: Service) -> None:
    ready = service.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["indexes"] == "loaded"
    service.post("/v1/lookup", json={"signals": [{"type": "md5", "value": "e" * 32}]})
    metrics = service.client.get("/metrics", headers=service.headers(service.key(Scope.METRICS)))
    assert metrics.status_code == 200
    text = metrics.text
    assert 'takedown_verdicts_total{endpoint="lookup",verdict="allow"} 1.0' in text
    assert 'route="/v1/lookup"' in text
    assert "takedown_outbox_lag_seconds" in text
    assert "takedown_index_entries" in text


def test_a_mirrored_repost_is_removed_with_the_reported_item(
    service: Service, photo_paths: list[Path]
) -> None:
    """The content index keeps an upload's mirrored hash too, so confirming a report on the
    original also removes a flipped repost found nowhere in any bank."""
    photo = photo_paths[2]
    image = Image.open(photo).convert("RGB")
    flipped = io.BytesIO()
    image.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(flipped, "JPEG", quality=75)
    for content_id, data in (("orig-1", photo.read_bytes()), ("flip-1", flipped.getvalue())):
        posted = service.post(
            "/v1/content",
            data={"content_id": content_id, "uploader_id": f"u-{content_id}"},
            files={"file": ("x.jpg", data, "image/jpeg")},
        )
        assert posted.json()["verdict"] == "allow"
    wait_for(
        lambda: service.client.app.state.takedown.index.stats.content_signals >= 4,  # type: ignore[attr-defined]
        2,
        "both uploads in the content index",
    )
    report = service.client.post(
        "/v1/reports",
        json={
            "content": [{"content_id": "orig-1"}],
            "category": "child_sexual_abuse",
            "minor_depicted": "yes",
            "relationship": "parent_or_guardian",
        },
    ).json()
    specialist = service.staff("child_safety_specialist")
    decided = service.as_(
        specialist,
        "POST",
        f"/v1/cases/{report['case_id']}/decisions",
        json={"outcome": "violation"},
    )
    assert decided.json()["state"] == "actioned", decided.text
    actions = {(a["action"], a["content_id"]) for a in service.get("/v1/actions").json()["actions"]}
    assert {("remove", "orig-1"), ("remove", "flip-1")} <= actions
