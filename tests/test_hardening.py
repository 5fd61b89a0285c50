"""Hardening (issue 13, item 12): security headers on every answer, no-store where personal
data or a secret link is, HSTS only behind TLS, /docs from packaged files (no CDN), owner-only
files, /metrics behind a key; and, in real Chromium, no page (public, console, admin, docs)
reports a Content-Security-Policy violation, and the docs render with the network limited to
the server."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import expect

from takedown.api.app import create_app
from takedown.auth.accounts import create_key, create_user
from takedown.auth.scopes import Role, Scope
from takedown.store.db import Database
from takedown.web.templating import HERE as WEB
from tests.browser_support import csp_violations, live_server, media_server, settings_for
from tests.conftest import run_takedown
from tests.service_support import Service, database_url, make_settings, running_service

BASE_HEADERS = {
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
}
PASSWORD = "correct horse battery staple"


def _csp(response: httpx.Response) -> dict[str, list[str]]:
    policy = response.headers.get("content-security-policy", "")
    directives = (d.strip().split() for d in policy.split(";") if d.strip())
    return {d[0]: d[1:] for d in directives}


def _assert_hardened(response: httpx.Response, where: str) -> None:
    for name, value in BASE_HEADERS.items():
        assert response.headers.get(name) == value, f"{where}: {name}"
    csp = _csp(response)
    assert csp.get("script-src") == ["'self'"], f"{where}: {csp}"
    assert csp.get("default-src") == ["'self'"], where
    assert csp.get("object-src") == ["'none'"], where
    assert csp.get("base-uri") == ["'none'"], where
    assert csp.get("frame-ancestors") == ["'none'"], where
    assert csp.get("form-action") == ["'self'"], where
    assert not any("unsafe" in s for sources in csp.values() for s in sources), where
    assert "strict-transport-security" not in response.headers, f"{where}: HSTS over http"


def test_every_kind_of_answer_carries_the_security_headers(service: Service) -> None:
    lookup_only = service.key(Scope.LOOKUP)
    reviewer = service.staff("reviewer")
    answers = {
        "API JSON": service.as_(reviewer, "GET", "/v1/cases"),
        "health": service.client.get("/healthz"),
        "home page": service.client.get("/"),
        "report form": service.client.get("/report"),
        "console login": service.client.get("/console/login"),
        "static file": service.client.get("/static/site.css"),
        "docs": service.client.get("/docs"),
        "OpenAPI": service.client.get("/openapi.json"),
        "404": service.client.get("/no/such/page"),
        "404 status page": service.client.get("/status/no-such-token"),
        "401": service.client.get("/v1/cases"),
        "403": service.as_(lookup_only, "GET", "/v1/cases"),
        "422": service.get("/v1/cases", params={"limit": "many"}),
        "405": service.client.delete("/healthz"),
    }
    expected = {"404": 404, "404 status page": 404, "401": 401, "403": 403}
    expected |= {"422": 422, "405": 405}
    for where, response in answers.items():
        assert response.status_code == expected.get(where, 200), (where, response.text)
        _assert_hardened(response, where)


def test_answers_made_outside_the_routes_carry_them_too(tmp_path: Path) -> None:
    """413 comes from the body-limit middleware, and a 500 from Starlette's outermost error
    middleware (here for a route added by the test that fails on purpose)."""

    def fails() -> None:
        raise RuntimeError("a bug")

    with database_url("sqlite", tmp_path) as url:
        db = Database(url)
        app = create_app(make_settings(tmp_path, url, max_upload_bytes=1024), db=db)
        app.add_api_route("/v1/fails", fails)
        with TestClient(app, raise_server_exceptions=False) as client:
            too_large = client.post("/v1/reports", content=b"x" * 2048)
            assert too_large.status_code == 413
            _assert_hardened(too_large, "413")
            assert too_large.headers.get("cache-control") == "no-store"
            failed = client.get("/v1/fails")
            assert failed.status_code == 500
            _assert_hardened(failed, "500")
            assert failed.headers.get("cache-control") == "no-store"
        db.dispose()


def test_no_store_on_personal_data_and_secret_links(service: Service) -> None:
    report = service.client.post(
        "/v1/reports",
        json={
            "content": [{"url": "https://photos.example/p/1"}],
            "category": "non_consensual_intimate_image",
            "minor_depicted": "no",
            "relationship": "self",
            "contact": {"email": "me@example.org"},
            "good_faith_statement": True,
            "signature": "A. Person",
        },
    )
    assert report.status_code == 201, report.text
    token = report.json()["status_token"]
    case_id = report.json()["case_id"]
    staff = service.staff("child_safety_specialist")
    private = {
        "console": service.client.get("/console/login"),
        "report form": service.client.get("/report"),
        "status page": service.client.get(f"/status/{token}"),
        "report answer": report,
        "cases": service.as_(staff, "GET", "/v1/cases"),
        "case": service.as_(staff, "GET", f"/v1/cases/{case_id}"),
        "report status JSON": service.client.get(f"/v1/reports/status/{token}"),
        "evidence": service.get("/v1/evidence/no-such-item"),
        "refused": service.client.get("/v1/cases"),
    }
    for where, response in private.items():
        assert response.headers.get("cache-control") == "no-store", where
    for path in ("/", "/static/site.css", "/healthz"):
        assert "no-store" not in service.client.get(path).headers.get("cache-control", ""), path


def test_hsts_only_over_tls_or_when_configured(tmp_path: Path) -> None:
    with database_url("sqlite", tmp_path) as url:
        db = Database(url)
        app = create_app(make_settings(tmp_path, url), db=db)
        with TestClient(app) as plain:
            # a forwarded scheme from a client that is not a trusted proxy counts for nothing
            answer = plain.get("/healthz", headers={"X-Forwarded-Proto": "https"})
            assert "strict-transport-security" not in answer.headers
        with TestClient(app, base_url="https://testserver") as tls:
            hsts = tls.get("/healthz").headers.get("strict-transport-security", "")
            assert re.fullmatch(r"max-age=\d{8,}; includeSubDomains", hsts)
            assert tls.get("/no/such/page").headers.get("strict-transport-security") == hsts
        configured = create_app(make_settings(tmp_path, url, hsts=True), db=db)
        with TestClient(configured) as plain:
            assert plain.get("/healthz").headers.get("strict-transport-security") == hsts
        db.dispose()


_INLINE = {
    "inline <script>": re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I),
    "<style> block": re.compile(r"<style\b", re.I),
    "style attribute": re.compile(r"\sstyle\s*=", re.I),
    "event handler attribute": re.compile(r"\son[a-z]+\s*=", re.I),
    "javascript: URL": re.compile(r"javascript:", re.I),
}


def test_templates_have_no_inline_script_or_style() -> None:
    """What the CSP would refuse (and so break) in a page: found here, not by a reviewer."""
    templates = sorted((WEB / "templates").rglob("*.html"))
    assert len(templates) > 10
    found = [
        f"{path.relative_to(WEB)}: {what}"
        for path in templates
        for what, pattern in _INLINE.items()
        if pattern.search(path.read_text())
    ]
    assert found == []


def test_docs_come_from_the_package_not_a_cdn(service: Service) -> None:
    page = service.client.get("/docs")
    assert page.status_code == 200
    assert "cdn." not in page.text and "http" not in page.text, page.text
    assert not _INLINE["inline <script>"].search(page.text)
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert {"/static/docs/swagger-ui-bundle.js", "/static/docs/swagger-ui.css"} <= set(assets)
    for asset in assets:
        assert asset.startswith(("/static/docs/", "/static/favicon.svg")), asset
        assert service.client.get(asset).status_code == 200, asset
    assert service.client.get("/redoc").status_code == 404  # not served (see routes.docs)
    assert (WEB / "static" / "docs" / "LICENSE").read_text().lstrip().startswith("Apache")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@contextmanager
def _umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def test_a_new_home_and_database_are_owner_only(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()  # 0755 here: the usual umask
    with (
        _umask(0o022),
        database_url("sqlite", home) as url,
        running_service(make_settings(home, url)) as service,
    ):
        assert service.post("/v1/banks", json={"name": "b"}).status_code == 201  # a write: WAL
        assert _mode(home) == 0o700
        for name in ("takedown.db", "takedown.db-wal", "takedown.db-shm", "secret_key"):
            assert _mode(home / name) == 0o600, name
        assert _mode(home / "vault-keys.json") == 0o600  # the vault's own (not this module's)


def test_looser_modes_are_tightened_on_start(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    with _umask(0o022), database_url("sqlite", home) as url:
        (home / "secret_key").write_text("s" * 64)
        for name in ("takedown.db", "secret_key"):
            (home / name).chmod(0o644)
        (home / "takedown.db-wal").write_bytes(b"")
        (home / "takedown.db-wal").chmod(0o664)
        home.chmod(0o755)
        db = Database(url)
        create_app(make_settings(home, url), db=db)
        db.dispose()
        assert _mode(home) == 0o700
        for name in ("takedown.db", "takedown.db-wal", "secret_key"):
            assert _mode(home / name) == 0o600, name


def test_the_cli_makes_the_home_and_database_owner_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "fresh"
    monkeypatch.setenv("TAKEDOWN_HOME", str(home))
    monkeypatch.setenv("TAKEDOWN_CONFIG", str(tmp_path / "none.toml"))
    with _umask(0o022):
        result = run_takedown("db", "upgrade")
    assert result.returncode == 0, result.stderr
    assert _mode(home) == 0o700
    assert _mode(home / "takedown.db") == 0o600


def test_metrics_need_a_key_with_the_metrics_scope(service: Service) -> None:
    assert service.client.get("/metrics").status_code == 401
    assert service.as_(service.key(Scope.LOOKUP), "GET", "/metrics").status_code == 403
    scraped = service.as_(service.key(Scope.METRICS), "GET", "/metrics")
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")
    assert "takedown_index_entries" in scraped.text
    by_header = service.client.get("/metrics", headers={"X-API-Key": service.key(Scope.METRICS)})
    assert by_header.status_code == 200
    schema = service.client.get("/openapi.json").json()
    assert schema["paths"]["/metrics"]["get"]["security"]


# --- in Chromium ---------------------------------------------------------------------------

WATCH_CSP = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push([e.violatedDirective, e.blockedURI, e.sourceFile, e.lineNumber].join(" "));
});
"""


