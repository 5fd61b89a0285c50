"""The reporter's pages over real HTTP (the ASGI app on SQLite and PostgreSQL): the form names
each unanswered question once, refuses free text where a link is asked, keeps nothing of a
removal request's signature for a child report, and keeps what was typed when its token
expired; the status page after a removal does not show the uploader's way to appeal; pages
are in the reader's language; every public string has its Spanish and German translation;
every page has an icon."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from sqlalchemy import select

from takedown.store.models import Report
from takedown.web.session import FORM_COOKIE
from takedown.web.templating import LANGUAGE_COOKIE, catalog_path
from tests.service_support import Service, make_settings, running_service

ROOT = Path(__file__).resolve().parents[1]
LINK = "https://photos.example/p/post-1"
QUESTIONS = ("What is it?", "Is anyone shown under 18?", "Who are you?")


def _token(page_text: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page_text)
    assert found is not None
    return found.group(1)


def _summary(page_text: str) -> str:
    found = re.search(r'<div class="error-summary".*?</div>', page_text, re.S)
    assert found is not None, page_text
    return found.group(0)


def _post_report(service: Service, **fields: str) -> Any:
    token = _token(service.client.get("/report").text)
    return service.client.post("/report", data={"csrf_token": token, **fields})


def _reports(service: Service) -> list[Report]:
    with service.db.read() as session:
        return list(session.execute(select(Report)).scalars())


def test_an_empty_form_names_each_question_once(service: Service) -> None:
    page = _post_report(service)
    assert page.status_code == 422
    summary = _summary(page.text)
    assert "Please choose one of the options." not in page.text
    for question in QUESTIONS:
        assert summary.count(f"“{question}”") == 1, question
    assert "Link to the content" in summary
    # each message links to its question, in the form's order
    anchors = re.findall(r'href="#([^"]+)"', summary)
    assert anchors == ["content", "category", "minor_depicted", "relationship"]
    assert _reports(service) == []


def test_free_text_is_not_a_link(service: Service) -> None:
    page = _post_report(
        service,
        url="on his instagram, the one with the dog",
        category="other",
        minor_depicted="no",
        relationship="other_user",
    )
    assert page.status_code == 422
    text = page.text
    assert "This is not a link: “on his instagram, the one with the dog”" in text
    assert 'id="content-error"' in text and "on his instagram" in text  # kept in the field
    assert _reports(service) == []
    again = _post_report(
        service, url=LINK, category="other", minor_depicted="no", relationship="other_user"
    )
    assert again.status_code == 201


def test_a_child_report_asks_for_no_signature(service: Service) -> None:
    """The signature and good-faith statement are a TAKE IT DOWN request's (intimate images):
    a child report may be anonymous (DSA art. 16(2)(c)), and what the hidden part still held
    is not kept."""
    page = service.client.get("/report").text
    part = re.search(r'<fieldset[^>]*id="takedown-request"[^>]*>', page)
    assert part is not None and 'data-only-for="non_consensual_intimate_image"' in part.group(0)
    # every question is marked required or optional
    for question in QUESTIONS:
        assert re.search(re.escape(question) + r' <span class="need required">required', page)
    assert re.search(r'Or: fingerprint your own copy <span class="need">optional', page)
    answer = _post_report(
        service,
        url=LINK,
        category="child_sexual_abuse",
        minor_depicted="yes",
        relationship="parent_or_guardian",
        signature="Typed Before Switching",
        good_faith_statement="yes",
    )
    assert answer.status_code == 201
    (report,) = _reports(service)
    assert (report.signature, report.good_faith_statement) == ("", False)
    ncii = _post_report(
        service,
        url=LINK,
        category="non_consensual_intimate_image",
        minor_depicted="no",
        relationship="self",
    )
    summary = _summary(ncii.text)
    assert "signature" in summary and "good-faith" in summary and "reach you" in summary


def test_an_expired_form_keeps_what_was_typed(service: Service) -> None:
    service.client.get("/report")
    service.client.cookies.clear()  # the browser was closed: the form's cookie is gone
    typed = {
        "csrf_token": "from-the-old-page",
        "url": LINK,
        "category": "child_sexual_abuse",
        "minor_depicted": "yes",
        "relationship": "parent_or_guardian",
        "description": "He is 14. It was posted yesterday.",
    }
    page = service.client.post("/report", data=typed)
    assert page.status_code == 403
    assert "This form had expired, so it was not sent." in page.text
    assert LINK in page.text and "He is 14. It was posted yesterday." in page.text
    assert re.search(r'value="child_sexual_abuse" checked', page.text)
    assert re.search(r'value="parent_or_guardian" checked', page.text)
    fresh = _token(page.text)
    assert fresh != "from-the-old-page" and page.cookies.get(FORM_COOKIE) == fresh
    assert _reports(service) == []
    sent = service.client.post("/report", data={**typed, "csrf_token": fresh})
    assert sent.status_code == 201, sent.text


def test_an_expired_status_form_keeps_the_answer(service: Service) -> None:
    page = _post_report(
        service, url=LINK, category="other", minor_depicted="no", relationship="other_user"
    )
    token = re.search(r"/status/([^\"]+)\"", page.text)
    assert token is not None
    service.client.cookies.clear()
    answer = service.client.post(
        f"/status/{token.group(1)}",
        data={"csrf_token": "stale", "action": "reply", "message": "It was on Tuesday."},
    )
    assert answer.status_code == 403
    assert "Your text is kept below" in answer.text


def _content(service: Service) -> None:
    answer = service.post(
        "/v1/content",
        json={
            "content_id": "post-1",
            "uploader_id": "u-1",
            "url": LINK,
            "signals": [{"type": "md5", "value": "5d41402abc4b2a76b9719d911017c592"}],
        },
    )
    assert answer.status_code == 201, answer.text


def test_after_a_removal_the_reporter_is_not_offered_the_uploaders_appeal(
    service: Service,
) -> None:
    _content(service)
    filed = service.client.post(
        "/v1/reports",
        json={
            "content": [{"url": LINK}],
            "category": "other",
            "minor_depicted": "no",
            "relationship": "other_user",
        },
    ).json()
    reviewer = service.staff("reviewer")
    decided = service.as_(
        reviewer,
        "POST",
        f"/v1/cases/{filed['case_id']}/decisions",
        json={"outcome": "violation", "note": "seen"},
    )
    assert decided.status_code == 201, decided.text
    page = service.client.get(f"/status/{filed['status_token']}").text
    assert 'data-status="removed"' in page
    assert "You can appeal this decision" not in page  # the statement's redress: the uploader's
    assert "The person who posted the content may appeal." in page
    assert '<dd id="decision">Removed</dd>' in page
    assert 'name="action" value="appeal"' not in page


def test_pages_in_the_readers_language(service: Service) -> None:
    spanish = service.client.get("/report?lang=es")
    assert '<html lang="es">' in spanish.text and "Denunciar contenido" in spanish.text
    assert spanish.cookies.get(LANGUAGE_COOKIE) == "es"
    assert "¿Qué es?" in service.client.get("/report").text  # the choice is kept
    service.client.cookies.clear()
    german = service.client.get("/", headers={"Accept-Language": "fr-CH, de;q=0.8, en;q=0.5"})
    assert '<html lang="de">' in german.text and "Inhalt melden" in german.text
    english = service.client.get("/", headers={"Accept-Language": "fr"})
    assert '<html lang="en">' in english.text
    # an unanswered question is named in the page's language
    token = _token(service.client.get("/report?lang=de").text)
    page = service.client.post("/report", data={"csrf_token": token})
    assert "Beantworten Sie die Frage „Worum handelt es sich?“" in page.text


def _public_messages() -> set[str]:
    with (ROOT / "babel-public.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)
    found = extract_from_dir(str(ROOT), method_map, options_map, keywords={"_": None, "N_": None})
    return {message for _file, _line, message, _comments, _context in found if message}


def _placeholders(text: str) -> set[str]:
    return set(re.findall(r"%\(\w+\)s", text))


@pytest.mark.parametrize("language", ["es", "de"])
def test_every_public_string_is_translated(language: str) -> None:
    wanted = _public_messages()
    assert len(wanted) > 100  # the extraction found the pages' strings
    with catalog_path(language).open("rb") as source:
        po = read_po(source)
    translated = {str(m.id): str(m.string) for m in po if m.id and m.string and not m.fuzzy}
    missing = sorted(wanted - set(translated))
    assert missing == [], f"{language}: untranslated (run `make messages`, then translate)"
    for source_text in wanted:
        assert _placeholders(translated[source_text]) == _placeholders(source_text), source_text


def test_every_page_has_an_icon(service: Service) -> None:
    icon = service.client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    assert service.client.get("/static/favicon.svg").status_code == 200
    for path in ("/", "/report", "/docs", "/console/login"):
        page = service.client.get(path)
        assert '<link rel="icon" href="/static/favicon.svg"' in page.text, path


def test_local_helplines_come_first(db_url: str, tmp_path: Path) -> None:
    helpline = {
        "name": "Hilfetelefon Sexueller Missbrauch",
        "description": "Anonym und kostenfrei, 100% vertraulich",
        "url": "https://www.hilfe-portal-missbrauch.de/",
        "phone": "0800 22 55 530",
    }
    settings = make_settings(tmp_path, db_url, helplines=[helpline])
    with running_service(settings) as service:
        page = service.client.get("/").text
    support = page[page.index('id="support"') :]
    assert support.index(helpline["name"]) < support.index("Take It Down (NCMEC)")
    assert helpline["description"] in support  # as written: not translated, not formatted
    assert 'href="tel:08002255530"' in support
