"""The Doe scenario at API level, on SQLite and PostgreSQL, with a real shared video standing in
for the reported one (the word "abuse" is only a label here):

a video and five reposts (re-encoded, resized, mirrored, framed with a border, re-encoded and
resized) are on the platform; a parent with no account reports the original; it is restricted
in the same request; the first reviewer's "no violation" does not close the case; a
child-safety specialist confirms; the original and all five reposts are removed, a re-upload is
blocked, and the parent's status page says removed.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from takedown.signals import VideoSignal
from takedown.signals.wire import from_stored
from tests.service_support import Service, wait_for
from tests.video_factory import black_border, mirror, transform_video

REPOSTS = {
    "repost-reencoded": {"crf": 38},
    "repost-resized": {"scale": 0.5},
    "repost-mirrored": {"change": mirror},
    "repost-bordered": {"change": black_border},
    "repost-reencoded-resized": {"scale": 0.6, "crf": 35},
}


def _upload(service: Service, content_id: str, data: bytes, uploader: str) -> dict[str, Any]:
    answer = service.post(
        "/v1/content",
        data={
            "content_id": content_id,
            "uploader_id": uploader,
            "url": f"https://photos.example/v/{content_id}",
        },
        files={"file": (f"{content_id}.mp4", data, "video/mp4")},
    )
    assert answer.status_code in (200, 201), answer.text
    return dict(answer.json())


def _actions(service: Service) -> list[tuple[str, str | None]]:
    return [(a["action"], a["content_id"]) for a in service.get("/v1/actions").json()["actions"]]


def test_doe_scenario(service: Service, shared_data: Path, tmp_path: Path) -> None:
    source = shared_data / "videos" / "bikes.mp4"
    original = source.read_bytes()
    assert _upload(service, "doe-original", original, "uploader-0")["verdict"] == "allow"
    for number, (content_id, change) in enumerate(REPOSTS.items(), start=1):
        data = transform_video(source, tmp_path / f"{content_id}.mp4", **change)  # type: ignore[arg-type]
        assert _upload(service, content_id, data, f"uploader-{number}")["verdict"] == "allow"
    index = service.client.app.state.takedown.index  # type: ignore[attr-defined]
    with service.db.read() as session:
        from sqlalchemy import func, select

        from takedown.store.models import ContentSignal

        stored = session.execute(select(func.count()).select_from(ContentSignal)).scalar_one()
    wait_for(lambda: index.sizes()["_content"] >= 6, 5, "the content index")
    assert stored > 6

    # 2-3. a parent, with no account, reports the post; it is restricted in the same request
    started = time.perf_counter()
    report = service.client.post(
        "/v1/reports",
        json={
            "content": [{"url": "https://photos.example/v/doe-original"}],
            "category": "child_sexual_abuse",
            "minor_depicted": "yes",
            "relationship": "parent_or_guardian",
            "description": "This is my son, filmed when he was 13.",
            "contact": {"email": "parent@example.org"},
        },
    )
    report_to_restrict = time.perf_counter() - started
    assert report.status_code == 201, report.text
    body = report.json()
    assert body["receipt"]["restricted"] is True
    assert ("restrict", "doe-original") in _actions(service)
    print(f"report -> restrict action written: {report_to_restrict * 1000:.0f} ms (same request)")

    # 4. the first reviewer finds "no violation": a recommendation only, still restricted
    first = service.staff("child_safety_specialist")
    specialist = service.staff("child_safety_specialist")
    case_id = body["case_id"]
    recommended = service.as_(
        first, "POST", f"/v1/cases/{case_id}/decisions", json={"outcome": "no_violation"}
    )
    assert recommended.json()["state"] == "second_review"
    assert not [a for a in _actions(service) if a[0] == "restore"]
    status = service.client.get(f"/v1/reports/status/{body['status_token']}").json()
    assert status["status"] == "under_review"

    # 5. a child-safety specialist confirms: the original and every repost are removed
    started = time.perf_counter()
    confirmed = service.as_(
        specialist, "POST", f"/v1/cases/{case_id}/decisions", json={"outcome": "violation"}
    )
    confirm_to_removed = time.perf_counter() - started
    assert confirmed.status_code == 201, confirmed.text
    removed = {cid for action, cid in _actions(service) if action == "remove"}
    assert removed == {"doe-original", *REPOSTS}
    print(f"confirmation -> last copy's remove action written: {confirm_to_removed * 1000:.0f} ms")
    case = service.as_(specialist, "GET", f"/v1/cases/{case_id}").json()
    copies = {c["content_id"]: c for c in case["content"] if c["role"] == "copy"}
    assert set(copies) == set(REPOSTS)
    assert all(c["status"] == "removed" for c in copies.values())

    # uploading the clip again is refused (exact bytes, and a fresh re-encode)
    banked = service.get("/v1/banks/confirmed-child_sexual_abuse/entries").json()
    video_entry = next(e for e in banked if e["signal_type"] == "vpdq")
    assert isinstance(from_stored("vpdq", video_entry["value"]), VideoSignal)

    def blocked(data: bytes) -> bool:
        answer = service.post("/v1/lookup", files={"file": ("x.mp4", data, "video/mp4")})
        return bool(answer.json()["verdict"] == "block")

    wait_for(lambda: blocked(original), 2, "the confirmed bank")
    again = _upload(service, "doe-again", original, "uploader-9")
    assert again["verdict"] == "block"
    fresh = transform_video(source, tmp_path / "fresh.mp4", crf=33, scale=0.75)
    assert _upload(service, "doe-fresh", fresh, "uploader-10")["verdict"] == "block"

    # the parent's status page shows the removal and the statement of reasons
    status = service.client.get(f"/v1/reports/status/{body['status_token']}").json()
    assert status["status"] == "removed"
    assert status["decision"] == "violation"
    assert "5 identical or near-identical copies" in status["statement_of_reasons"]["scope"]
