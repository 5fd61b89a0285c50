"""The staff console in real Chromium (Debian's, through Playwright) on a real uvicorn server,
at 1280x900 and at 390x844: queue counts, ages, blurred thumbnails and claims; a case with a
video's keyframe strip (blurred, grayscale, one frame revealed, hidden again); a decision's
confirmation and the next case; a closed case without a decision form; a link to another
site with something to act on; single-key shortcuts turned off; the break reminder; the
dashboard's readable charts; the transparency report and its PDF; the CyberTipline page
without NCMEC credentials; the admin page. axe finds no serious or critical violation and no
page is wider than the screen; screenshots go to test-artifacts/screenshots/console-*."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from takedown.api.app import create_app
from takedown.auth.accounts import create_key, create_user
from takedown.auth.scopes import Role, Scope
from takedown.store.db import Database
from tests.browser_support import axe_violations, live_server, media_server, settings_for, shot
from tests.service_support import database_url

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
PASSWORD = "correct horse battery staple"
ELSEWHERE = "https://elsewhere.example/gallery/7"


@dataclass
class Site:
    base: str
    db: Database
    key: str

    def user(self, email: str, role: str) -> str:
        with self.db.write() as session:
            create_user(session, email, Role(role), PASSWORD, actor="test")
        return email

    def register(self, content_id: str, kind: str, md5: str) -> None:
        answer = httpx.post(
            f"{self.base}/v1/content",
            headers={"Authorization": f"Bearer {self.key}"},
            json={
                "content_id": content_id,
                "uploader_id": "uploader-1",
                "url": f"https://photos.example/p/{content_id}",
                "kind": kind,
                "signals": [{"type": "md5", "value": md5}],
            },
        )
        assert answer.status_code == 201, answer.text

    def report(self, content: list[dict[str, str]], **fields: str) -> int:
        body = {
            "content": content,
            "category": "child_sexual_abuse",
            "minor_depicted": "yes",
            "relationship": "parent_or_guardian",
            **fields,
        }
        answer = httpx.post(f"{self.base}/v1/reports", json=body)
        assert answer.status_code == 201, answer.text
        return int(answer.json()["case_id"])


@pytest.fixture
def site(tmp_path: Path, shared_data: Path) -> Iterator[Site]:
    photo = sorted((shared_data / "photos").glob("*.jpg"))[0].read_bytes()
    video = (shared_data / "videos" / "bikes.mp4").read_bytes()
    media = {"post-1": photo, "clip-1": video, "post-2": photo}
    with database_url("sqlite", tmp_path) as url, media_server(media) as media_url:
        db = Database(url)
        settings = settings_for(
            tmp_path, url, media_url_template=media_url, media_secret="media-secret"
        )
        with live_server(create_app(settings, db=db)) as base:
            with db.write() as session:
                key = create_key(session, "platform", frozenset({Scope.CONTENT_WRITE}), "t")[1]
            yield Site(base, db, key)
        db.dispose()


def _check(page: Any, where: str) -> None:
    assert axe_violations(page) == [], where
    fits = "document.documentElement.scrollWidth <= window.innerWidth + 1"
    assert page.evaluate(fits), f"{where}: wider than the screen"


def _login(browser: Any, site: Site, email: str, viewport: dict[str, int]) -> Any:
    mobile = viewport is PHONE
    context = browser.new_context(viewport=viewport, is_mobile=mobile, has_touch=mobile)
    page = context.new_page()
    page.goto(site.base + "/console/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    assert page.url.rstrip("/").endswith("/console"), page.url
    return page


def _filter_of(locator: Any) -> str:
    return str(locator.evaluate("el => getComputedStyle(el).filter"))


@pytest.mark.parametrize("size", ["1280", "390"])
def test_reviewer_workbench(browser: Any, site: Site, size: str) -> None:
    viewport = DESKTOP if size == "1280" else PHONE
    site.register("post-1", "image", "1" * 32)
    site.register("clip-1", "video", "2" * 32)
    main = site.report([{"content_id": "post-1"}])
    clip = site.report([{"content_id": "clip-1"}])
    elsewhere = site.report([{"url": ELSEWHERE}])
    first = site.user("first@example.org", "child_safety_specialist")
    second = site.user("second@example.org", "child_safety_specialist")

    page = _login(browser, site, first, viewport)
    expect(page.locator("#tab-child_safety .count")).to_have_text("3")
    thumb = page.locator(f"#row-{main} .thumb img")
    expect(thumb).to_be_visible()
    page.wait_for_function(
        f"() => document.querySelector('#row-{main} .thumb img').naturalWidth > 0"
    )
    assert "blur(24px)" in _filter_of(thumb) and "grayscale(1)" in _filter_of(thumb)
    assert page.locator(f"#row-{main} [data-age]").inner_text().strip()
    shot(page, f"console-{size}-01-queue")
    _check(page, "queue")

    page.locator(f"#row-{clip}").get_by_role("link", name=f"#{clip}").click()
    page.get_by_role("button", name="Claim this case").click()
    expect(page.locator("#claim")).to_contain_text("You hold this case")
    frames = page.locator("#item-clip-1 .frame")
    expect(frames.first).to_be_visible()
    count = frames.count()
    assert count >= 3
    page.wait_for_function(
        "() => [...document.querySelectorAll('#item-clip-1 .frame img')]"
        ".every(img => img.complete && img.naturalWidth > 0)"
    )
    assert "blur(24px)" in _filter_of(frames.nth(1).locator("img"))
    shot(page, f"console-{size}-02-case-blurred")
    _check(page, "case")
    page.get_by_role("button", name="Reveal frame 2").click()
    frame = page.locator("#frame-clip-1-1 img")
    expect(frame).to_be_visible()
    page.wait_for_function("() => document.querySelector('#frame-clip-1-1 img').naturalWidth > 0")
    assert _filter_of(frame) == "none"
    assert "blur" in _filter_of(page.locator("#frame-clip-1-0 img"))
    shot(page, f"console-{size}-03-frame-revealed")
    page.locator("#frame-clip-1-1").get_by_role("link", name="Hide again").click()
    expect(page.get_by_role("button", name="Reveal frame 2")).to_be_visible()
    assert "blur" in _filter_of(page.locator("#frame-clip-1-1 img"))

    page.goto(f"{site.base}/console/cases/{main}")
    page.get_by_label("Violation: remove it and every copy").check()
    page.get_by_label("Facts and reasons (shown to the reporter and the uploader)").fill("seen")
    page.get_by_role("button", name="Record decision").click()
    expect(page.locator("#decided")).to_contain_text("Decision recorded")
    expect(page.locator("#case-state")).to_have_text("actioned")
    expect(page.locator("#case-closed")).to_be_visible()  # a closed case takes no decision
    assert page.locator("#decision-form").count() == 0
    shot(page, f"console-{size}-04-decided")
    _check(page, "decided")
    page.locator("#decided").get_by_role("link", name="Open the next case").click()
    assert page.url.endswith(f"/console/cases/{clip}")  # nearest deadline first
    page.goto(f"{site.base}/console/cases/{elsewhere}")
    expect(page.locator("#elsewhere")).to_contain_text(ELSEWHERE)
    expect(page.locator("#no-restrict-clock")).to_be_visible()
    expect(page.get_by_role("button", name="Copy link")).to_be_visible()
    shot(page, f"console-{size}-05-link-elsewhere")
    _check(page, "link elsewhere")

    # shortcuts off, and a break reminder after a minute's work (this reviewer's settings)
    page.locator("#viewing-settings summary").click()
    page.get_by_label("Single-key shortcuts (v, n, i, e, s)").uncheck()
    page.get_by_label("Remind me to take a break after (minutes, 0: never)").fill("0.02")
    page.get_by_role("button", name="Save").click()
    page.keyboard.press("v")
    assert not page.get_by_label("Violation: remove it and every copy").is_checked()
    reminder = page.locator("#break-reminder")
    expect(reminder).to_be_visible(timeout=5000)
    expect(page.locator("#session-minutes")).to_contain_text("min")
    shot(page, f"console-{size}-06-break-reminder")
    _check(page, "break reminder")
    page.get_by_role("button", name="I took a break").click()
    expect(reminder).to_be_hidden()
    page.context.close()

    page = _login(browser, site, second, viewport)
    expect(page.locator(f"#row-{clip} .holder")).to_contain_text("first@example.org")
    page.goto(f"{site.base}/console/cases/{clip}")
    expect(page.locator("#claim")).to_contain_text("Claimed by first@example.org")
    assert page.get_by_role("button", name="Claim this case").count() == 0
    page.goto(f"{site.base}/console/cases/{main}")
    expect(page.locator("#case-closed")).to_be_visible()
    history = page.locator("#history").inner_text()
    assert "first@example.org" in history and "user:" not in history
    assert "case.view" not in history
    expect(page.locator("#views")).to_contain_text("first@example.org")
    shot(page, f"console-{size}-07-closed")
    _check(page, "closed case")
    page.goto(f"{site.base}/console/cases/{elsewhere}")
    page.keyboard.press("v")  # shortcuts on for this reviewer
    assert page.get_by_label("Violation: remove it and every copy").is_checked()

    page.goto(f"{site.base}/console/dashboard")
    labels = page.locator("svg.chart text").all_text_contents()
    assert "Child sexual abuse" in labels and "child_sexual_abuse" not in labels
    shot(page, f"console-{size}-08-dashboard")
    _check(page, "dashboard")

    page.goto(f"{site.base}/console/transparency")
    expect(page.locator("#section-take_it_down")).to_contain_text("TAKE IT DOWN")
    expect(page.locator("#section-complaints")).to_contain_text("Art. 15(1)(d)")
    shot(page, f"console-{size}-09-transparency")
    _check(page, "transparency")
    pdf = page.request.get(site.base + str(page.locator("#pdf-link").get_attribute("href")))
    assert pdf.status == 200 and pdf.body().startswith(b"%PDF")
    page.context.close()


@pytest.mark.parametrize("size", ["1280", "390"])
def test_legal_and_admin_pages(browser: Any, site: Site, size: str) -> None:
    viewport = DESKTOP if size == "1280" else PHONE
    site.register("post-1", "image", "1" * 32)
    case_id = site.report([{"content_id": "post-1"}])
    specialist = site.user("cs1@example.org", "child_safety_specialist")
    page = _login(browser, site, specialist, viewport)  # confirmed: a CyberTipline draft
    page.goto(f"{site.base}/console/cases/{case_id}")
    page.get_by_label("Violation: remove it and every copy").check()
    page.get_by_role("button", name="Record decision").click()
    expect(page.locator("#decided")).to_be_visible()
    page.context.close()

    page = _login(browser, site, site.user("counsel@example.org", "legal"), viewport)
    page.goto(f"{site.base}/console/cybertipline")
    expect(page.locator("#ncmec-missing")).to_contain_text("TAKEDOWN_NCMEC_USERNAME")
    page.get_by_role("button", name="Approve and file").click()
    expect(page.locator("#tip-error")).to_contain_text("credentials are missing")
    expect(page.get_by_role("button", name="Approve and file")).to_be_visible()
    shot(page, f"console-{size}-10-cybertipline-no-credentials")
    _check(page, "cybertipline")
    page.context.close()

    page = _login(browser, site, site.user("admin@example.org", "admin"), viewport)
    page.goto(f"{site.base}/console/admin")
    expect(page.get_by_label("Role", exact=True)).to_have_value("reviewer")
    shot(page, f"console-{size}-11-admin")
    _check(page, "admin")
    page.context.close()
