"""Console sign-in over HTTP (the browser tests cover the pages): the optional TOTP second
factor, and the session cookie's flags."""

from __future__ import annotations

import re

import pyotp
from sqlalchemy import select

from takedown.auth.accounts import create_user, enable_totp
from takedown.auth.scopes import Role
from takedown.store.models import User
from tests.service_support import Service

PASSWORD = "a long enough password"


def _login(service: Service, email: str, code: str = "") -> int:
    page = service.client.get("/console/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    answer = service.client.post(
        "/console/login",
        data={"csrf_token": token.group(1), "email": email, "password": PASSWORD, "code": code},
        follow_redirects=False,
    )
    return answer.status_code


def test_totp_second_factor(service: Service) -> None:
    with service.db.write() as session:
        create_user(session, "totp@example.org", Role.LEGAL, PASSWORD, actor="t")
        uri = enable_totp(session, "totp@example.org")
    assert uri.startswith("otpauth://totp/")
    assert _login(service, "totp@example.org") == 401  # password alone is not enough
    with service.db.read() as session:
        secret = session.execute(select(User.totp_secret)).scalar_one()
    assert secret
    service.client.cookies.clear()
    assert _login(service, "totp@example.org", pyotp.TOTP(secret).now()) == 303
    cookie = next(c for c in service.client.cookies.jar if c.name == "td_session")
    assert cookie.has_nonstandard_attr("HttpOnly")


def test_session_cookie_flags_and_no_password_session(service: Service) -> None:
    with service.db.write() as session:
        create_user(session, "plain@example.org", Role.REVIEWER, PASSWORD, actor="t")
    page = service.client.get("/console/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    answer = service.client.post(
        "/console/login",
        data={"csrf_token": token.group(1), "email": "plain@example.org", "password": PASSWORD},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    header = answer.headers["set-cookie"].lower()
    assert "httponly" in header and "samesite=lax" in header
    assert service.client.get("/console", follow_redirects=False).status_code == 200
    service.client.cookies.clear()
    assert service.client.get("/console", follow_redirects=False).status_code == 303


def test_signing_out_ends_every_session_of_the_user(service: Service) -> None:
    """Two devices signed in; signing out on one ends both, and a cookie copied before the
    sign-out opens nothing afterwards. Signing in again works."""
    import httpx

    with service.db.write() as session:
        create_user(session, "two@example.org", Role.REVIEWER, PASSWORD, actor="t")
    assert _login(service, "two@example.org") == 303
    laptop = dict(service.client.cookies)
    service.client.cookies.clear()
    assert _login(service, "two@example.org") == 303
    phone = dict(service.client.cookies)
    for cookies in (laptop, phone):
        service.client.cookies = httpx.Cookies(cookies)
        assert service.client.get("/console", follow_redirects=False).status_code == 200

    service.client.cookies = httpx.Cookies(phone)
    page = service.client.get("/console")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    out = service.client.post(
        "/console/logout", data={"csrf_token": token.group(1)}, follow_redirects=False
    )
    assert out.status_code == 303
    for cookies in (laptop, phone):  # the copied cookies are worth nothing now
        service.client.cookies = httpx.Cookies(cookies)
        assert service.client.get("/console", follow_redirects=False).status_code == 303
    service.client.cookies.clear()
    assert _login(service, "two@example.org") == 303
    assert service.client.get("/console", follow_redirects=False).status_code == 200
