"""Fingerprints computed in the reporter's own browser (static/fingerprint.js), in real Chromium.

The JavaScript PDQ (and its 8 turns and flips) is held bit-exact to the reference (the pdqhash
C++ that takedown hashes with) on the shared photos' pixels, MD5 and SHA-256 to hashlib; then a
victim who has a copy of the image reports it with the fingerprint alone: the file never leaves
the browser (the POST carries only the hashes), and the report reaches the image the platform
registered, though the victim's copy is mirrored and re-encoded (the page sends the PDQ hash's
turned and flipped variants too).
"""

from __future__ import annotations

import base64
import hashlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pdqhash
import pytest
from PIL import Image
from sqlalchemy import select

from takedown.api.app import create_app
from takedown.auth.accounts import create_key
from takedown.auth.scopes import Scope
from takedown.signals.pdq import DIHEDRAL_TRANSFORMS, bits_to_hex, hamming, hash_rgb
from takedown.store.db import Database
from takedown.store.models import CaseContent, Content, Report
from tests.browser_support import (
    axe_violations,
    live_server,
    settings_for,
    shot,
)
from tests.service_support import database_url, wait_for

PDQ_IN_PAGE = """([pixels, width, height]) => {
  const bytes = Uint8Array.from(atob(pixels), (c) => c.charCodeAt(0));
  return window.TakedownFingerprint.pdq(bytes, width, height);
}"""
DIGESTS_IN_PAGE = """async (data) => {
  const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
  const fp = window.TakedownFingerprint;
  return [fp.md5(bytes), await fp.sha256(bytes)];
}"""


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[str, Database]]:
    with database_url("sqlite", tmp_path) as url:
        db = Database(url)
        app = create_app(settings_for(tmp_path, url), db=db)
        with live_server(app) as base:
            yield base, db
        db.dispose()