class Site:
    def __init__(self, browser: Any, base: str, db: Database) -> None:
        self.browser = browser
        self.base = base
        self.db = db
        self.outside: list[str] = []
        self.unguarded: list[str] = []
        """Pages that came without the CSP (a page without one could not report a violation)."""

    def context(self, email: str | None = None) -> Any:
        """A browser context that reports CSP violations and reaches nothing but the server."""
        context = self.browser.new_context()
        context.add_init_script(WATCH_CSP)

        def only_the_server(route: Any) -> None:
            if route.request.url.startswith(self.base):
                route.continue_()
            else:
                self.outside.append(route.request.url)
                route.abort()

        context.route("**/*", only_the_server)

        def policy_in_force(response: Any) -> None:
            if response.request.resource_type == "document":
                policy = response.headers.get("content-security-policy", "")
                if "script-src 'self'" not in policy:
                    self.unguarded.append(response.url)

        context.on("response", policy_in_force)
        if email:
            page = context.new_page()
            page.goto(self.base + "/console/login")
            page.get_by_label("Email").fill(email)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            assert page.url.rstrip("/").endswith("/console"), page.url
            page.close()
        return context

    def check(self, page: Any, where: str) -> None:
        page.wait_for_load_state("load")
        reported = page.evaluate("window.__csp || []") + csp_violations(page)
        assert reported == [], f"{where}: {reported}"
        assert self.outside == [], f"{where}: requests left the server: {self.outside}"
        assert self.unguarded == [], f"{where}: pages without the CSP: {self.unguarded}"


