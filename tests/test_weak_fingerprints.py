"""Weak fingerprints, said out loud (issue 14): an item whose picture is too dark or flat for
PDQ, or a video with too few usable frames, can be found again only partly (a contrast-
normalised hash) or only as identical bytes. The verdict, the case page, the statement of
reasons and the reporter's status say so, and never claim a copy search or a block that could
not happen; a strong item keeps the wording it had."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from takedown.auth.accounts import create_user
from takedown.auth.scopes import Role
from takedown.cases.reasons import statement
from takedown.cases.vocabulary import Category, Outcome
from takedown.signals import FrameHash, Signal, VideoSignal
from takedown.signals.pdq import NORMALISED_TYPE
from takedown.signals.strength import (
    MIN_VIDEO_FRAMES,
    Fingerprint,
    Strength,
    assess,
    weakest,
)
from tests.conftest import encode
from tests.service_support import Service

PASSWORD = "a long test password"
HASH_A = "f" * 64
EXACT_SAID = "altered copies of this item cannot be recognised automatically"


def _frames(qualities: list[int]) -> tuple[FrameHash, ...]:
    """Frames with distinct hashes (each usable one counts once) at the given qualities."""
    return tuple(
        FrameHash(f"{i:064x}", quality, float(i)) for i, quality in enumerate(qualities, start=1)
    )


# -- the definition (pure) ---------------------------------------------------------------


def test_an_image_with_a_usable_pdq_is_strong() -> None:
    found = assess([Signal("pdq", HASH_A, quality=90), Signal("md5", "0" * 32)])
    assert found.strength is Strength.STRONG
    assert not found.limited


def test_a_dark_image_with_a_usable_normalised_hash_is_weak() -> None:
    found = assess([Signal("pdq", HASH_A, quality=30), Signal(NORMALISED_TYPE, HASH_A, quality=80)])
    assert found.strength is Strength.WEAK
    assert "quality 30 < 50" in found.reason and "contrast-normalised" in found.reason


def test_a_flat_image_is_exact_only() -> None:
    found = assess([Signal("pdq", HASH_A, quality=0), Signal(NORMALISED_TYPE, HASH_A, quality=0)])
    assert found.strength is Strength.EXACT_ONLY
    assert "only identical copies" in found.reason


def test_exact_hashes_alone_are_exact_only() -> None:
    assert assess([Signal("md5", "0" * 32)]).strength is Strength.EXACT_ONLY


def test_video_strength_counts_distinct_usable_frames_and_their_share() -> None:
    none = VideoSignal("vpdq", _frames([20] * 10))
    few = VideoSignal("vpdq", _frames([90] * (MIN_VIDEO_FRAMES - 1) + [20] * 3))
    sparse = VideoSignal("vpdq", _frames([90] * 4 + [20] * 30))  # 4 of 34: < 20%
    good = VideoSignal("vpdq", _frames([90] * 8 + [20] * 2))
    assert assess([none]).strength is Strength.EXACT_ONLY
    assert assess([few]).strength is Strength.WEAK
    assert assess([sparse]).strength is Strength.WEAK
    assert assess([good]).strength is Strength.STRONG
    # the mirrored and trimmed variants do not make a weak original strong
    assert assess([few, VideoSignal("vpdq", good.frames, transform="mirror")]).limited


def test_a_case_is_as_findable_as_its_weakest_item() -> None:
    strong = Fingerprint(Strength.STRONG, "")
    exact = Fingerprint(Strength.EXACT_ONLY, "")
    assert weakest([strong, None, exact]) is exact
    assert weakest([None]) is None


def test_the_statement_of_reasons_claims_only_what_the_fingerprint_allowed() -> None:
    def scope(fingerprint: Fingerprint | None) -> str:
        return statement(
            Outcome.VIOLATION,
            Category.OTHER,
            copies=2,
            facts="",
            automated_detection=True,
            fingerprint=fingerprint,
        ).scope

    strong = scope(Fingerprint(Strength.STRONG, ""))
    assert strong == scope(None)
    assert "2 identical or near-identical copies" in strong and "re-uploads are blocked" in strong
    exact = scope(Fingerprint(Strength.EXACT_ONLY, ""))
    assert "Only identical copies were searched" in exact and EXACT_SAID in exact
    assert "near-identical" not in exact and "; re-uploads are blocked" not in exact
    weak = scope(Fingerprint(Strength.WEAK, ""))
    assert "some altered copies may not be found" in weak
    assert "; re-uploads are blocked" not in weak


# -- through the service (SQLite and PostgreSQL) -----------------------------------------


def _dark_photo(photo_paths: list[Path]) -> bytes:
    """A shared photo made dark (a fifth of its brightness) until PDQ finds it unusable."""
    for path in photo_paths:
        rgb = np.asarray(Image.open(path).convert("RGB"))
        dark = (rgb.astype(np.float32) * 0.2).astype(np.uint8)
        data = encode(dark, "PNG")
        found = assess(_hash(data))
        if found.strength is Strength.WEAK:
            return data
    raise AssertionError("no shared photo gives a weak dark version")


def _hash(data: bytes) -> list[Any]:
    from takedown.signals import hash_bytes

    return list(hash_bytes(data).signals)


def _sign_in(service: Service, role: str) -> None:
    email = f"{role}-{uuid.uuid4().hex[:6]}@example.org"
    with service.db.write() as session:
        create_user(session, email, Role(role), PASSWORD, actor="test")
    service.sign_in(email, PASSWORD)


def _register(service: Service, content_id: str, data: bytes) -> dict[str, Any]:
    answer = service.post(
        "/v1/content",
        data={"content_id": content_id, "url": f"https://photos.example/p/{content_id}"},
        files={"file": (f"{content_id}.png", data, "image/png")},
    )
    assert answer.status_code == 201, answer.text
    again = service.post("/v1/content", json={"content_id": content_id})
    assert again.status_code == 200, again.text
    assert again.json()["fingerprint"] == answer.json()["fingerprint"]  # kept on the row
    looked = service.post("/v1/lookup", files={"file": ("x.png", data, "image/png")})
    assert looked.json()["fingerprint"] == answer.json()["fingerprint"]
    return dict(answer.json())


def _report(service: Service, content_id: str) -> tuple[str, str]:
    reported = service.client.post(
        "/v1/reports",
        json={
            "content": [{"content_id": content_id}],
            "category": "other",
            "minor_depicted": "no",
            "relationship": "other_user",
        },
    )
    assert reported.status_code == 201, reported.text
    body = reported.json()
    return str(body["case_id"]), str(body["status_token"])


def _confirm(service: Service, case_id: str) -> None:
    specialist = service.staff("child_safety_specialist")
    for _ in range(2):  # a second person where the rules want one
        answer = service.as_(
            specialist if _ == 0 else service.staff("child_safety_specialist"),
            "POST",
            f"/v1/cases/{case_id}/decisions",
            json={"outcome": "violation"},
        )
        assert answer.status_code == 201, answer.text
        if answer.json()["state"] in ("actioned", "confirmed"):
            return
    raise AssertionError(f"case {case_id} was not confirmed")


def test_weak_and_exact_only_items_are_said_out_loud_everywhere(
    service: Service, photo_paths: list[Path]
) -> None:
    items = {
        "strong-1": encode(np.asarray(Image.open(photo_paths[0]).convert("RGB")), "PNG"),
        "weak-1": _dark_photo(photo_paths),
        "flat-1": encode(np.full((240, 320, 3), 90, dtype=np.uint8), "PNG"),
    }
    expected = {"strong-1": "strong", "weak-1": "weak", "flat-1": "exact_only"}
    for content_id, data in items.items():
        verdict = _register(service, content_id, data)
        assert verdict["fingerprint"]["strength"] == expected[content_id], verdict
    signals = {
        s["type"]: s
        for s in service.post(
            "/v1/lookup", files={"file": ("x.png", items["weak-1"], "image/png")}
        ).json()["signals"]
    }
    assert signals[NORMALISED_TYPE]["variant"] == "normalised"
    assert signals[NORMALISED_TYPE]["usable"] is True and signals["pdq"]["usable"] is False

    cases = {content_id: _report(service, content_id) for content_id in items}

    # the reviewer is told before deciding, item by item
    _sign_in(service, "reviewer")
    for content_id, (case_id, _token) in cases.items():
        page = service.client.get(f"/console/cases/{case_id}").text
        form = page.index('id="decision-form"')
        if content_id == "flat-1":
            said = page.index("Only exact copies can be found for this item")
            assert said < form and page.index('id="fingerprint-warning"') < form
            assert "only exact copies can be found" in page[:form]
        elif content_id == "weak-1":
            assert page.index("Weak fingerprint: some altered copies") < form
            assert page.index('id="fingerprint-warning"') < form
        else:
            assert "fingerprint-warning" not in page and 'data-fingerprint="' not in page

    for content_id, (case_id, token) in cases.items():
        _confirm(service, case_id)
        status = service.client.get(f"/v1/reports/status/{token}").json()
        assert status["status"] == "removed"
        assert status["fingerprint"]["strength"] == expected[content_id]
        scope = status["statement_of_reasons"]["scope"]
        html = service.client.get(f"/status/{token}").text
        lead = re.search(r'<p class="lead" id="status"[^>]*>([^<]*)</p>', html)
        assert lead is not None
        if content_id == "strong-1":
            assert scope.endswith("re-uploads are blocked.")
            assert "Re-uploads are blocked." in lead.group(1)
            assert 'id="fingerprint"' not in html
        elif content_id == "flat-1":
            assert "Only identical copies were searched" in scope and EXACT_SAID in scope
            assert "Identical copies were searched" in lead.group(1)
            assert EXACT_SAID in lead.group(1)
            assert "Re-uploads are blocked" not in html
            assert "only identical copies (MD5/SHA-256) can be found" in html
        else:
            assert "some altered copies may not be found" in scope
            assert "some may be missed" in lead.group(1)
            assert "Re-uploads are blocked" not in html


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_items_registered_before_have_no_claim_either_way(service: Service) -> None:
    """Rows from before the migration have no assessment: the verdict says null, and the
    wording stays as it was (nothing is invented about them)."""
    answer = service.post(
        "/v1/content", json={"content_id": "old-1", "signals": [{"type": "pdq", "value": HASH_A}]}
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["fingerprint"]["strength"] == "strong"  # a platform's hash vouches
    from sqlalchemy import update

    from takedown.store.models import Content

    with service.db.write() as session:
        session.execute(update(Content).values(fingerprint=None))
    again = service.post("/v1/content", json={"content_id": "old-1"})
    assert again.status_code == 200, again.text
    assert again.json()["fingerprint"] is None
