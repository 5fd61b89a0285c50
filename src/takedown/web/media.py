"""Review media fetched from the platform on demand, never stored here.

The platform serves an item's bytes at ``media_url_template`` (``{content_id}`` is filled in);
each request carries ``Takedown-Signature`` (HMAC-SHA256 over ``"timestamp.GET <path>"`` with
``media_secret``, the same scheme as webhooks) so that the platform serves only takedown.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import httpx

from takedown.actions.signing import SIGNATURE_HEADER, sign
from takedown.config import Settings
from takedown.media import MediaError, MediaKind, MediaLimits, detect


@dataclass(frozen=True)
class ReviewMedia:
    data: bytes
    mime: str
    is_video: bool


def media_url(settings: Settings, content_id: str) -> str | None:
    if not settings.media_url_template:
        return None
    return settings.media_url_template.replace("{content_id}", quote(content_id, safe=""))


def fetch(settings: Settings, content_id: str) -> ReviewMedia | None:
    """The item's bytes from the platform, or None when it has none (deleted, unreachable)."""
    url = media_url(settings, content_id)
    if url is None:
        return None
    path = urlsplit(url).path
    headers = {SIGNATURE_HEADER: sign(settings.media_secret, f"GET {path}".encode())}
    try:
        response = httpx.get(url, headers=headers, timeout=10.0)
    except httpx.HTTPError:
        return None
    if response.status_code != 200 or len(response.content) > settings.max_upload_bytes:
        return None
    try:
        fmt = detect(response.content, MediaLimits(max_bytes=settings.max_upload_bytes))
    except MediaError:
        return None
    return ReviewMedia(response.content, fmt.mime, fmt.kind is MediaKind.VIDEO)
