"""The public pages and the staff console in real Chromium (Playwright, Debian's chromium), on
a real uvicorn server: a parent reports without JavaScript and with it, reads the receipt and
the status page; reviewers sign in, see the item blurred, reveal it (audited), the two-person
rule, the confirmation, the dashboard; a reviewer cannot open a P0 case; CSRF and lock-out.
axe-core runs on every page (no serious or critical violation); screenshots of every page go
to test-artifacts/screenshots/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from takedown.api.app import create_app
from takedown.auth.accounts import create_user
from takedown.auth.scopes import Role
from takedown.store.db import Database
from takedown.store.models import AuditEvent
from tests.browser_support import (
    axe_violations,
    live_server,
    media_server,
    settings_for,
    shot,
)
from tests.service_support import database_url

PASSWORD = "correct horse battery staple"


class Site:
    def __init__(self, base: str, db: Database, home: Path) -> None:
        self.base = base
        self.db = db
        self.home = home

    def user(self, email: str, role: str) -> str:
        with self.db.write() as session:
            create_user(session, email, Role(role), PASSWORD, actor="test")
        return email

    def audit(self, action: str) -> list[AuditEvent]:
        with self.db.read() as session:
            return list(
                session.execute(select(AuditEvent).where(AuditEvent.action == action)).scalars()
            )


@pytest.fixture
def site(tmp_path: Path, shared_data: Path) -> Iterator[Site]:
    photo = sorted((shared_data / "photos").glob("*.jpg"))[0].read_bytes()
    with (
        database_url("sqlite", tmp_path) as url,
        media_server({"post-1": photo}) as media_url,
    ):
        db = Database(url)
        settings = settings_for(
            tmp_path, url, media_url_template=media_url, media_secret="media-secret"
        )
        app = create_app(settings, db=db)
        with live_server(app) as base:
            _register_post(base, db)
            yield Site(base, db, tmp_path)
        db.dispose()


def _register_post(base: str, db: Database) -> None:
    """The platform registers a post (signals only) so that reports can reach it."""
    import httpx

    from takedown.auth.accounts import create_key
    from takedown.auth.scopes import Scope

    with db.write() as session:
        key = create_key(session, "platform", frozenset({Scope.CONTENT_WRITE}), actor="t")[1]
    answer = httpx.post(
        f"{base}/v1/content",
        headers={"Authorization": f"Bearer {key}"},
        json={
            "content_id": "post-1",
            "uploader_id": "uploader-1",
            "url": "https://photos.example/p/post-1",
            "kind": "image",
            "signals": [{"type": "md5", "value": "0" * 31 + "1"}],
        },
    )
    assert answer.status_code == 201, answer.text


def _check_axe(page: Any, where: str) -> None:
    violations = axe_violations(page)
    assert violations == [], f"{where}: {violations}"


def _fill_parent_report(page: Any) -> None:
    page.get_by_label("Link to the content (one per line)").fill("https://photos.example/p/post-1")
    page.get_by_label("Sexual content involving someone under 18").check()
    page.get_by_label("Yes").check()
    page.get_by_label("I am a parent or guardian of the person shown").check()
    page.get_by_label("Anything else we should know (optional)").fill("This is my son.")


@pytest.mark.parametrize("javascript", [False, True], ids=["no-js", "js"])
def test_parent_reports_and_follows(browser: Any, site: Site, javascript: bool) -> None:
    name = "js" if javascript else "nojs"
    context = browser.new_context(java_script_enabled=javascript)
    page = context.new_page()
    page.goto(site.base + "/")
    shot(page, f"{name}-01-home")
    page.get_by_role("link", name="Report content").first.click()
    assert page.url.endswith("/report")
    page.get_by_role("button", name="Send report").click()  # nothing filled in
    assert page.locator(".error-summary").is_visible()
    assert page.locator("#content-error").is_visible()
    shot(page, f"{name}-02-report-errors")
    _fill_parent_report(page)
    page.get_by_role("button", name="Send report").click()
    assert page.get_by_role("heading", name="We received your report").is_visible()
    assert "hidden while a person reviews" in page.locator(".lead").inner_text()
    assert page.get_by_text("Keep this link safe.").is_visible()
    shot(page, f"{name}-03-receipt")
    status_url = page.locator("#status-link").get_attribute("href")
    assert status_url
    page.goto(status_url)
    assert page.locator("#status").get_attribute("data-status") == "restricted_pending_review"
    shot(page, f"{name}-04-status")
    context.close()

    # accessibility, checked with JavaScript on (axe runs in the page)
    checker = browser.new_context()
    page = checker.new_page()
    for path in ("/", "/report", status_url.replace(site.base, ""), "/console/login"):
        page.goto(site.base + path)
        _check_axe(page, path)
    page.goto(site.base + "/report")
    page.get_by_role("button", name="Send report").click()
    _check_axe(page, "/report with errors")
    mobile = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True)
    small = mobile.new_page()
    small.goto(site.base + "/report")
    assert small.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    shot(small, f"{name}-05-report-mobile")
    mobile.close()
    checker.close()


def _login(browser: Any, site: Site, email: str) -> Any:
    context = browser.new_context()
    page = context.new_page()
    page.goto(site.base + "/console/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    assert page.url.rstrip("/").endswith("/console"), page.url
    return page


def _report_p0(site: Site) -> str:
    import httpx

    answer = httpx.post(
        f"{site.base}/v1/reports",
        json={
            "content": [{"content_id": "post-1"}],
            "category": "child_sexual_abuse",
            "minor_depicted": "yes",
            "relationship": "parent_or_guardian",
        },
    )
    assert answer.status_code == 201
    return str(answer.json()["case_id"])


def test_console_two_person_rule_and_dashboard(browser: Any, site: Site) -> None:
    case_id = _report_p0(site)
    from takedown.legal.evidence import EvidenceStore
    from tests.service_support import wait_for

    evidence = EvidenceStore(site.home)
    wait_for(lambda: evidence.has("post-1"), 5, "the reported item's bytes captured")
    first = site.user("first@example.org", "child_safety_specialist")
    second = site.user("second@example.org", "child_safety_specialist")
    reviewer = site.user("reviewer@example.org", "reviewer")

    page = _login(browser, site, first)
    assert page.locator("#queue").is_visible()
    shot(page, "console-01-queue")
    _check_axe(page, "queue")
    page.get_by_role("link", name=f"#{case_id}").click()
    item = page.locator("#item-post-1")
    assert "hidden-item" in (item.get_attribute("class") or "")
    blurred = item.locator("img").evaluate("img => getComputedStyle(img).filter")
    assert "blur(24px)" in blurred and "grayscale(1)" in blurred
    shot(page, "console-02-case-blurred")
    _check_axe(page, "case")
    item.get_by_role("button", name="Reveal this item").click()
    image = page.locator("#item-post-1 img")
    image.wait_for()
    page.wait_for_function("() => document.querySelector('#item-post-1 img').naturalWidth > 0")
    assert [e.subject for e in site.audit("media.reveal")] == [f"case:{case_id}"]
    assert site.audit("media.view")
    shot(page, "console-03-case-revealed")
    page.get_by_label("No violation").check()
    page.get_by_label("Facts and reasons (shown to the reporter and the uploader)").fill("unclear")
    page.get_by_role("button", name="Record decision").click()
    assert page.locator("#case-state").inner_text() == "second review"
    shot(page, "console-04-second-review")
    page.context.close()

    page = _login(browser, site, second)
    page.goto(f"{site.base}/console/cases/{case_id}")
    assert "unclear" in page.locator("#recommendation").inner_text()
    page.keyboard.press("v")  # shortcut: violation
    assert page.get_by_label("Violation: remove it and every copy").is_checked()
    page.get_by_role("button", name="Record decision").click()
    assert page.locator("#case-state").inner_text() == "actioned"
    shot(page, "console-05-confirmed")
    page.goto(f"{site.base}/console/dashboard")
    restrict = page.locator("#clock-restrict")
    assert "median" in restrict.inner_text()
    assert restrict.locator("svg").count() == 1
    assert "0 breached" in page.locator("#clock-first_review").inner_text()
    shot(page, "console-06-dashboard")
    _check_axe(page, "dashboard")
    page.context.close()

    page = _login(browser, site, reviewer)
    response = page.goto(f"{site.base}/console/cases/{case_id}")
    assert response is not None and response.status == 403
    assert "only child-safety staff" in page.locator("#error-message").inner_text()
    shot(page, "console-07-p0-forbidden")
    page.context.close()


def test_csrf_and_lockout(browser: Any, site: Site) -> None:
    case_id = _report_p0(site)
    email = site.user("lock@example.org", "child_safety_specialist")
    page = _login(browser, site, email)
    forged = page.request.post(
        f"{site.base}/console/cases/{case_id}/decide",
        form={"outcome": "no_violation", "csrf_token": "forged"},
        max_redirects=0,
    )
    assert forged.status == 403
    assert not site.audit("case.decide")
    page.context.close()

    context = browser.new_context()
    page = context.new_page()
    for _attempt in range(5):
        page.goto(site.base + "/console/login")
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill("wrong password!")
        page.get_by_role("button", name="Sign in").click()
        assert page.locator("#login-error").is_visible()
    page.goto(site.base + "/console/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    assert page.url.endswith("/console/login")  # locked out, even with the right password
    shot(page, "console-08-locked")
    assert site.audit("login.locked") and site.audit("login.refused_locked")
    cookies = {c["name"]: c for c in browser.new_context().cookies()}
    assert "td_session" not in cookies
    context.close()


def test_admin_pages(browser: Any, site: Site, tmp_path: Path) -> None:
    admin = site.user("admin@example.org", "admin")
    page = _login(browser, site, admin)
    page.get_by_role("link", name="Admin").click()
    _check_axe(page, "admin")
    page.get_by_label("New staff email").fill("new.reviewer@example.org")
    page.get_by_label("Role", exact=True).select_option("reviewer")
    page.get_by_role("button", name="Create account").click()
    assert len(page.locator("#shown-secret").inner_text()) >= 12  # the password, once
    page.get_by_label("Role of new.reviewer@example.org").select_option("senior_reviewer")
    page.get_by_role("button", name="Change role").first.click()
    expect(page.get_by_label("Role of new.reviewer@example.org")).to_have_value("senior_reviewer")
    assert site.audit("user.role")[-1].subject.startswith("user:")
    page.get_by_label("Key name").fill("partner platform")
    page.get_by_role("button", name="Create key").click()
    assert page.locator("#shown-secret").inner_text().startswith("td_")
    page.get_by_label("Receiver URL").fill("http://127.0.0.1:9/unreachable")
    page.get_by_role("button", name="Add webhook").click()
    assert page.locator("#shown-secret").inner_text().startswith("whsec_")
    page.get_by_label("New bank name").fill("imported")
    page.get_by_role("button", name="Create bank").click()
    bad = tmp_path / "hashes.csv"
    bad.write_text(f"signal_type,value\npdq,{'ab' * 32}\npdq,nope\n")
    form = page.locator("form.upload").last
    form.locator("input[type=file]").set_input_files(str(bad))
    form.get_by_role("button", name="Upload").click()
    expect(page.locator("#admin-message")).to_contain_text("nothing imported")
    assert "line 3" in page.locator("#problems").inner_text()
    shot(page, "admin-01-import-refused")
    form = page.locator("form.upload").last
    form.locator("input[type=file]").set_input_files(str(bad))
    form.get_by_label("Import the good lines despite bad ones").check()
    form.get_by_role("button", name="Upload").click()
    expect(page.locator("#admin-message")).to_contain_text("Imported 1")
    page.get_by_role("link", name="imported").click()
    page.get_by_role("button", name="Disable (false positive)").click()
    assert "disabled" in page.locator("#entries").inner_text()
    shot(page, "admin-02-bank-entry-disabled")

    _report_p0(site)  # writes a restrict action: a delivery to the unreachable receiver
    page.goto(site.base + "/console/admin#deliveries")
    page.wait_for_timeout(500)
    page.reload()
    retry = page.get_by_role("button", name="Retry now").first
    retry.click()
    assert site.audit("delivery.retry")
    shot(page, "admin-03-deliveries")
    page.context.close()


def test_a_held_upload_waits_in_the_queue_without_a_report(browser: Any, site: Site) -> None:
    """A near match in a hold bank: restricted at upload, and a case in the reviewers' queue
    with no report behind it; the case page says so."""
    import httpx

    from takedown.auth.accounts import create_key
    from takedown.auth.scopes import Scope
    from tests.service_support import wait_for

    with site.db.write() as session:
        scopes = frozenset({Scope.BANKS_WRITE, Scope.CONTENT_WRITE, Scope.LOOKUP})
        key = create_key(session, "platform", scopes, actor="t")[1]
    headers = {"Authorization": f"Bearer {key}"}
    md5 = "0" * 31 + "5"
    httpx.post(f"{site.base}/v1/banks", headers=headers, json={"name": "near", "action": "hold"})
    httpx.post(
        f"{site.base}/v1/banks/near/entries",
        headers=headers,
        json={"entries": [{"signal_type": "md5", "value": md5, "label": "other"}]},
    )
    signals = {"signals": [{"type": "md5", "value": md5}]}

    def held() -> bool:
        answer = httpx.post(f"{site.base}/v1/lookup", headers=headers, json=signals)
        return bool(answer.json()["verdict"] == "hold")

    wait_for(held, 3, "the hold bank in the index")
    upload = {"content_id": "held-9", "uploader_id": "u-9", "kind": "image", **signals}
    answer = httpx.post(f"{site.base}/v1/content", headers=headers, json=upload)
    assert answer.json()["verdict"] == "hold"
    page = _login(browser, site, site.user("general@example.org", "reviewer"))
    page.get_by_role("link", name="General").click()
    page.locator("#queue").get_by_role("link").first.click()
    assert page.get_by_text("No report: the item was held at upload").is_visible()
    assert page.locator("#item-held-9").is_visible()
    shot(page, "console-held-upload")
    _check_axe(page, "held case")
