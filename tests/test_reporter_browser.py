"""The reporter's pages in real Chromium (Debian's, through Playwright) on a real uvicorn
server, as a parent on a phone (390x844) and on a desktop (1280x900): every question is marked
required or optional; the removal request's signature and good-faith statement show only for
intimate images; an empty form names each unanswered question once; free text in the link
field is refused; the status link fits the screen and has a copy button; an expired form
keeps what was typed; the pages switch language; ``/docs`` works with every outside address
blocked; no page asks for anything that is not there (no 404, no console error). axe finds
no serious or critical violation; screenshots go to test-artifacts/screenshots/reporter-*."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from takedown.api.app import create_app
from takedown.store.db import Database
from tests.browser_support import axe_violations, live_server, settings_for, shot
from tests.service_support import database_url
from tests.smtp_server import smtp_server

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
LINK = "https://photos.example/p/post-1"


@dataclass
class Site:
    base: str
    troubles: list[str] = field(default_factory=list)

    documents: set[int] = field(default_factory=set)

    def watch(self, page: Any) -> Any:
        """Every console error and every failed request of ``page`` is kept as a trouble. A
        form's own answer (a 422 with its errors, a 403 for an expired form) is a page, not a
        trouble, though Chromium logs it as a failed load too."""
        page.on("console", self._console)
        page.on("response", self._response)
        page.on("requestfailed", lambda r: self.troubles.append(f"failed {r.url}"))
        return page

    def _console(self, message: Any) -> None:
        if message.type != "error":
            return
        text = message.text
        if any(f"status of {code} " in text for code in self.documents):
            return
        self.troubles.append(f"console: {text}")

    def _response(self, response: Any) -> None:
        if response.request.resource_type == "document":
            self.documents.add(response.status)
        elif response.status >= 400:
            self.troubles.append(f"{response.status} {response.url}")


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    with database_url("sqlite", tmp_path) as url, smtp_server() as (port, _mailbox):
        db = Database(url)
        settings = settings_for(tmp_path, url, smtp_host="127.0.0.1", smtp_port=port)
        with live_server(create_app(settings, db=db)) as base:
            yield Site(base)
        db.dispose()


def _check(page: Any, where: str) -> None:
    assert axe_violations(page) == [], where
    fits = "document.documentElement.scrollWidth <= window.innerWidth + 1"
    assert page.evaluate(fits), f"{where}: wider than the screen"


def _questions(page: Any) -> list[str]:
    return [t.strip() for t in page.locator(".error-summary li").all_inner_texts()]


def test_a_parent_on_a_phone(browser: Any, site: Site) -> None:
    for size, viewport in (("390", PHONE), ("1280", DESKTOP)):
        mobile = viewport is PHONE
        context = browser.new_context(viewport=viewport, is_mobile=mobile, has_touch=mobile)
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site.base)
        page = site.watch(context.new_page())
        name = f"reporter-{size}"
        page.goto(site.base + "/")
        expect(page.get_by_role("heading", name="Support for you")).to_be_visible()
        expect(page.get_by_role("link", name="Take It Down (NCMEC)")).to_be_visible()
        _check(page, "home")
        shot(page, f"{name}-01-home")

        page.goto(site.base + "/report")
        request_part = page.locator("#takedown-request")
        for question in ("What is it?", "Is anyone shown under 18?", "Who are you?"):
            legend = page.locator("legend", has_text=question)
            expect(legend.locator(".need.required")).to_have_text("required")
        expect(page.locator("label[for=content] .need.required")).to_be_visible()
        expect(page.locator("label[for=notify-email] .need")).to_have_text("optional")
        expect(request_part).to_be_hidden()  # no kind chosen yet
        page.get_by_label("Intimate images shared without consent").check()
        expect(request_part).to_be_visible()
        expect(page.locator("[data-need-for]")).to_have_text("required: an e-mail or a phone")
        page.get_by_label("Sexual content involving someone under 18").check()
        expect(request_part).to_be_hidden()  # a child report: no signature, no statement
        expect(page.locator("[data-need-for]")).to_have_text("optional")
        _check(page, "report form")
        shot(page, f"{name}-02-report")

        page.reload()
        page.get_by_role("button", name="Send report").click()
        summary = page.locator("#error-summary")
        expect(summary).to_be_focused()
        questions = _questions(page)
        assert "Please choose one of the options." not in page.content()
        for question in ("What is it?", "Is anyone shown under 18?", "Who are you?"):
            assert [q for q in questions if f"“{question}”" in q] != [], question
            assert sum(f"“{question}”" in q for q in questions) == 1, question
        assert len(questions) == 4  # the link, and the three questions
        _check(page, "report with errors")
        shot(page, f"{name}-03-report-errors")

        page.get_by_label("Link to the content (one per line)").fill("his instagram, last week")
        page.get_by_label("Sexual content involving someone under 18").check()
        page.get_by_label("Yes", exact=True).check()
        page.get_by_label("I am a parent or guardian of the person shown").check()
        page.get_by_role("button", name="Send report").click()
        expect(page.locator("#content-error")).to_contain_text("This is not a link")
        assert _questions(page) == [page.locator("#content-error").inner_text()]
        expect(page.get_by_label("I am a parent or guardian of the person shown")).to_be_checked()
        shot(page, f"{name}-04-not-a-link")

        page.get_by_label("Link to the content (one per line)").fill(LINK)
        page.get_by_label("Address for status e-mails").fill("parent@example.org")
        page.get_by_role("button", name="Send report").click()
        expect(page.get_by_role("heading", name="We received your report")).to_be_visible()
        link = page.locator("#status-link")
        status_url = link.get_attribute("href")
        assert status_url and status_url.startswith(site.base + "/status/")
        box = link.bounding_box()
        assert box is not None and box["x"] + box["width"] <= viewport["width"]
        page.get_by_role("button", name="Copy link").click()
        expect(page.locator("#copy-status")).to_contain_text("Copied")
        assert page.evaluate("navigator.clipboard.readText()") == status_url
        expect(page.locator("#mail-note")).to_be_visible()
        _check(page, "receipt")
        shot(page, f"{name}-05-receipt")

        page.goto(status_url)
        # the link reaches no registered post: nothing to hide yet, a person will look
        expect(page.locator("#status")).to_have_attribute("data-status", "received")
        expect(page.get_by_role("button", name="Stop the e-mails")).to_be_visible()
        _check(page, "status")
        shot(page, f"{name}-06-status")
        context.close()
    assert site.troubles == []


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_an_expired_form_keeps_what_was_typed(browser: Any, site: Site, javascript: bool) -> None:
    context = browser.new_context(viewport=PHONE, java_script_enabled=javascript)
    page = site.watch(context.new_page())
    page.goto(site.base + "/report")
    if not javascript:  # the removal request's part shows, and says whom it is for
        expect(page.locator("#takedown-request")).to_be_visible()
        expect(page.locator("[data-no-script-hint]")).to_be_visible()
    page.get_by_label("Link to the content (one per line)").fill(LINK)
    page.get_by_label("Sexual content involving someone under 18").check()
    page.get_by_label("I am not sure").check()
    page.get_by_label("I am a parent or guardian of the person shown").check()
    page.get_by_label("Anything else we should know (optional)").fill("She is 15.")
    context.clear_cookies()  # the phone closed the browser: the form's cookie is gone
    page.get_by_role("button", name="Send report").click()
    expect(page.locator("#form-notice")).to_contain_text("This form had expired")
    expect(page.get_by_label("Link to the content (one per line)")).to_have_value(LINK)
    expect(page.get_by_label("I am not sure")).to_be_checked()
    expect(page.get_by_label("Anything else we should know (optional)")).to_have_value("She is 15.")
    if javascript:  # axe runs in the page
        _check(page, "expired form")
    shot(page, f"reporter-390-07-expired-{'js' if javascript else 'nojs'}")
    page.get_by_role("button", name="Send report").click()
    expect(page.get_by_role("heading", name="We received your report")).to_be_visible()
    context.close()
    assert site.troubles == []


def test_the_pages_in_spanish_and_german(browser: Any, site: Site) -> None:
    context = browser.new_context(viewport=PHONE, locale="de-DE")
    page = site.watch(context.new_page())
    page.goto(site.base + "/report")  # the browser's language
    assert page.locator("html").get_attribute("lang") == "de"
    expect(page.get_by_role("heading", name="Inhalt melden")).to_be_visible()
    _check(page, "report in German")
    shot(page, "reporter-390-08-report-de")
    page.get_by_role("link", name="Español").click()
    assert page.locator("html").get_attribute("lang") == "es"
    page.get_by_role("button", name="Enviar denuncia").click()
    expect(page.locator("#error-summary")).to_contain_text("Responda a la pregunta «¿Qué es?»")
    _check(page, "report errors in Spanish")
    shot(page, "reporter-390-09-report-errors-es")
    page.goto(site.base + "/")  # the choice is remembered
    expect(page.get_by_role("heading", name="Apoyo para usted")).to_be_visible()
    context.close()
    assert site.troubles == []


@pytest.mark.parametrize("size", ["1280", "390"])
def test_api_docs_offline(browser: Any, site: Site, size: str) -> None:
    """Every request to anywhere but the service is refused, as on a machine with no network:
    Swagger UI still draws every operation from the package's own files."""
    viewport = DESKTOP if size == "1280" else PHONE
    context = browser.new_context(viewport=viewport)
    outside: list[str] = []

    def only_local(route: Any) -> None:
        if route.request.url.startswith(site.base):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", only_local)
    page = site.watch(context.new_page())
    page.goto(site.base + "/docs")
    expect(page.locator(".opblock").first).to_be_visible(timeout=20_000)
    assert page.locator(".opblock").count() > 20
    expect(page.locator(".information-container .title")).to_contain_text("takedown")
    shot(page, f"reporter-{size}-10-docs-offline")
    context.close()
    assert outside == [] and site.troubles == []