def _photos(shared_data: Path, count: int) -> list[Path]:
    """Photos of every shape the set has, up to a size that passes through evaluate() quickly."""
    chosen = []
    for path in sorted((shared_data / "photos").iterdir()):
        with Image.open(path) as image:
            if image.width * image.height <= 1024 * 1024:
                chosen.append(path)
    return chosen[:: max(1, len(chosen) // count)][:count]


def test_javascript_pdq_md5_and_sha256_equal_the_reference(
    browser: Any, site: tuple[str, Database], shared_data: Path
) -> None:
    base, _db = site
    page = browser.new_page()
    page.goto(base + "/report")  # loopback is a secure context: Web Crypto is there
    photos = _photos(shared_data, 12)
    assert len(photos) == 12
    for path in photos:
        rgb = np.asarray(Image.open(path).convert("RGB"))
        rgba = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
        pixels = base64.b64encode(rgba.tobytes()).decode()
        found = page.evaluate(PDQ_IN_PAGE, [pixels, rgb.shape[1], rgb.shape[0]])
        expected_hash, expected_quality = hash_rgb(rgb)
        assert (found["hash"], found["quality"]) == (expected_hash, expected_quality), path.name
        variants, _quality = pdqhash.compute_dihedral(rgb)  # the reference's DCT-domain turns
        expected = {n: bits_to_hex(v) for n, v in zip(DIHEDRAL_TRANSFORMS, variants, strict=True)}
        assert {"original": found["hash"], **found["dihedral"]} == expected, path.name
        data = path.read_bytes()
        md5, sha256 = page.evaluate(DIGESTS_IN_PAGE, base64.b64encode(data).decode())
        assert md5 == hashlib.md5(data).hexdigest()
        assert sha256 == hashlib.sha256(data).hexdigest()
    # MD5's padding edge cases: lengths around a 64-byte block
    for length in (0, 1, 55, 56, 63, 64, 65, 119, 120, 1000):
        data = bytes(range(256)) * 4
        md5, _sha = page.evaluate(DIGESTS_IN_PAGE, base64.b64encode(data[:length]).decode())
        assert md5 == hashlib.md5(data[:length]).hexdigest(), length
    # too small for PDQ (the reference's minimum is 5 pixels a side)
    assert page.evaluate(PDQ_IN_PAGE, [base64.b64encode(bytes(4 * 4 * 4)).decode(), 4, 4]) is None
    page.close()


def _upload(base: str, db: Database, content_id: str, data: bytes) -> dict[str, Any]:
    """The platform registers an upload with its bytes; returns the verdict."""
    with db.write() as session:
        key = create_key(session, "platform", frozenset({Scope.CONTENT_WRITE}), actor="t")[1]
    answer = httpx.post(
        f"{base}/v1/content",
        headers={"Authorization": f"Bearer {key}"},
        data={"content_id": content_id, "uploader_id": f"uploader-{content_id}", "kind": "image"},
        files={"file": ("upload.jpg", data, "image/jpeg")},
        timeout=60,
    )
    assert answer.status_code == 201, answer.text
    verdict: dict[str, Any] = answer.json()
    return verdict


def _lookup(base: str, db: Database, data: bytes) -> str:
    with db.write() as session:
        key = create_key(session, "platform", frozenset({Scope.LOOKUP}), actor="t")[1]
    answer = httpx.post(
        f"{base}/v1/lookup",
        headers={"Authorization": f"Bearer {key}"},
        files={"file": ("upload.jpg", data, "image/jpeg")},
        timeout=60,
    )
    verdict: str = answer.json()["verdict"]
    return verdict


def _jpeg(image: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def test_a_victim_reports_with_a_fingerprint_and_the_image_never_leaves(
    browser: Any, site: tuple[str, Database], shared_data: Path, tmp_path: Path
) -> None:
    base, db = site
    photo = _photos(shared_data, 12)[3]
    assert _upload(base, db, "post-9", photo.read_bytes())["verdict"] == "allow"
    # the victim's own copy: mirrored, smaller and re-encoded, as a repost passed around can be
    image = Image.open(photo).convert("RGB").transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    image = image.resize((image.width * 3 // 4, image.height * 3 // 4))
    own_copy = tmp_path / "my-photo-DO-NOT-SEND.jpg"
    own_copy.write_bytes(_jpeg(image, 70))

    context = browser.new_context()
    page = context.new_page()
    posts: list[Any] = []
    page.on("request", lambda r: posts.append(r) if r.method == "POST" else None)
    page.goto(base + "/report")
    section = page.locator("#own_copy")
    assert section.is_visible()  # shown only with JavaScript
    page.get_by_label("Your copy of the image").set_input_files(str(own_copy))
    page.wait_for_selector("#own_copy[data-state=ready]", timeout=20_000)
    assert "only the fingerprint" in page.locator("#own-copy-status").inner_text().lower()
    sent = page.locator("#own-copy-hashes input[name=hash]").evaluate_all(
        "(fields) => fields.map((f) => f.value)"
    )
    by_type = dict(value.split(":", 1) for value in sent)
    assert set(by_type) == {"pdq", "md5", "sha256"}
    variants = page.locator("#own-copy-hashes input[name=pdq_dihedral]").evaluate_all(
        "(fields) => fields.map((f) => f.value.split(':')[0])"
    )
    assert sorted(variants) == sorted(DIHEDRAL_TRANSFORMS[1:])
    assert by_type["md5"] == hashlib.md5(own_copy.read_bytes()).hexdigest()
    # Chromium's JPEG decoder against Pillow's, on the same file: the same image
    assert hamming(by_type["pdq"], hash_rgb(np.asarray(Image.open(own_copy)))[0]) <= 4
    assert axe_violations(page) == []
    shot(page, "fingerprint-01-ready")

    page.get_by_label("Intimate images shared without consent").check()
    page.get_by_label("No", exact=True).check()
    page.get_by_label("It shows me").check()
    page.get_by_label("Email").fill("me@example.org")
    page.get_by_label("I believe in good faith").check()
    page.get_by_label("Your full name, as your signature").fill("Jane Doe")
    page.get_by_role("button", name="Send report").click()
    assert page.get_by_role("heading", name="We received your report").is_visible()
    shot(page, "fingerprint-02-receipt")

    (post,) = [r for r in posts if r.url.endswith("/report")]
    body = post.post_data or ""
    assert "multipart" not in (post.headers.get("content-type") or "")
    assert "DO-NOT-SEND" not in body and len(body) < 2000  # no file, no file name
    assert "hash=pdq%3A" in body and "pdq_dihedral=mirror%3A" in body
    with db.read() as session:
        report = session.execute(select(Report)).scalar_one()
        reached = session.execute(
            select(Content.content_id)
            .join(CaseContent, CaseContent.content_pk == Content.id)
            .where(CaseContent.case_id == report.case_id)
        ).scalars()
        assert list(reached) == ["post-9"]
        case_id = str(report.case_id)
    context.close()

    # the image posted again after the report, the right way round and re-encoded: the watch
    # on her fingerprint (its mirrored variant) holds it at once, into her case
    again = _jpeg(Image.open(photo).convert("RGB"), 55)
    wait_for(lambda: _lookup(base, db, again) == "hold", 5, "the watch in the index")
    late = _upload(base, db, "post-10", again)
    assert (late["verdict"], late["case_id"]) == ("hold", case_id)


def test_without_javascript_the_section_stays_hidden(
    browser: Any, site: tuple[str, Database]
) -> None:
    base, _db = site
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(base + "/report")
    assert not page.locator("#own_copy").is_visible()
    context.close()


def test_a_forged_fingerprint_is_refused_with_a_field_error(site: tuple[str, Database]) -> None:
    """The hidden fields are the browser's word only: the server validates them as the API
    validates ``hashes`` and names the field; nothing is stored."""
    base, db = site
    with httpx.Client(base_url=base) as client:
        page = client.get("/report")
        token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
        answer = client.post(
            "/report",
            data={
                "csrf_token": token,
                "hash": "pdq:not-a-hash",
                "category": "child_sexual_abuse",
                "minor_depicted": "yes",
                "relationship": "parent_or_guardian",
            },
        )
    assert answer.status_code == 422
    assert 'id="own_copy-error"' in answer.text
    with db.read() as session:
        assert session.execute(select(Report)).first() is None