@pytest.fixture
def site(browser: Any, tmp_path: Path, shared_data: Path) -> Iterator[Site]:
    photo = sorted((shared_data / "photos").glob("*.jpg"))[0].read_bytes()
    with database_url("sqlite", tmp_path) as url, media_server({"post-1": photo}) as media:
        db = Database(url)
        settings = settings_for(tmp_path, url, media_url_template=media, media_secret="m")
        with live_server(create_app(settings, db=db)) as base:
            with db.write() as session:
                key = create_key(session, "platform", frozenset(Scope), actor="t")[1]
                for role in Role:
                    create_user(session, f"{role.value}@example.org", role, PASSWORD, actor="t")
            auth = {"Authorization": f"Bearer {key}"}
            registered = httpx.post(
                f"{base}/v1/content",
                headers=auth,
                json={
                    "content_id": "post-1",
                    "uploader_id": "uploader-1",
                    "url": "https://photos.example/p/post-1",
                    "kind": "image",
                    "signals": [{"type": "md5", "value": "0" * 31 + "1"}],
                },
            )
            assert registered.status_code == 201, registered.text
            bank = httpx.post(f"{base}/v1/banks", headers=auth, json={"name": "known"})
            assert bank.status_code == 201, bank.text
            yield Site(browser, base, db)
        db.dispose()


