"""Fetch media by URL the way HMA does (``GET /h/hash?url=``), without its SSRF holes.

HMA's rules are kept: http(s) only, a numeric port, ``ALLOWED_HOSTNAMES`` (a host or any of
its subdomains; empty allows any host) and ``MAX_REMOTE_FILE_SIZE`` (413 past it, checked on
the declared length and again while reading). On top, every hop (redirects are followed, at
most five) is resolved and refused if any address is in ``webhook_deny_networks`` (private,
loopback, link-local...) unless ``hma_fetch_allow_networks`` lets it, and the request goes to
the address that was checked (``actions.addresses.target``), so DNS cannot be re-pointed
between the check and the fetch.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urljoin, urlparse

import httpx

from takedown.actions.addresses import Networks, UrlRefused, target
from takedown.api.errors import ApiError
from takedown.config import Settings

MAX_REDIRECTS = 5
_CHUNK = 1 << 16
UNSAFE = "Invalid or unsafe URL provided"


@dataclass(frozen=True)
class Fetched:
    content_type: str
    data: bytes


def hostname_allowed(url: str, allowed: list[str]) -> bool:
    """HMA's ``is_valid_url``: scheme, host, a numeric port, and the allow-list."""
    try:
        parsed = urlparse(url)
    except ValueError:
        return False
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        return False
    host, _, port = parsed.netloc.rpartition("@")[2].partition(":")
    if port and not port.isdigit():
        return False
    host = host.lower()
    if not allowed:
        return True
    return any(host == a.lower() or host.endswith(f".{a.lower()}") for a in allowed)


def fetch(url: str, settings: Settings) -> Fetched:
    """The body and Content-Type at ``url``; raises ApiError with HMA's statuses and messages
    (400 unsafe or failed, 413 too large). Blocking: call it from a thread."""
    networks = Networks.of(settings.webhook_deny_networks, settings.hma_fetch_allow_networks)
    limit = settings.hma_max_remote_file_size
    with httpx.Client(timeout=httpx.Timeout(30.0, connect=10.0), follow_redirects=False) as client:
        for _ in range(MAX_REDIRECTS + 1):
            if not hostname_allowed(url, settings.hma_allowed_hostnames):
                raise ApiError(400, "unsafe_url", UNSAFE)
            try:
                where = target(url, networks)
            except UrlRefused:
                raise ApiError(400, "unsafe_url", UNSAFE) from None
            extensions = {"sni_hostname": where.sni_hostname} if where.sni_hostname else {}
            try:
                request = client.build_request(
                    "GET",
                    where.urls[0],
                    headers={"Host": where.host_header},
                    extensions=extensions,
                )
                response = client.send(request, stream=True)
            except httpx.HTTPError as exc:
                raise ApiError(
                    400, "fetch_failed", f"Failed to fetch URL: {type(exc).__name__}"
                ) from None
            try:
                if response.is_redirect and "location" in response.headers:
                    url = urljoin(url, response.headers["location"])
                    continue
                if response.status_code >= 400:
                    raise ApiError(
                        400,
                        "fetch_failed",
                        f"Failed to fetch URL: {response.status_code} {response.reason_phrase}",
                    )
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > limit:
                    raise ApiError(413, "content_too_large", "Content too large")
                chunks: list[bytes] = []
                size = 0
                for chunk in response.iter_bytes(_CHUNK):
                    size += len(chunk)
                    if size > limit:
                        raise ApiError(413, "content_too_large", "Content too large")
                    chunks.append(chunk)
                return Fetched(response.headers.get("content-type", ""), b"".join(chunks))
            except httpx.HTTPError as exc:
                raise ApiError(
                    400, "fetch_failed", f"Failed to fetch URL: {type(exc).__name__}"
                ) from None
            finally:
                response.close()
    raise ApiError(400, "fetch_failed", "Failed to fetch URL: too many redirects")
