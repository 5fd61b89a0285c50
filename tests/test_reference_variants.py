"""The reference side carries the variants, through the path a platform uses (issue 14).

Uploads are hashed once (original and mirror); a confirmed item and media uploaded to a bank
are hashed with their 8 turns and flips and the crop grid. So: copies of a reported photo
posted turned 90 or 180 degrees, mirrored or cut 5% unevenly are removed when a specialist
confirms it, the same changes uploaded again are blocked, and a bank's photo blocks its turned
and cropped copies; an unrelated photo is untouched. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.http_servers import QuietHandler, serving
from tests.service_support import Service, make_settings, running_service, wait_for

Change = Callable[[Image.Image], Image.Image]


def _uneven_crop(image: Image.Image) -> Image.Image:
    """5% of each dimension cut away, 30% of it from one side and 70% from the other."""
    width, height = image.size
    cut_x, cut_y = round(width * 0.05), round(height * 0.05)
    left, top = round(cut_x * 0.3), round(cut_y * 0.7)
    return image.crop((left, top, width - (cut_x - left), height - (cut_y - top)))


CHANGES: dict[str, tuple[Change, str]] = {
    "turned90": (lambda im: im.transpose(Image.Transpose.ROTATE_90), "rotate270"),
    "turned180": (lambda im: im.transpose(Image.Transpose.ROTATE_180), "rotate180"),
    "mirrored": (lambda im: im.transpose(Image.Transpose.FLIP_LEFT_RIGHT), "mirror"),
    "cropped": (_uneven_crop, "cropped"),
}
"""Each change, and the transform a bank match reports for it (the turn that, applied to the
upload, gives the reference; ``cropped`` for a cut)."""


def _jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=90)
    return out.getvalue()


def _changed(photo: Path, name: str) -> bytes:
    with Image.open(photo) as image:
        return _jpeg(CHANGES[name][0](image))


@pytest.fixture
def platform_media() -> Iterator[tuple[str, dict[str, bytes]]]:
    """The platform's media endpoint: serves the bytes of the items it holds."""
    held: dict[str, bytes] = {}

    class Handler(QuietHandler):
        def do_GET(self) -> None:
            data = held.get(self.path.rsplit("/", 1)[-1])
            self.send_response(200 if data is not None else 404)
            self.end_headers()
            self.wfile.write(data or b"")

    with serving(Handler) as base:
        yield base, held


@pytest.fixture
def platform(
    db_url: str, tmp_path: Path, platform_media: tuple[str, dict[str, bytes]]
) -> Iterator[tuple[Service, dict[str, bytes]]]:
    base, held = platform_media
    settings = make_settings(
        tmp_path, db_url, media_url_template=f"{base}/media/{{content_id}}", media_secret="m"
    )
    with running_service(settings) as service:
        yield service, held


def _upload(service: Service, content_id: str, data: bytes) -> dict[str, Any]:
    answer = service.post(
        "/v1/content",
        data={"content_id": content_id, "uploader_id": f"u-{content_id}"},
        files={"file": (f"{content_id}.jpg", data, "image/jpeg")},
    )
    assert answer.status_code in (200, 201), answer.text
    return dict(answer.json())


def _actions(service: Service) -> set[tuple[str, str | None]]:
    return {(a["action"], a["content_id"]) for a in service.get("/v1/actions").json()["actions"]}


def test_confirmed_photo_removes_and_blocks_turned_and_cropped_copies(
    platform: tuple[Service, dict[str, bytes]], photo_paths: list[Path]
) -> None:
    service, held = platform
    photo, unrelated = photo_paths[3], photo_paths[40]
    original = photo.read_bytes()
    held["original"] = original
    assert _upload(service, "original", original)["verdict"] == "allow"
    for name in CHANGES:
        assert _upload(service, f"copy-{name}", _changed(photo, name))["verdict"] == "allow"
    assert _upload(service, "unrelated", unrelated.read_bytes())["verdict"] == "allow"
    index = service.client.app.state.takedown.index  # type: ignore[attr-defined]
    wait_for(lambda: index.sizes()["_content"] >= 6, 5, "the content index")

    report = service.client.post(
        "/v1/reports",
        json={
            "content": [{"content_id": "original"}],
            "category": "child_sexual_abuse",
            "minor_depicted": "yes",
            "relationship": "parent_or_guardian",
            "description": "A photo of my daughter.",
            "contact": {"email": "parent@example.org"},
        },
    )
    assert report.status_code == 201, report.text
    specialist = service.staff("child_safety_specialist")
    confirmed = service.as_(
        specialist,
        "POST",
        f"/v1/cases/{report.json()['case_id']}/decisions",
        json={"outcome": "violation"},
    )
    assert confirmed.status_code == 201, confirmed.text

    removed = {cid for action, cid in _actions(service) if action == "remove"}
    assert removed == {"original", *(f"copy-{name}" for name in CHANGES)}
    assert ("restrict", "unrelated") not in _actions(service)

    def verdict(data: bytes) -> dict[str, Any]:
        answer = service.post("/v1/lookup", files={"file": ("x.jpg", data, "image/jpeg")})
        return dict(answer.json())

    wait_for(lambda: verdict(original)["verdict"] == "block", 5, "the confirmed bank")
    for name, (_, transform) in CHANGES.items():
        again = _upload(service, f"again-{name}", _changed(photo, name))
        assert again["verdict"] == "block", name
        assert again["matches"][0]["transform"] == transform, (name, again["matches"][0])
    assert verdict(unrelated.read_bytes())["verdict"] == "allow"


def test_bank_media_blocks_turned_and_cropped_uploads(
    service: Service, photo_paths: list[Path]
) -> None:
    photo, unrelated = photo_paths[7], photo_paths[40]
    assert service.post("/v1/banks", json={"name": "known", "action": "block"}).status_code == 201
    added = service.post(
        "/v1/banks/known/entries",
        files={"file": ("p.jpg", photo.read_bytes(), "image/jpeg")},
        data={"label": "known item"},
    )
    assert added.status_code == 201, added.text
    index = service.client.app.state.takedown.index  # type: ignore[attr-defined]
    wait_for(lambda: index.sizes().get("known", 0) >= added.json()["added"], 5, "the bank")
    for name, (_, transform) in CHANGES.items():
        answer = _upload(service, f"upload-{name}", _changed(photo, name))
        assert answer["verdict"] == "block", name
        assert answer["matches"][0]["transform"] == transform, (name, answer["matches"][0])
        assert answer["matches"][0]["label"] == "known item"
    assert _upload(service, "unrelated", unrelated.read_bytes())["verdict"] == "allow"
