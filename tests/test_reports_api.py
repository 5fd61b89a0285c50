"""Reports and cases over the API, on SQLite and PostgreSQL: intake rules, restriction in the
same request, dedupe into the open case, status privacy, the rate limit, clocks (warning,
breach, escalation) with a moved clock, the two-person rule, appeals both ways, visibility."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from takedown.auth.scopes import Scope
from takedown.cases.policy import load_policy
from takedown.service.cases import tick
from takedown.signals import Signal
from takedown.store.models import CaseClock
from tests.service_support import (
    Service,
    judge_latencies,
    make_settings,
    running_service,
    wait_for,
)

MD5 = "5d41402abc4b2a76b9719d911017c592"
PDQ = "f" * 32 + "0" * 32


def _content(service: Service, content_id: str, md5: str = MD5, uploader: str = "u-1") -> None:
    answer = service.post(
        "/v1/content",
        json={
            "content_id": content_id,
            "uploader_id": uploader,
            "url": f"https://photos.example/p/{content_id}",
            "signals": [{"type": "md5", "value": md5}, {"type": "pdq", "value": PDQ}],
        },
    )
    assert answer.status_code == 201, answer.text


def _report(service: Service, **fields: Any) -> Any:
    body: dict[str, Any] = {
        "content": [{"url": "https://photos.example/p/post-1"}],
        "category": "child_sexual_abuse",
        "minor_depicted": "yes",
        "relationship": "parent_or_guardian",
        "description": "my son",
    }
    body.update(fields)
    return service.client.post("/v1/reports", json=body)


def _actions(service: Service) -> list[tuple[str, str | None]]:
    return [(a["action"], a["content_id"]) for a in service.get("/v1/actions").json()["actions"]]


def test_minor_report_restricts_in_the_same_request(service: Service) -> None:
    _content(service, "post-1")
    answer = _report(service)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["receipt"]["restricted"] is True
    assert len(body["status_token"]) >= 32  # >= 128 random bits
    assert body["status_url"].endswith(body["status_token"])
    assert ("restrict", "post-1") in _actions(service)
    status = service.client.get(f"/v1/reports/status/{body['status_token']}").json()
    assert status["status"] == "restricted_pending_review"
    assert status["decision"] is None
    # a second report on the same content joins the open case
    second = _report(service, content=[{"content_id": "post-1"}], relationship="ngo")
    assert second.json()["case_id"] == body["case_id"]
    assert service.client.get("/v1/reports/status/not-a-token").status_code == 404


def test_validation_names_the_field(service: Service) -> None:
    ncii = _report(service, category="non_consensual_intimate_image", minor_depicted="no")
    assert ncii.status_code == 422
    assert ncii.json()["code"] == "invalid_report"
    fields = {e["field"] for e in ncii.json()["errors"]}
    assert fields == {"signature", "good_faith_statement", "contact"}
    nothing = _report(service, content=[])
    assert {e["field"] for e in nothing.json()["errors"]} == {"content"}
    bad_enum = _report(service, relationship="cousin")
    assert bad_enum.status_code == 422 and "relationship" in bad_enum.json()["message"]
    bad_hash = _report(service, content=[], hashes=[{"type": "pdq", "value": "abc"}])
    assert bad_hash.json()["errors"][0]["field"] == "hashes.0.value"
    pdq = "f" * 64
    for dihedral in ({"sideways": pdq}, {"mirror": "abc"}):
        bad_variant = _report(
            service, content=[], hashes=[{"type": "pdq", "value": pdq, "dihedral": dihedral}]
        )
        assert bad_variant.json()["errors"][0]["field"] == "hashes.0.dihedral"
    md5_variant = _report(
        service,
        content=[],
        hashes=[{"type": "md5", "value": "0" * 32, "dihedral": {"mirror": pdq}}],
    )
    assert md5_variant.json()["errors"][0]["field"] == "hashes.0.dihedral"
    valid = _report(
        service,
        category="non_consensual_intimate_image",
        minor_depicted="no",
        relationship="self",
        contact={"email": "me@example.org"},
        good_faith_statement=True,
        signature="Jane Roe",
        content=[{"url": "https://elsewhere.example/x"}],
    )
    assert valid.status_code == 201  # unresolved, but never dropped
    staff = service.staff("child_safety_specialist")
    case = service.as_(staff, "GET", f"/v1/cases/{valid.json()['case_id']}").json()
    assert case["unresolved"] is True and case["takedown_request"] is True
    assert case["reports"][0]["contact"] == {"email": "me@example.org", "phone": ""}
    reviewer = service.staff("reviewer")
    seen = service.as_(reviewer, "GET", f"/v1/cases/{valid.json()['case_id']}").json()
    assert seen["reports"][0]["contact"] is None  # personal data only for the roles that need it


def test_report_by_hash_reaches_content(service: Service) -> None:
    _content(service, "post-9", md5="a" * 32)
    index = service.client.app.state.takedown.index  # type: ignore[attr-defined]
    wait_for(lambda: bool(index.match_content([Signal("md5", "a" * 32)])), 2, "content index")
    answer = _report(service, content=[], hashes=[{"type": "md5", "value": "a" * 32}])
    assert answer.status_code == 201
    assert answer.json()["receipt"]["restricted"] is True
    assert ("restrict", "post-9") in _actions(service)


def test_rate_limit(db_url: str, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, db_url, report_rate_per_ip=4, report_rate_total=100)
    with running_service(settings) as service:
        codes = [_report(service).status_code for _ in range(6)]
        assert codes[:2] == [201, 201]
        assert codes[-1] == 429
        accepted = codes.count(201)
        staff = service.staff("admin")
        cases = service.as_(staff, "GET", "/v1/cases").json()
        assert len(cases) == 1  # all accepted reports joined one case: nothing lost
        case = service.as_(staff, "GET", f"/v1/cases/{cases[0]['case_id']}").json()
        assert len(case["reports"]) == accepted


def test_clocks_warn_breach_and_escalate(service: Service) -> None:
    start = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    service.set_now(start)
    _content(service, "post-1")
    case_id = int(_report(service).json()["case_id"])
    policy = load_policy()

    def run_tick(at: datetime) -> int:
        with service.db.write() as session:
            return tick(session, policy, at)

    with service.db.read() as session:
        clocks = {
            c.kind: c
            for c in session.execute(
                select(CaseClock).where(CaseClock.case_id == case_id)
            ).scalars()
        }
    # restricted in the same request, but met only when the platform has it (here: a fetch)
    assert clocks["restrict"].met_at is None
    assert service.as_(service.key(Scope.ACTIONS_READ), "GET", "/v1/actions").status_code == 200
    with service.db.read() as session:
        restrict = session.get(CaseClock, clocks["restrict"].id)
        assert restrict is not None and restrict.met_at == start
    assert run_tick(start + timedelta(minutes=10)) == 0
    assert run_tick(start + timedelta(minutes=31)) == 1  # first review at 50%
    assert run_tick(start + timedelta(minutes=46)) == 1  # 75%
    assert run_tick(start + timedelta(minutes=61)) == 1  # breach
    specialist = service.staff("child_safety_specialist")
    senior = service.as_(specialist, "GET", "/v1/cases", params={"queue": "senior"}).json()
    assert [c["case_id"] for c in senior] == [str(case_id)]
    assert senior[0]["breached"] is True
    history = service.as_(specialist, "GET", f"/v1/cases/{case_id}").json()["history"]
    assert [e["action"] for e in history if e["action"].startswith("clock.")] == [
        "clock.met",  # the restrict clock, at the platform's fetch
        "clock.warning",
        "clock.warning",
        "clock.breach",
    ]


def test_two_person_rule_and_removal(service: Service) -> None:
    _content(service, "post-1")
    _content(service, "repost-1", uploader="u-2")  # same md5: an exact copy
    case_id = _report(service).json()["case_id"]
    first = service.staff("child_safety_specialist")
    second = service.staff("child_safety_specialist")
    reviewer = service.staff("reviewer")
    assert service.as_(reviewer, "GET", f"/v1/cases/{case_id}").status_code == 404
    assert service.as_(reviewer, "GET", "/v1/cases").json() == []
    recommended = service.as_(
        first, "POST", f"/v1/cases/{case_id}/decisions", json={"outcome": "no_violation"}
    )
    assert recommended.status_code == 201
    assert recommended.json()["state"] == "second_review"
    assert recommended.json()["recommendation"] is True
    again = service.as_(
        first, "POST", f"/v1/cases/{case_id}/decisions", json={"outcome": "no_violation"}
    )
    assert again.status_code == 409 and again.json()["code"] == "second_reviewer_required"
    assert ("restore", "post-1") not in _actions(service)
    confirmed = service.as_(
        second,
        "POST",
        f"/v1/cases/{case_id}/decisions",
        json={"outcome": "violation", "note": "seen"},
    )
    assert confirmed.status_code == 201, confirmed.text
    assert confirmed.json()["state"] == "actioned"
    assert confirmed.json()["statement_of_reasons"]["decision"] == "removal"
    actions = _actions(service)
    assert ("remove", "post-1") in actions and ("remove", "repost-1") in actions
    kinds = [a for a, _ in actions]
    assert "suspend_account" in kinds and "block_hash" in kinds and "notify" in kinds
    md5 = {"signals": [{"type": "md5", "value": MD5}]}
    wait_for(lambda: service.post("/v1/lookup", json=md5).json()["verdict"] == "block", 2, "bank")
    reupload = service.post("/v1/content", json={"content_id": "again-1", **md5})
    assert reupload.json()["verdict"] == "block"  # in confirmed-child_sexual_abuse now


def test_appeals_both_ways(service: Service) -> None:
    _content(service, "post-1")
    _content(service, "repost-1", uploader="u-2")  # a copy: found when a ruling removes
    body = _report(service, category="other", minor_depicted="no", relationship="other_user").json()
    case_id, token = body["case_id"], body["status_token"]
    reviewer = service.staff("reviewer")
    other = service.staff("reviewer")
    dismissed = service.as_(
        reviewer, "POST", f"/v1/cases/{case_id}/decisions", json={"outcome": "no_violation"}
    )
    assert dismissed.json()["state"] == "dismissed"
    status = service.client.get(f"/v1/reports/status/{token}").json()
    assert status["status"] == "no_violation_found" and status["can_appeal"] is True
    assert status["statement_of_reasons"]["redress"]
    appealed = service.client.post(
        f"/v1/reports/status/{token}/appeal", json={"reason": "it is mine"}
    )
    assert appealed.json()["status"] == "in_appeal"
    took_part = service.as_(
        reviewer, "POST", f"/v1/cases/{case_id}/appeal-decision", json={"outcome": "overturned"}
    )
    assert took_part.json()["code"] == "reviewer_took_part"
    overturned = service.as_(
        other, "POST", f"/v1/cases/{case_id}/appeal-decision", json={"outcome": "overturned"}
    )
    assert overturned.json()["state"] == "actioned"
    assert {("remove", "post-1"), ("remove", "repost-1")} <= set(_actions(service))
    assert overturned.json()["statement_of_reasons"]["automated_detection"] is True
    # now the uploader appeals the removal, through the platform
    platform = service.key(Scope.APPEALS_WRITE)
    appeal = service.as_(
        platform, "POST", f"/v1/cases/{case_id}/appeals", json={"reason": "satire"}
    )
    assert appeal.status_code == 201 and appeal.json()["state"] == "in_appeal"
    third = service.staff("senior_reviewer")
    restored = service.as_(
        third, "POST", f"/v1/cases/{case_id}/appeal-decision", json={"outcome": "overturned"}
    )
    assert restored.json()["state"] == "dismissed"
    assert ("restore", "post-1") in _actions(service)
    # restoring is no removal: no copies are searched, none is claimed in the statement
    assert restored.json()["statement_of_reasons"]["automated_detection"] is False
    entries = service.get("/v1/banks/confirmed-other/entries").json()
    assert entries and not any(e["enabled"] for e in entries)  # unbanked
    md5 = {"signals": [{"type": "md5", "value": MD5}]}
    wait_for(lambda: service.post("/v1/lookup", json=md5).json()["verdict"] == "allow", 2, "unbank")
    reupload = service.post("/v1/content", json={"content_id": "again-2", **md5})
    assert reupload.json()["verdict"] == "allow"


def test_need_more_info_round_trip(service: Service) -> None:
    _content(service, "post-1")
    body = _report(service, category="other", minor_depicted="no", relationship="other_user").json()
    reviewer = service.staff("reviewer")
    asked = service.as_(
        reviewer,
        "POST",
        f"/v1/cases/{body['case_id']}/decisions",
        json={"outcome": "need_more_info", "note": "Which account posted it first?"},
    )
    assert asked.json()["state"] == "awaiting_info"
    status = service.client.get(f"/v1/reports/status/{body['status_token']}").json()
    assert status["question"] == "Which account posted it first?"
    replied = service.client.post(
        f"/v1/reports/status/{body['status_token']}/reply", json={"message": "user @x"}
    )
    assert replied.json()["status"] == "under_review"


def _pdq_content(service: Service, content_id: str, pdq: str) -> None:
    answer = service.post(
        "/v1/content",
        json={
            "content_id": content_id,
            "url": f"https://photos.example/p/{content_id}",
            "signals": [{"type": "pdq", "value": pdq}],
        },
    )
    assert answer.status_code == 201


def _flip(value: str, bits: int) -> str:
    number = int(value, 16) ^ ((1 << bits) - 1)
    return f"{number:064x}"


def test_copy_reports_join_and_far_copies_get_a_quick_confirm(service: Service) -> None:
    base = "a5" * 32
    _pdq_content(service, "orig", base)
    _pdq_content(service, "near", _flip(base, 8))  # removed with the item
    _pdq_content(service, "far", _flip(base, 30))  # 22 bits from "near": a quick look
    index = service.client.app.state.takedown.index  # type: ignore[attr-defined]
    wait_for(lambda: index.sizes()["_content"] >= 3, 2, "content index")
    first = _report(service, content=[{"content_id": "orig"}]).json()
    joined = _report(service, content=[{"content_id": "near"}], relationship="ngo").json()
    assert joined["case_id"] == first["case_id"]  # a report on a copy joins the open case
    specialist = service.staff("child_safety_specialist")
    case_id = first["case_id"]
    service.as_(specialist, "POST", f"/v1/cases/{case_id}/decisions", json={"outcome": "violation"})
    actions = _actions(service)
    assert ("remove", "near") in actions and ("restrict", "far") in actions
    assert ("remove", "far") not in actions
    case = service.as_(specialist, "GET", f"/v1/cases/{case_id}").json()
    far = next(c for c in case["content"] if c["content_id"] == "far")
    assert far["case_status"] == "needs_confirm" and far["distance"] == 22
    settled = service.as_(
        specialist, "POST", f"/v1/cases/{case_id}/copies/far", json={"decision": "remove"}
    )
    assert settled.json()["status"] == "removed"
    assert ("remove", "far") in _actions(service)
    again = service.as_(
        specialist, "POST", f"/v1/cases/{case_id}/copies/far", json={"decision": "remove"}
    )
    assert again.status_code == 409


def test_trusted_flagger_priority_and_no_rate_limit(db_url: str, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, db_url, report_rate_per_ip=2)
    with running_service(settings) as service:
        flagger = service.key(Scope.TRUSTED_FLAGGER)
        body = {
            "content": [{"url": "https://elsewhere.example/spam"}],
            "category": "other",
            "minor_depicted": "no",
            "relationship": "ngo",
        }
        codes = [
            service.client.post(
                "/v1/reports", json=body, headers=service.headers(flagger)
            ).status_code
            for _ in range(5)
        ]
        assert codes == [201] * 5
        staff = service.staff("admin")
        case = service.as_(staff, "GET", "/v1/cases").json()[0]
        assert case["priority"] == "P1"  # P2 moved up for a trusted flagger (DSA art. 22)
        bad_key = service.client.post(
            "/v1/reports", json=body, headers={"Authorization": "Bearer td_wrong"}
        )
        assert bad_key.status_code == 401


def test_p0_restriction_reaches_the_webhook_within_a_second(db_url: str, tmp_path: Path) -> None:
    """Report accepted -> signed restrict webhook received: the median of five P0 reports
    within 1 s."""
    import time

    from takedown.actions.signing import verify
    from tests.service_support import Receiver

    settings = make_settings(tmp_path, db_url, background_worker=True)
    with Receiver().running() as receiver, running_service(settings) as service:
        secret = service.post("/v1/webhooks", json={"url": receiver.url}).json()["secret"]
        took = []
        for i in range(5):
            content_id = f"post-{i}"
            _content(service, content_id, md5=f"{i + 1:032x}")
            started = time.monotonic()
            url = f"https://photos.example/p/{content_id}"
            assert _report(service, content=[{"url": url}]).status_code == 201
            wait_for(
                lambda c=content_id: any(
                    r.json["action"] == "restrict" and r.json["content_id"] == c
                    for r in receiver.received
                ),
                5,
                "webhook",
            )
            took.append(time.monotonic() - started)
        got = next(r for r in receiver.received if r.json["action"] == "restrict")
        assert verify(secret, got.headers["Takedown-Signature"], got.body)
        print("report accepted -> restrict webhook received:", [f"{t * 1000:.0f} ms" for t in took])
        judge_latencies(took, 1.0)


NCII = {
    "category": "non_consensual_intimate_image",
    "minor_depicted": "no",
    "relationship": "self",
    "contact": {"email": "me@example.org"},
    "good_faith_statement": True,
    "signature": "Jane Roe",
}


def _verdict(service: Service, md5: str) -> str:
    found = service.post("/v1/lookup", json={"signals": [{"type": "md5", "value": md5}]})
    verdict: str = found.json()["verdict"]
    return verdict


def test_a_reported_image_posted_later_is_held_into_the_reporters_case(service: Service) -> None:
    """The victim reports with her copy's hashes before the image is on the platform: the
    upload that comes later is held (restricted at once) and joins her case; a person
    confirms, and the next copy is blocked."""
    hashes = [{"type": "md5", "value": MD5}, {"type": "pdq", "value": PDQ}]
    body = _report(service, content=[], hashes=hashes, **NCII).json()
    case_id = body["case_id"]
    reviewer = service.staff("reviewer")
    case = service.as_(reviewer, "GET", f"/v1/cases/{case_id}").json()
    assert case["unresolved"] is True and case["content"] == []
    watched = service.get("/v1/banks/reporter-hashes").json()
    assert watched["action"] == "hold"
    entries = service.get("/v1/banks/reporter-hashes/entries").json()
    assert {(e["signal_type"], e["value"]) for e in entries} == {("md5", MD5), ("pdq", PDQ)}
    assert {e["external_id"] for e in entries} == {f"case:{case_id}"}
    assert not any("me@example.org" in str(e) for e in entries)  # no personal data in banks

    wait_for(lambda: _verdict(service, MD5) == "hold", 2, "the watch reaching the index")
    posted = service.post(
        "/v1/content",
        json={"content_id": "late-1", "uploader_id": "u-9", "signals": hashes[:1]},
    )
    assert posted.json()["verdict"] == "hold"
    assert posted.json()["case_id"] == case_id  # the platform learns which case holds it
    assert ("restrict", "late-1") in _actions(service)
    case = service.as_(reviewer, "GET", f"/v1/cases/{case_id}").json()
    assert case["unresolved"] is False and case["restricted"] is True
    assert [(c["content_id"], c["match_type"]) for c in case["content"]] == [("late-1", "md5")]
    assert "content.held" in [e["action"] for e in case["history"]]

    decided = service.as_(
        reviewer, "POST", f"/v1/cases/{case_id}/decisions", json={"outcome": "violation"}
    )
    assert decided.json()["state"] == "actioned", decided.text
    assert ("remove", "late-1") in _actions(service)
    wait_for(lambda: _verdict(service, MD5) == "block", 2, "the confirmed bank")


def test_a_hold_always_reaches_a_person_and_a_dismissal_lifts_the_watch(service: Service) -> None:
    # a held upload no case watches for opens a case of its own, triaged by the entry's label
    near = "0" * 31 + "7"
    service.post("/v1/banks", json={"name": "near-ncii", "action": "hold"})
    service.post(
        "/v1/banks/near-ncii/entries",
        json={
            "entries": [
                {"signal_type": "md5", "value": near, "label": "non_consensual_intimate_image"}
            ]
        },
    )
    wait_for(lambda: _verdict(service, near) == "hold", 2, "hold bank")
    held = service.post(
        "/v1/content",
        json={
            "content_id": "held-1",
            "uploader_id": "u-3",
            "signals": [{"type": "md5", "value": near}],
        },
    )
    assert held.json()["verdict"] == "hold"
    reviewer = service.staff("reviewer")
    queue = service.as_(reviewer, "GET", "/v1/cases").json()
    (opened,) = [c for c in queue if c["category"] == "non_consensual_intimate_image"]
    case = service.as_(reviewer, "GET", f"/v1/cases/{opened['case_id']}").json()
    assert case["state"] == "restricted" and case["priority"] == "P1" and case["reports"] == []
    assert [c["content_id"] for c in case["content"]] == ["held-1"]

    # a watched image whose held copy a reviewer finds harmless: restored, watch lifted
    other = "0" * 31 + "9"
    body = _report(service, content=[], hashes=[{"type": "md5", "value": other}], **NCII).json()
    wait_for(lambda: _verdict(service, other) == "hold", 2, "watch")
    service.post(
        "/v1/content",
        json={
            "content_id": "beach-1",
            "uploader_id": "u-4",
            "signals": [{"type": "md5", "value": other}],
        },
    )
    dismissed = service.as_(
        reviewer,
        "POST",
        f"/v1/cases/{body['case_id']}/decisions",
        json={"outcome": "no_violation"},
    )
    assert dismissed.json()["state"] == "dismissed", dismissed.text
    assert ("restore", "beach-1") in _actions(service)
    entries = service.get("/v1/banks/reporter-hashes/entries").json()
    assert [e["enabled"] for e in entries if e["value"] == other] == [False]
    wait_for(lambda: _verdict(service, other) == "allow", 2, "watch lifted")
