"""Two takedown instances, on SQLite and on PostgreSQL: a reviewer on A confirms an uploaded
photo and A's admin shares that category on A's signed feed; B subscribes to the feed as an
exchange (A's public key pinned), and after B's next fetch the same photo, re-encoded and
resized by another uploader, is blocked at upload on B. A is served over real HTTP (uvicorn);
B fetches it with its real client. (Withdrawals over the feed: tests/test_exchanges.py.)"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from takedown.auth.scopes import Scope
from tests.browser_support import live_server
from tests.service_support import Service, database_url, make_settings, running_service, wait_for

CATEGORY = "non_consensual_intimate_image"


def _reencoded(photo: Path, scale: float, quality: int) -> bytes:
    image = Image.open(photo).convert("RGB")
    image = image.resize((int(image.width * scale), int(image.height * scale)))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality)
    return out.getvalue()


@pytest.fixture
def instance_b(db_url: str, tmp_path: Path) -> Iterator[Service]:
    kind = "sqlite" if db_url.startswith("sqlite") else "postgresql"
    home = tmp_path / "b"
    home.mkdir()
    with database_url(kind, home) as url, running_service(make_settings(home, url)) as b:
        yield b


def _confirm(a: Service, case_id: str) -> None:
    for _ in range(2):  # a second person where the rules want one
        answer = a.as_(
            a.staff("reviewer"),
            "POST",
            f"/v1/cases/{case_id}/decisions",
            json={"outcome": "violation"},
        )
        assert answer.status_code == 201, answer.text
        if answer.json()["state"] in ("actioned", "confirmed"):
            return
    raise AssertionError(f"case {case_id} was not confirmed on A")


def _upload(service: Service, content_id: str, data: bytes) -> dict[str, Any]:
    answer = service.post(
        "/v1/content",
        data={"content_id": content_id, "uploader_id": f"uploader-{content_id}"},
        files={"file": (f"{content_id}.jpg", data, "image/jpeg")},
    )
    assert answer.status_code in (200, 201), answer.text
    body: dict[str, Any] = answer.json()
    return body


def _lookup(service: Service, data: bytes) -> str:
    answer = service.post("/v1/lookup", files={"file": ("copy.jpg", data, "image/jpeg")})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["verdict"])


def test_a_confirmation_on_a_blocks_the_re_encoded_upload_on_b(
    service: Service, instance_b: Service, photo_paths: list[Path]
) -> None:
    a, b = service, instance_b
    photo = photo_paths[0]
    original = _reencoded(photo, 1.0, 92)
    copy = _reencoded(photo, 0.8, 70)  # what another uploader posts on B

    # A: an upload, a report, a confirmation, and the category shared on A's feed
    assert _upload(a, "a-post-1", original)["verdict"] == "allow"
    report = a.client.post(
        "/v1/reports",
        json={
            "content": [{"content_id": "a-post-1"}],
            "category": CATEGORY,
            "minor_depicted": "no",
            "relationship": "self",
            "contact": {"email": "reporter@example.org"},
            "description": "that is me, posted without my consent",
            "good_faith_statement": True,
            "signature": "Jane Roe",
        },
    )
    assert report.status_code == 201, report.text
    _confirm(a, report.json()["case_id"])
    shared = a.client.put(
        f"/v1/sharing/feed/{CATEGORY}", json={"enabled": True}, headers=a.headers()
    )
    assert shared.status_code == 200, shared.text

    # B subscribes to A's feed, over HTTP, pinning A's key
    reader = a.key(Scope.EXCHANGE_READ)
    key = a.as_(reader, "GET", "/v1/exchange/feed/key").json()
    assert _lookup(b, copy) == "allow"  # B knows nothing yet
    with live_server(a.client.app) as a_url:
        added = b.post(
            "/v1/exchanges",
            json={
                "name": "instance-a",
                "kind": "takedown",
                "bank": "from-a",
                "action": "block",
                "options": {"url": a_url, "public_key": key["public_key"]},
                "credentials": {"api_key": reader},
            },
        )
        assert added.status_code == 201, added.text
        fetched = b.post("/v1/exchanges/instance-a/fetch?wait=true")
        assert fetched.status_code == 202, fetched.text
        assert fetched.json()["status"] == "done" and fetched.json()["added"] >= 1

        wait_for(lambda: _lookup(b, copy) == "block", 60, "B's index to take A's hashes")
        blocked = _upload(b, "b-post-9", copy)
        assert blocked["verdict"] == "block"
        assert {m["bank"] for m in blocked["matches"]} == {"from-a"}

        # nothing personal crossed over: B's entries hold hashes and the category only
        entries = b.get("/v1/banks/from-a/entries").json()
        assert {e["label"] for e in entries} == {"ncii"}
        assert all(e["source"] == "exchange:instance-a" for e in entries)
        for entry in entries:
            for personal in ("a-post-1", "uploader", "reporter"):
                assert personal not in str(entry)