def test_no_page_reports_a_csp_violation(site: Site) -> None:
    public = site.context()
    page = public.new_page()
    for path in ("/", "/report", "/console/login", "/no/such/page"):
        page.goto(site.base + path)
        site.check(page, path)
    page.goto(site.base + "/report")
    page.get_by_role("button", name="Send report").click()  # the error summary (report.js)
    site.check(page, "report with errors")
    page.get_by_label("Link to the content (one per line)").fill("https://photos.example/p/post-1")
    page.get_by_label("Sexual content involving someone under 18").check()
    page.get_by_label("Yes").check()
    page.get_by_label("I am a parent or guardian of the person shown").check()
    page.get_by_role("button", name="Send report").click()
    assert page.get_by_role("heading", name="We received your report").is_visible()
    site.check(page, "receipt")
    status_url = page.locator("#status-link").get_attribute("href")
    assert status_url
    page.goto(status_url)
    site.check(page, "status page")
    public.close()

    specialist = site.context("child_safety_specialist@example.org")
    page = specialist.new_page()
    page.goto(site.base + "/console")
    site.check(page, "queues")
    page.locator("#queue a").first.click()
    item = page.locator(".media").first
    # wellness.css, no style= (waited for: the page's stylesheet may still be loading)
    expect(item.locator("img")).to_have_css(
        "filter", re.compile(r"blur\(24px\).*grayscale\(1\)|grayscale\(1\).*blur\(24px\)")
    )
    site.check(page, "case")
    item.get_by_role("button", name="Reveal this item").click()
    page.wait_for_function("() => document.querySelector('.media img').naturalWidth > 0")
    site.check(page, "case, item revealed")
    for path in ("/console/dashboard", "/console/transparency", "/console/admin"):
        page.goto(site.base + path)
        site.check(page, path)
    page.goto(site.base + "/console/admin/banks/known")
    site.check(page, "bank page")
    specialist.close()

    legal = site.context("legal@example.org")
    page = legal.new_page()
    page.goto(site.base + "/console/cybertipline")
    site.check(page, "CyberTipline")
    legal.close()


def test_the_docs_render_from_the_server_alone(site: Site) -> None:
    context = site.context()
    page = context.new_page()
    page.goto(site.base + "/docs")
    page.wait_for_selector(".opblock", timeout=30_000)
    assert page.locator(".opblock").count() > 30  # every operation, from /openapi.json
    page.locator(".opblock-summary").first.click()  # expand one: more styles and icons
    page.get_by_role("button", name="Try it out").first.click()
    site.check(page, "/docs")
    context.close()
