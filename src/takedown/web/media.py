"""Review media: from the evidence store, or fetched from the platform and then kept.

The platform serves an item's bytes at ``media_url_template`` (``{content_id}`` is filled in);
each request carries ``Takedown-Signature`` (HMAC-SHA256 over ``"timestamp.GET <path>"`` with
``media_secret``, the same scheme as webhooks) so that the platform serves only takedown.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import httpx

from takedown.actions.signing import SIGNATURE_HEADER, sign
from takedown.config import Settings
from takedown.legal.evidence import EvidenceStore
from takedown.media import MediaError, MediaKind, MediaLimits, detect
from takedown.service.references import ReferenceCache


@dataclass(frozen=True)
class ReviewMedia:
    data: bytes
    mime: str
    is_video: bool


def media_url(settings: Settings, content_id: str) -> str | None:
    """The item's address on the platform, or None. A dot-segment id (``.``, ``..``) would
    make the HTTP client ask for the template's parent path, so it is never fetched (intake
    refuses such ids; this guards rows stored before it did)."""
    if not settings.media_url_template or content_id.strip(".") == "":
        return None
    return settings.media_url_template.replace("{content_id}", quote(content_id, safe=""))


def review_media(
    settings: Settings, evidence: EvidenceStore, content_id: str
) -> ReviewMedia | None:
    """An item in a case: from the evidence store, else fetched from the platform and kept
    (it is a reported item now)."""
    data = evidence.get(content_id)
    if data is None:
        data = fetch(settings, content_id)
        if data is not None:
            evidence.put(content_id, data)
    if data is None:
        return None
    try:
        fmt = detect(data, MediaLimits(max_bytes=settings.max_upload_bytes))
    except MediaError:
        return None
    return ReviewMedia(data, fmt.mime, fmt.kind is MediaKind.VIDEO)


def capture(
    settings: Settings,
    evidence: EvidenceStore,
    content_ids: list[str],
    references: ReferenceCache | None = None,
) -> None:
    """Keep the bytes of newly reported items (run after the report is answered), and hash
    them as references into ``references`` once the report's restriction has had its
    ``WARM_AFTER_S`` (hashing a video beside it in this process slows it), so that a
    confirmation only matches."""
    captured = []
    for content_id in content_ids:
        data = evidence.get(content_id)
        if data is None:
            data = fetch(settings, content_id)
            if data is not None:
                evidence.put(content_id, data)
        if data is not None:
            captured.append(data)
    if references is None or not captured:
        return
    time.sleep(WARM_AFTER_S)
    for data in captured:
        references.warm(data)


WARM_AFTER_S = 2.0
"""How long the reference hashing waits after a report: its restriction goes out within a
second, and a confirmation comes minutes later (one that comes sooner waits for the hashing)."""


def fetch(settings: Settings, content_id: str) -> bytes | None:
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
    return response.content
