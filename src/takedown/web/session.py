"""Staff sessions and CSRF tokens.

A session is a signed cookie (itsdangerous) holding the user id, a CSRF token, the user's
session epoch and the issue time: HttpOnly, SameSite=Lax, Secure behind TLS, expiring after
``session_max_age_s``. Signing out raises the user's epoch, which ends every session of theirs
at once, on every device (a stateless cookie cannot be taken back otherwise). Forms
outside a session (login, the public report form) use a double-submit token: a random cookie
whose value the form must echo.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from pathlib import Path

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from takedown.store.private import private_dir, tighten, write_private

SESSION_COOKIE = "td_session"
FORM_COOKIE = "td_form"
REVEAL_MAX_AGE_S = 15 * 60


@dataclass(frozen=True)
class StaffSession:
    user_id: int
    csrf: str
    epoch: int = 0
    """The user's session epoch when it was issued: a session of an older epoch is over."""


def secret_key(configured: str, home: Path) -> str:
    """The configured key, or one generated once and kept in HOME/secret_key (0600)."""
    if configured:
        return configured
    path = home / "secret_key"
    private_dir(home)
    if path.exists() or not write_private(path, secrets.token_urlsafe(48)):
        tighten(path)
    return path.read_text().strip()


class Sessions:
    def __init__(self, secret: str, max_age_s: int) -> None:
        self._signer = URLSafeTimedSerializer(secret, salt="takedown-session")
        self._reveals = URLSafeTimedSerializer(secret, salt="takedown-reveal")
        self._max_age = max_age_s

    @staticmethod
    def _secure(request: Request) -> bool:
        return request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"

    def load(self, request: Request) -> StaffSession | None:
        raw = request.cookies.get(SESSION_COOKIE)
        if not raw:
            return None
        try:
            data = self._signer.loads(raw, max_age=self._max_age)
        except BadSignature:
            return None
        if not isinstance(data, dict):
            return None
        user_id, csrf, epoch = data.get("u"), data.get("c"), data.get("e", 0)
        if not isinstance(user_id, int) or not isinstance(csrf, str) or not isinstance(epoch, int):
            return None
        return StaffSession(user_id, csrf, epoch)

    def issue(self, request: Request, response: Response, user_id: int, epoch: int) -> StaffSession:
        session = StaffSession(user_id, secrets.token_urlsafe(32), epoch)
        response.set_cookie(
            SESSION_COOKIE,
            self._signer.dumps({"u": user_id, "c": session.csrf, "e": epoch}),
            max_age=self._max_age,
            httponly=True,
            samesite="lax",
            secure=self._secure(request),
            path="/",
        )
        return session

    def reveal_ticket(self, session: StaffSession, case_id: int, content_id: str) -> str:
        """What the reveal form's redirect carries: the case page shows the item unblurred only
        for a ticket made after the audited reveal, for this session, this case and this item
        (a hand-written ``?revealed=`` link shows nothing)."""
        return self._reveals.dumps({"s": _bound(session), "k": case_id, "i": content_id})

    def revealed(self, session: StaffSession, ticket: str, case_id: int) -> str | None:
        """The content id a ticket reveals, or None (forged, expired, another session or case)."""
        if not ticket:
            return None
        try:
            data = self._reveals.loads(ticket, max_age=REVEAL_MAX_AGE_S)
        except BadSignature:
            return None
        if not isinstance(data, dict) or not same(data.get("s"), _bound(session)):
            return None
        content_id = data.get("i")
        return content_id if data.get("k") == case_id and isinstance(content_id, str) else None

    def clear(self, response: Response) -> None:
        response.delete_cookie(SESSION_COOKIE, path="/")

    @staticmethod
    def form_token(request: Request) -> str:
        """A double-submit token for a form shown outside a session (set with
        :meth:`keep_form_token` on the response that shows the form)."""
        return request.cookies.get(FORM_COOKIE) or secrets.token_urlsafe(24)

    def keep_form_token(self, request: Request, response: Response, token: str) -> None:
        response.set_cookie(
            FORM_COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=self._secure(request),
            path="/",
        )


def _bound(session: StaffSession) -> str:
    """What ties a reveal ticket to one session: a digest of its CSRF token (the ticket sits in
    an address, so it is signed, not encrypted, and must not carry the token itself)."""
    return hashlib.sha256(b"reveal:" + session.csrf.encode()).hexdigest()[:32]


def same(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(str(a), str(b))
