"""The reviewer's workbench through real HTTP (the ASGI app, signed-in console sessions) on
SQLite and PostgreSQL: a link to another site starts no restrict clock and breaches nothing;
blocked re-uploads group into one CyberTipline draft; a report stays approvable without NCMEC
credentials and is filed once they are set; claims; the case page's wording, copies, uploader
context (by role), history; decisions; wellness settings; the published transparency report;
the admin page's least-privilege default and delivery log; keyframes by role, audited."""

from __future__ import annotations

import hashlib
import io
import json
import re
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from takedown.auth.accounts import create_user
from takedown.auth.scopes import Role
from takedown.cases.vocabulary import Category
from takedown.config import Settings
from takedown.service import cases as case_service
from takedown.store.models import AuditEvent, CaseClock, CyberTipReport, User
from tests.conftest import encode, synthetic_rgb
from tests.ncmec_server import FakeNcmec
from tests.service_support import Service, make_settings, running_service, wait_for

PASSWORD = "a long enough password"


def _person(service: Service, role: str, email: str | None = None) -> str:
    address = email or f"{role}@example.org"
    with service.db.write() as session:
        create_user(session, address, Role(role), PASSWORD, "test")
    return address


def _csrf(text: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', text)
    assert found is not None
    return found.group(1)


def _report(service: Service, **fields: object) -> dict[str, object]:
    body = {
        "category": "child_sexual_abuse",
        "minor_depicted": "yes",
        "relationship": "parent_or_guardian",
        **fields,
    }
    answer = service.client.post("/v1/reports", json=body)
    assert answer.status_code == 201, answer.text
    result: dict[str, object] = answer.json()
    return result


def _general(service: Service, item: dict[str, str]) -> object:
    """A P2 report (any reviewer opens it) on one item; its case id."""
    reported = _report(
        service, content=[item], category="other", minor_depicted="no", relationship="other_user"
    )
    return reported["case_id"]


def _content(service: Service, content_id: str, md5: str, **extra: object) -> dict[str, object]:
    answer = service.post(
        "/v1/content",
        json={"content_id": content_id, "signals": [{"type": "md5", "value": md5}], **extra},
    )
    assert answer.status_code == 201, answer.text
    result: dict[str, object] = answer.json()
    return result


def test_a_link_elsewhere_has_no_restrict_clock_and_breaches_nothing(service: Service) -> None:
    t0 = datetime.now(UTC)
    service.set_now(t0)
    link = "https://elsewhere.example/gallery/123"
    case_id = _report(service, content=[{"url": link}])["case_id"]
    with service.db.read() as session:
        kinds = {c.kind for c in session.execute(select(CaseClock)).scalars()}
    assert "restrict" not in kinds and "first_review" in kinds
    with service.db.write() as session:  # long after any restrict deadline
        case_service.tick(
            session, service.client.app.state.takedown.policy, t0 + timedelta(hours=3)
        )  # type: ignore[attr-defined]
    with service.db.read() as session:
        breached = [c.kind for c in session.execute(select(CaseClock)).scalars() if c.breached_at]
    assert breached == ["first_review"]  # the review deadline did pass; nothing else

    service.sign_in(_person(service, "child_safety_specialist"), PASSWORD)
    page = service.client.get(f"/console/cases/{case_id}").text
    assert 'id="elsewhere"' in page and link in page and "Copy link" in page
    assert "nothing on this platform to restrict" in page
    dashboard = service.client.get("/console/dashboard").text
    restrict = dashboard[dashboard.index('id="clock-restrict"') :]
    assert "0 breached" in restrict[: restrict.index("</section>")]


@pytest.fixture
def ncmec() -> Iterator[FakeNcmec]:
    with FakeNcmec().running() as fake:
        yield fake


def _block_bank(service: Service, md5: str) -> None:
    service.post("/v1/banks", json={"name": "ncmec-csam"})
    service.post(
        "/v1/banks/ncmec-csam/entries", json={"entries": [{"signal_type": "md5", "value": md5}]}
    )
    lookup = {"signals": [{"type": "md5", "value": md5}]}
    wait_for(
        lambda: service.post("/v1/lookup", json=lookup).json()["verdict"] == "block", 3, "bank"
    )


def test_blocked_reuploads_join_one_draft_and_filing_waits_for_credentials(
    service: Service, ncmec: FakeNcmec, tmp_path: Path
) -> None:
    t0 = datetime.now(UTC)
    service.set_now(t0)
    image = encode(synthetic_rgb(21, (320, 240)), "PNG")
    md5 = hashlib.md5(image).hexdigest()
    _block_bank(service, md5)
    cases = []
    for n in range(3):  # the same clip, the same person, three tries in an hour
        service.set_now(t0 + timedelta(minutes=20 * n))
        answer = _content(
            service, f"try-{n}", md5, uploader_id="uploader-7", url=f"https://p.example/try-{n}"
        )
        assert answer["verdict"] == "block"
        cases.append(answer["case_id"])
    other = _content(service, "other-1", md5, uploader_id="uploader-8")["case_id"]
    service.set_now(t0 + timedelta(hours=26))  # outside the 24 h window
    late = _content(service, "try-late", md5, uploader_id="uploader-7")["case_id"]
    assert len(set(cases)) == 1 and other != cases[0] and late not in (cases[0], other)
    with service.db.read() as session:
        tips = list(session.execute(select(CyberTipReport).order_by(CyberTipReport.id)).scalars())
    assert [t.case_id for t in tips] == [int(str(c)) for c in (cases[0], other, late)]

    legal = _person(service, "legal")
    service.sign_in(legal, PASSWORD)
    queue = service.client.get("/console/cybertipline").text
    assert "NCMEC credentials are missing" in queue and "TAKEDOWN_NCMEC_USERNAME" in queue
    assert all(f"try-{n}" in queue for n in range(3))
    case_page = service.client.get(f"/console/cases/{cases[0]}").text
    assert "blocked when it was posted" in case_page and "3 attempts" in case_page
    assert "held at upload" not in case_page and 'data-label="reported"' not in case_page
    assert 'data-label="blocked at upload"' in case_page
    assert 'id="decision-form"' not in case_page  # opened as actioned: nothing to decide

    first = tips[0].id
    refused = service.client.post(
        f"/console/cybertipline/{first}/approve",
        data={"csrf_token": _csrf(queue)},
        follow_redirects=True,
    )
    assert "not approved: NCMEC credentials are missing" in refused.text
    with service.db.read() as session:
        tip = session.get(CyberTipReport, first)
        assert tip is not None and tip.state == "draft"
    assert f"/console/cybertipline/{first}/approve" in refused.text  # still approvable

    # the operator sets the credentials: the same draft is approved and filed
    state = service.client.app.state.takedown  # type: ignore[attr-defined]
    state.settings = Settings(
        **{
            **state.settings.model_dump(),
            "ncmec_url": ncmec.url,
            "ncmec_username": ncmec.username,
            "ncmec_password": ncmec.password,
            "reporter_email": "legal@example.org",
        }
    )
    service.client.app.state.takedown.evidence.put("try-0", image, {})  # type: ignore[attr-defined]
    filed = service.client.post(
        f"/console/cybertipline/{first}/approve",
        data={"csrf_token": _csrf(queue)},
        follow_redirects=True,
    )
    assert "filed with NCMEC" in filed.text and "NCMEC credentials are missing" not in filed.text
    (accepted,) = ncmec.reports.values()
    assert accepted.finished
    assert all(f"https://p.example/try-{n}".encode() in accepted.report for n in range(3))


def test_claims_hold_a_case_and_lapse(service: Service) -> None:
    t0 = datetime.now(UTC)
    service.set_now(t0)
    _content(service, "post-c", "c" * 32, uploader_id="u-c")
    case_id = _general(service, {"content_id": "post-c"})
    _person(service, "reviewer", "ana@example.org")
    _person(service, "reviewer", "ben@example.org")
    csrf = service.sign_in("ana@example.org", PASSWORD)
    service.client.post(
        f"/console/cases/{case_id}/claim", data={"csrf_token": csrf, "action": "claim"}
    )
    mine = service.client.get(f"/console/cases/{case_id}").text
    assert "You hold this case until" in mine

    csrf = service.sign_in("ben@example.org", PASSWORD)
    queue = service.client.get("/console?queue=general").text
    row = queue[queue.index(f'id="row-{case_id}"') :]
    assert "ana@example.org" in row[: row.index("</tr>")]
    unclaimed = service.client.get("/console?queue=general&only=unclaimed").text
    assert f'id="row-{case_id}"' not in unclaimed
    page = service.client.get(f"/console/cases/{case_id}").text
    assert 'data-holder="ana@example.org"' in page
    refused = service.client.post(
        f"/console/cases/{case_id}/decide",
        data={"csrf_token": csrf, "outcome": "no_violation", "note": "fine"},
        follow_redirects=True,
    )
    assert "Another reviewer holds this case" in refused.text
    assert "Decision recorded" not in refused.text

    service.set_now(t0 + timedelta(minutes=31))  # the claim lapsed (claim_minutes = 30)
    decided = service.client.post(
        f"/console/cases/{case_id}/decide",
        data={"csrf_token": csrf, "outcome": "no_violation", "note": "fine"},
        follow_redirects=True,
    )
    assert 'id="decided"' in decided.text and "Decision recorded" in decided.text
    assert 'id="decision-form"' not in decided.text and 'id="case-closed"' in decided.text
    with service.db.read() as session:
        actions = [e.action for e in session.execute(select(AuditEvent)).scalars()]
    assert "case.claim" in actions


def test_case_page_history_copies_and_uploader_context_by_role(service: Service) -> None:
    _content(service, "post-1", "1" * 32, uploader_id="uploader-9", url="https://p.example/1")
    _content(service, "copy-1", "1" * 32, uploader_id="uploader-5", url="https://p.example/c")
    _content(service, "post-2", "2" * 32, uploader_id="uploader-9")
    earlier = _general(service, {"content_id": "post-2"})
    case_id = _general(service, {"url": "https://p.example/1"})
    reviewer = _person(service, "reviewer", "rev@example.org")
    service.sign_in(reviewer, PASSWORD)
    for _n in range(3):
        page = service.client.get(f"/console/cases/{case_id}").text
    assert "https://p.example/1" in page  # the reported link
    assert 'id="uploader-context"' not in page and "uploader-9" not in page
    wait_for(
        lambda: 'id="copies"' in service.client.get(f"/console/cases/{case_id}").text,
        5,
        "the copy in the content index",
    )
    page = service.client.get(f"/console/cases/{case_id}").text
    copies = page[page.index('id="copies"') :]
    assert "copy-1" in copies and "md5" in copies and "not yet" in copies
    history = page[page.index('id="history"') :]
    assert "case.view" not in history and "user:" not in history
    with service.db.read() as session:  # every view is still in the audit log
        views = session.execute(
            select(AuditEvent).where(
                AuditEvent.action == "case.view", AuditEvent.subject == f"case:{case_id}"
            )
        ).all()
    assert len(views) >= 4
    assert f"Opened {len(views)} times by rev@example.org ({len(views)})" in page

    specialist = _person(service, "child_safety_specialist", "cs@example.org")
    service.sign_in(specialist, PASSWORD)
    page = service.client.get(f"/console/cases/{case_id}").text
    context = page[page.index('id="uploader-context"') :]
    assert "uploader-9" in context and "post-2" in context and f"#{earlier}" in context


def test_wellness_settings_persist(service: Service) -> None:
    email = _person(service, "reviewer")
    csrf = service.sign_in(email, PASSWORD)
    page = service.client.get("/console").text
    assert 'data-shortcuts="on"' in page and 'name="audio"' in page
    service.client.post(
        "/console/settings",
        data={
            "csrf_token": csrf,
            "blur": "30",
            "grayscale": "on",
            "blur-child_sexual_abuse": "64",
            "blur-other": "5",
            # the form's category boxes start as the general setting (checked), as a browser
            # posts them
            **{f"grayscale-{c.value}": "on" for c in Category},
            "break_minutes": "25",
            "back": "/console",
        },
    )
    with service.db.read() as session:
        user = session.execute(select(User).where(User.email == email)).scalar_one()
        wellness = dict(user.wellness)
    assert wellness["shortcuts"] is False and wellness["audio"] is False
    assert wellness["blur"] == 30 and wellness["break_minutes"] == 25.0
    assert wellness["categories"] == {"child_sexual_abuse": {"blur": 64}, "other": {"blur": 5}}
    page = service.client.get("/console").text
    assert 'data-shortcuts="off"' in page and 'data-break-minutes="25.0"' in page
    _content(service, "w-1", "9" * 32, kind="video")
    case_id = _general(service, {"content_id": "w-1"})
    page = service.client.get(f"/console/cases/{case_id}").text
    assert 'class="media blur-5 gray-1 hidden-item"' in page  # this category's own blur
    assert "<kbd>v</kbd>" not in page  # no shortcut hints with shortcuts off
    assert 'data-fingerprint="exact_only"' in page  # an md5 alone finds exact copies only


def test_transparency_report_is_publishable(service: Service) -> None:
    _content(service, "t-1", "7" * 32)
    _report(service, content=[{"content_id": "t-1"}])
    service.sign_in(_person(service, "legal"), PASSWORD)
    page = service.client.get("/console/transparency").text
    for words in (
        "DSA Art. 15",
        "Art. 24",
        "TAKE IT DOWN",
        "18 U.S.C. 2258A",
        "Parent or guardian",
    ):
        assert words in page
    assert not re.search(r"\d\.\d{4,}", page)  # rounded: no 0.6666666666666666
    assert "<svg" in page and "parent_or_guardian" not in page.split('id="section-notices"')[1]
    pdf = service.client.get("/console/transparency.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    text = _pdf_text(pdf.content)
    for words in ("DSA Art. 15", "TAKE IT DOWN", "Parent or guardian", "Notices received"):
        assert words in text
    csv = service.client.get("/console/transparency.csv")
    assert csv.text.startswith("section,name,value")


def _pdf_text(data: bytes) -> str:
    """The text drawn in a PDF's content streams (fpdf2 compresses them with zlib)."""
    out = []
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S):
        try:
            out.append(zlib.decompress(stream).decode("latin-1"))
        except zlib.error:
            out.append(stream.decode("latin-1"))
    return "".join(re.findall(r"\((.*?)\) ?Tj", "\n".join(out)))


def test_admin_defaults_to_reviewer_and_logs_deliveries(service: Service) -> None:
    service.sign_in(_person(service, "admin"), PASSWORD)
    page = service.client.get("/console/admin").text
    assert re.search(r'<option value="reviewer" selected>', page)
    assert not re.search(r'<option value="admin" selected>', page)
    service.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/none"})
    _content(service, "d-1", "d" * 32)
    _report(service, content=[{"content_id": "d-1"}])
    page = service.client.get("/console/admin").text
    log = page[page.index('id="delivery-log"') :]
    assert "Action sent" in log and "restrict" in log and "d-1" in log and "UTC" in log


def test_keyframes_by_role_and_audited(tmp_path: Path, db_url: str, shared_data: Path) -> None:
    video = (shared_data / "videos" / "bikes.mp4").read_bytes()
    settings = make_settings(tmp_path, db_url, media_url_template="http://127.0.0.1:9/{content_id}")
    with running_service(settings) as service:
        _content(service, "clip-1", "e" * 32, kind="video")
        service.client.app.state.takedown.evidence.put("clip-1", video, {})  # type: ignore[attr-defined]
        case_id = _report(service, content=[{"content_id": "clip-1"}])["case_id"]
        csrf = service.sign_in(_person(service, "child_safety_specialist"), PASSWORD)
        page = service.client.get(f"/console/cases/{case_id}").text
        assert page.count('class="frame ') >= 3 and "Reveal frame 1" in page
        frame = service.client.get("/console/media/clip-1/frames/0")
        assert frame.status_code == 200 and frame.headers["content-type"] == "image/jpeg"
        from PIL import Image

        assert Image.open(io.BytesIO(frame.content)).size[0] <= 320
        assert service.client.get("/console/media/clip-1/frames/99").status_code == 404
        revealed = service.client.post(
            f"/console/cases/{case_id}/reveal/clip-1",
            data={"csrf_token": csrf, "frame": "1"},
            follow_redirects=True,
        ).text
        shown = {
            n: c for c, n in re.findall(r'<li class="([^"]*)" id="frame-clip-1-(\d+)"', revealed)
        }
        assert "hidden-item" not in shown["1"] and "hidden-item" in shown["0"]
        assert "Hide again" in revealed and "<video" not in revealed  # stills only
        whole = service.client.post(
            f"/console/cases/{case_id}/reveal/clip-1",
            data={"csrf_token": csrf},
            follow_redirects=True,
        ).text
        video = re.search(r"<video [^>]*>", whole)
        assert video is not None and " muted" in video.group(0)  # sound off by default
        assert "autoplay" not in video.group(0)
        service.sign_in(_person(service, "admin"), PASSWORD)  # runs the service, sees no media
        assert service.client.get("/console/media/clip-1/frames/0").status_code == 403
        with service.db.read() as session:
            events = list(session.execute(select(AuditEvent)).scalars())
        views = [e for e in events if e.action == "media.view" and "frame" in json.loads(e.data)]
        reveals = [
            e for e in events if e.action == "media.reveal" and json.loads(e.data).get("frame") == 1
        ]
        refused = [e for e in events if e.action == "media.view_refused"]
        assert views and reveals and refused


def test_clocks_for_a_case_with_nothing_on_the_platform() -> None:
    """Pure: no restrict clock is planned without content, and an old one never breaches."""
    from takedown.cases.clocks import ClockKind, ClockState, due_events, plan_clocks
    from takedown.cases.policy import load_policy
    from takedown.cases.vocabulary import Priority

    policy = load_policy()
    now = datetime(2026, 1, 1, tzinfo=UTC)
    kinds = {p.kind for p in plan_clocks(policy, Priority.P0, False, now, on_platform=False)}
    assert ClockKind.RESTRICT not in kinds and ClockKind.FIRST_REVIEW in kinds
    assert ClockKind.RESTRICT in {p.kind for p in plan_clocks(policy, Priority.P0, False, now)}
    old = ClockState(ClockKind.RESTRICT, now, now + timedelta(seconds=60), None, (), None)
    later = now + timedelta(hours=1)
    assert due_events(policy, old, later, on_platform=False) == []
    assert [e.event for e in due_events(policy, old, later)] == ["breach"]


def test_chart_labels_are_words_above_their_bars() -> None:
    from takedown.web.charts import count_bars

    svg = count_bars({"Non-consensual intimate image": 3, "<b>": 1}, "Cases by category")
    texts = [float(y) for y in re.findall(r'<text x="0" y="([\d.]+)"', svg)]
    bars = [float(y) for y in re.findall(r'<rect x="0" y="([\d.]+)"', svg)]
    assert len(texts) == len(bars) == 2
    assert all(t < b for t, b in zip(texts, bars, strict=True))  # the label ends above the bar
    assert all(bars[i] + 16 < texts[i + 1] - 13 for i in range(len(bars) - 1))  # no overlap
    assert "&lt;b&gt;" in svg and "<b>" not in svg
