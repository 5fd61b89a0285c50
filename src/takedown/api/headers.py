"""Security headers on every response: a strict Content-Security-Policy (no inline script or
style anywhere, so an injected tag or attribute does nothing), no framing, no referrer, no
MIME sniffing, HSTS behind TLS, and ``Cache-Control: no-store`` wherever a page or answer
carries personal data or a secret link (console, report and status pages, the JSON API).

The rules are a pure function of the request (:func:`security_headers`); the ASGI layer only
adds them. It wraps the whole application, outside Starlette's error middleware, so that
error answers (404, 401, 403, 413, 422, and even an unhandled 500) carry them too.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        # Swagger UI's stylesheet draws its icons as data: SVGs; data: images run no script
        "img-src 'self' data:",
        "media-src 'self'",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    )
)
HSTS = "max-age=31536000; includeSubDomains"

PRIVATE_PREFIXES = ("/v1/", "/console", "/status", "/report")
"""Paths whose answers must never be stored by a browser or a shared cache: the console,
the reporter's form, receipt and status pages (the status link is the reporter's secret), and
the JSON API (cases, reports, evidence, actions and audit carry personal data)."""

_ALWAYS = (
    ("content-security-policy", CONTENT_SECURITY_POLICY),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("x-content-type-options", "nosniff"),
)


def private(path: str) -> bool:
    return path.startswith(PRIVATE_PREFIXES)


def security_headers(path: str, *, tls: bool, hsts: bool) -> list[tuple[str, str]]:
    """The headers an answer to ``path`` gets. ``tls``: the request came over HTTPS (as the
    server reports it, which behind a proxy means only a trusted proxy's X-Forwarded-Proto);
    ``hsts``: send HSTS anyway (TLS ends at a proxy that does not pass the scheme on)."""
    headers = list(_ALWAYS)
    if tls or hsts:
        headers.append(("strict-transport-security", HSTS))
    if private(path):
        headers.append(("cache-control", "no-store"))
    return headers


class SecurityHeaders:
    """ASGI middleware that sets :func:`security_headers` on every HTTP response (replacing
    any value a route set for the same header, so that no route can weaken them)."""

    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = security_headers(
            scope.get("path", ""), tls=scope.get("scheme") == "https", hsts=self.hsts
        )

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in extra:
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install(app: FastAPI, *, hsts: bool) -> None:
    """Wrap the application's whole middleware stack (Starlette builds it on the first
    request), so that the answers of its outermost error handler carry the headers too."""
    build: Callable[[], ASGIApp] = app.build_middleware_stack

    def build_with_headers() -> ASGIApp:
        return SecurityHeaders(build(), hsts=hsts)

    app.build_middleware_stack = build_with_headers  # type: ignore[method-assign]
