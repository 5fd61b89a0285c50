"""CyberTipline reports on SQLite and PostgreSQL: a confirmed child-abuse case drafts a report
with a 24 h clock; legal approval files it with the real client over HTTP against a local
server that checks NCMEC's protocol; errors, retries, resumption and restarts."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from takedown.legal.cybertip import (
    CSAM_INCIDENT,
    ReporterContact,
    TipReport,
    element_order,
    report_xml,
)
from tests.conftest import encode, synthetic_rgb
from tests.ncmec_server import FakeNcmec
from tests.service_support import Service, make_settings, running_service

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
CONTACT = ReporterContact("Example Photos Inc.", "Lee", "Legal", "legal@example.org", "+1 555 0100")


def test_report_xml_is_in_schema_order_and_refuses_the_future() -> None:
    report = TipReport(CSAM_INCIDENT, NOW - timedelta(hours=1), ("https://p.example/v/1",), CONTACT)
    assert element_order(report_xml(report, NOW)) == [
        "incidentSummary",
        "internetDetails",
        "reporter",
    ]
    with pytest.raises(ValueError, match="future"):
        report_xml(TipReport(CSAM_INCIDENT, NOW + timedelta(hours=1), ("u",), CONTACT), NOW)


@pytest.fixture
def ncmec() -> Iterator[FakeNcmec]:
    with FakeNcmec().running() as fake:
        yield fake


@pytest.fixture
def legal_service(db_url: str, tmp_path: Path, ncmec: FakeNcmec) -> Iterator[Service]:
    settings = make_settings(
        tmp_path,
        db_url,
        ncmec_url=ncmec.url,
        ncmec_username=ncmec.username,
        ncmec_password=ncmec.password,
        reporter_company="Example Photos Inc.",
        reporter_first_name="Lee",
        reporter_last_name="Legal",
        reporter_email="legal@example.org",
    )
    with running_service(settings) as service:
        yield service


def _confirmed_case(service: Service) -> str:
    image = encode(synthetic_rgb(11, (320, 240)), "PNG")
    service.post(
        "/v1/content",
        json={
            "content_id": "post-1",
            "uploader_id": "uploader-1",
            "url": "https://photos.example/p/post-1",
            "signals": [{"type": "md5", "value": "c" * 32}],
        },
    )
    service.client.app.state.takedown.evidence.put("post-1", image, {})  # type: ignore[attr-defined]
    report = service.client.post(
        "/v1/reports",
        json={
            "content": [{"content_id": "post-1"}],
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
    assert decided.json()["state"] == "actioned"
    return str(report["case_id"])


def test_confirmed_case_is_filed_after_legal_approval(
    legal_service: Service, ncmec: FakeNcmec
) -> None:
    service = legal_service
    case_id = _confirmed_case(service)
    legal = service.staff("legal")
    queue = service.as_(legal, "GET", "/v1/cybertipline").json()
    assert [(t["case_id"], t["state"]) for t in queue] == [(case_id, "draft")]
    case = service.as_(legal, "GET", f"/v1/cases/{case_id}").json()
    assert "cybertip" in {c["kind"] for c in case["clocks"]}
    reviewer = service.staff("child_safety_specialist")
    tip_id = queue[0]["id"]
    refused = service.as_(reviewer, "POST", f"/v1/cybertipline/{tip_id}/approve")
    assert refused.status_code == 403  # only legal approves
    ncmec.fail_next = 1  # one server error: retried with back-off
    filed = service.as_(legal, "POST", f"/v1/cybertipline/{tip_id}/approve")
    assert filed.status_code == 200, filed.text
    body = filed.json()
    assert body["state"] == "finished" and body["files"] == 1
    accepted = ncmec.reports[body["ncmec_report_id"]]
    assert accepted.finished and len(accepted.files) == 1 and accepted.details
    assert len(ncmec.reports) == 1  # the 1000 answer created nothing; the retry filed one
    submits = ncmec.calls.count("/submit")
    again = service.as_(legal, "POST", f"/v1/cybertipline/{tip_id}/file")
    assert again.json()["state"] == "finished"
    assert ncmec.calls.count("/submit") == submits  # never a second report
    sealed = service.client.app.state.takedown.evidence.vault.retention("post-1")  # type: ignore[attr-defined]
    assert datetime.fromisoformat(sealed.expires_at) > datetime.now(UTC) + timedelta(days=360)
    clocks = service.as_(legal, "GET", f"/v1/cases/{case_id}").json()["clocks"]
    assert next(c for c in clocks if c["kind"] == "cybertip")["met_at"] is not None


def test_errors_resume_and_restart(legal_service: Service, ncmec: FakeNcmec) -> None:
    service = legal_service
    _confirmed_case(service)
    legal = service.staff("legal")
    tip_id = service.as_(legal, "GET", "/v1/cybertipline").json()[0]["id"]
    good_password = ncmec.password
    ncmec.password = "rotated-by-ncmec"
    failed = service.as_(legal, "POST", f"/v1/cybertipline/{tip_id}/approve")
    assert failed.status_code == 502
    assert failed.json()["ncmec_code"] == 2000
    assert service.as_(legal, "GET", "/v1/cybertipline").json()[0]["state"] == "failed"
    assert not ncmec.reports
    ncmec.password = good_password
    # simulate an interrupted filing: submitted, then NCMEC dropped the unfinished report
    from takedown.store.models import CyberTipReport

    with service.db.write() as session:
        tip = session.get(CyberTipReport, tip_id)
        assert tip is not None
        tip.state, tip.ncmec_report_id = "submitted", "999"
    resumed = service.as_(legal, "POST", f"/v1/cybertipline/{tip_id}/file")
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["state"] == "finished"
    assert resumed.json()["ncmec_report_id"] != "999"
    actions = [e["action"] for e in service.get("/v1/audit", params={"limit": 1000}).json()]
    assert "cybertip.restart" in actions and "cybertip.finish" in actions


def test_console_queue_approves_and_files(legal_service: Service, ncmec: FakeNcmec) -> None:
    import re

    from takedown.auth.accounts import create_user
    from takedown.auth.scopes import Role

    service = legal_service
    case_id = _confirmed_case(service)
    with service.db.write() as session:
        create_user(session, "counsel@example.org", Role.LEGAL, "a long enough password", "t")
    page = service.client.get("/console/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    service.client.post(
        "/console/login",
        data={
            "csrf_token": token.group(1),
            "email": "counsel@example.org",
            "password": "a long enough password",
        },
    )
    queue = service.client.get("/console/cybertipline")
    assert f"#{case_id}" in queue.text and "Approve and file" in queue.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', queue.text)
    tip = re.search(r"/console/cybertipline/(\d+)/approve", queue.text)
    assert csrf is not None and tip is not None
    service.client.post(
        f"/console/cybertipline/{tip.group(1)}/approve", data={"csrf_token": csrf.group(1)}
    )
    after = service.client.get("/console/cybertipline")
    assert "finished" in after.text
    assert len(ncmec.reports) == 1 and next(iter(ncmec.reports.values())).finished


def test_client_status_retract_and_error_codes(ncmec: FakeNcmec) -> None:
    from takedown.legal.ncmec import NcmecClient, NcmecConfig, NcmecError

    client = NcmecClient(NcmecConfig(ncmec.url, ncmec.username, ncmec.password, backoff_s=0.01))
    assert client.status().code == 0
    report = TipReport(CSAM_INCIDENT, NOW, ("https://p.example/v/1",), CONTACT)
    report_id = client.submit(report_xml(report, NOW))
    client.retract(report_id)
    with pytest.raises(NcmecError) as gone:
        client.finish(report_id)
    assert gone.value.code == 5001 and "no such report" in str(gone.value)
    future = report_xml(report, NOW).replace(b"2026-11-25T12:00:00Z", b"2099-01-01T00:00:00Z")
    with pytest.raises(NcmecError) as invalid:
        client.submit(future)
    assert invalid.value.code == 4100
    wrong = NcmecClient(NcmecConfig(ncmec.url, ncmec.username, "nope", backoff_s=0.01))
    with pytest.raises(NcmecError) as auth:
        wrong.status()
    assert auth.value.code == 2000
    client.close()
    wrong.close()


def test_an_upload_blocked_as_known_material_is_reported(
    legal_service: Service, ncmec: FakeNcmec
) -> None:
    """A block by a child-abuse bank at upload: nothing was published, but someone tried to post
    known material, so a case is opened as actioned with a draft that legal approves and files,
    naming the uploader, with the bytes kept as evidence."""
    from tests.service_support import wait_for

    service = legal_service
    image = encode(synthetic_rgb(12, (320, 240)), "PNG")
    md5 = hashlib.md5(image).hexdigest()
    service.post("/v1/banks", json={"name": "ncmec-csam"})  # a child-abuse bank by policy
    service.post(
        "/v1/banks/ncmec-csam/entries", json={"entries": [{"signal_type": "md5", "value": md5}]}
    )
    lookup = {"signals": [{"type": "md5", "value": md5}]}
    wait_for(
        lambda: service.post("/v1/lookup", json=lookup).json()["verdict"] == "block", 2, "bank"
    )
    blocked = service.post(
        "/v1/content",
        data={
            "content_id": "try-1",
            "uploader_id": "uploader-7",
            "url": "https://photos.example/p/try-1",  # where it would have been: NCMEC needs one
            "ip_events": json.dumps(
                [
                    {
                        "ip_address": "203.0.113.9",
                        "event_name": "Upload",
                        "at": "2026-11-25T09:00:00Z",
                    }
                ]
            ),
        },
        files={"file": ("x.png", image, "image/png")},
    ).json()
    assert blocked["verdict"] == "block" and blocked["case_id"] is not None
    legal = service.staff("legal")
    case = service.as_(legal, "GET", f"/v1/cases/{blocked['case_id']}").json()
    assert (case["state"], case["priority"], case["category"]) == (
        "actioned",
        "P0",
        "child_sexual_abuse",
    )
    assert [c["content_id"] for c in case["content"]] == ["try-1"]
    assert "content.blocked_known" in [e["action"] for e in case["history"]]
    (tip,) = service.as_(legal, "GET", "/v1/cybertipline").json()
    assert tip["case_id"] == blocked["case_id"]
    filed = service.as_(legal, "POST", f"/v1/cybertipline/{tip['id']}/approve").json()
    assert filed["state"] == "finished" and filed["files"] == 1
    accepted = ncmec.reports[filed["ncmec_report_id"]]
    assert accepted.finished and b"uploader-7" in accepted.report
    assert b"<ipCaptureEvent><ipAddress>203.0.113.9</ipAddress><eventName>Upload</eventName>" in (
        accepted.report
    )
    metadata = service.as_(legal, "GET", "/v1/evidence/try-1/record").json()
    assert metadata["metadata"]["ip_events"][0]["ip_address"] == "203.0.113.9"
    # an ordinary block bank does not report: only the policy's child-abuse banks do
    service.post("/v1/banks", json={"name": "spam"})
    other = hashlib.md5(b"spam").hexdigest()
    service.post(
        "/v1/banks/spam/entries", json={"entries": [{"signal_type": "md5", "value": other}]}
    )
    wait_for(
        lambda: (
            service.post("/v1/lookup", json={"signals": [{"type": "md5", "value": other}]}).json()[
                "verdict"
            ]
            == "block"
        ),
        2,
        "spam bank",
    )
    spam = service.post(
        "/v1/content", json={"content_id": "spam-1", "signals": [{"type": "md5", "value": other}]}
    ).json()
    assert spam["verdict"] == "block" and spam["case_id"] is None
