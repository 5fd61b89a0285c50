"""Another takedown instance's signed feed (``GET /v1/exchange/feed``), as an exchange.

The publisher's public key is pinned when the exchange is added (option ``public_key``, as
its ``GET /v1/exchange/feed/key`` gives it); every page's signature is checked against it
before the page is read, so a page altered on the way (a proxy, a mirror) is refused with
``bad_signature`` and nothing of it reaches the bank. The checkpoint is the feed's cursor.

A hash is one entry whatever the events that carried it: its external id is the value
itself (a digest of it when longer than 200 characters), so the publisher's withdrawal of a
hash disables the entry its addition made, and its category becomes the entry's label.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Mapping

import httpx

from takedown.exchanges import bounded
from takedown.exchanges.base import (
    ExchangeKind,
    ExchangeSettings,
    ExchangeUnavailable,
    FeedEntry,
    FeedPage,
    register,
)
from takedown.exchanges.feed_format import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    SIGNATURE_HEADER,
    FeedItem,
    check_sequence,
    decode_page,
    load_public_key,
    verify,
)
from takedown.exchanges.hash_list import raise_for_status, require_https
from takedown.matching.banks import canonical_value
from takedown.signals import InvalidSignal

log = logging.getLogger("takedown.exchanges")

FEED_PATH = "/v1/exchange/feed"


def external_id(signal_type: str, value: str) -> str:
    if len(value) <= 200:
        return value
    return "sha256:" + hashlib.sha256(f"{signal_type}:{value}".encode()).hexdigest()


def _entry(item: FeedItem) -> FeedEntry | None:
    """The entry, or None for a hash this instance cannot read (a signal type it lacks)."""
    try:
        value = canonical_value(item.signal_type, item.value)
    except InvalidSignal:
        return None
    return FeedEntry(
        external_id=external_id(item.signal_type, value),
        signal_type=item.signal_type,
        value=value,
        labels=(item.category,) if item.category else (),
        removed=item.removed,
    )


class TakedownFeedClient:
    def __init__(self, settings: ExchangeSettings, api_key: str, http: httpx.Client) -> None:
        base = require_https(settings.options.get("url", "").rstrip("/"))
        self.feed_url = base + FEED_PATH
        self.public_key = load_public_key(settings.options.get("public_key", ""))
        self.limit = int(settings.options.get("page_size") or DEFAULT_LIMIT)
        if not 1 <= self.limit <= MAX_LIMIT:
            raise ValueError(f"page_size must be 1..{MAX_LIMIT}")
        # a page is read whole before its signature is checked: about 2 KiB an entry at most
        self.max_page_bytes = max(1024 * 1024, self.limit * 2048)
        self.name = settings.name
        self.api_key = api_key
        self.http = http

    def fetch(self, checkpoint: str | None) -> Iterator[FeedPage]:
        after = checkpoint or ""
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        what = f"takedown feed {self.name!r}"
        while True:
            try:
                with self.http.stream(
                    "GET",
                    self.feed_url,
                    params={"after": after, "limit": self.limit},
                    headers={**headers, **bounded.IDENTITY},
                ) as response:
                    raise_for_status(response, what)
                    content = bounded.body(response, what, max_bytes=self.max_page_bytes)
                    signature = response.headers.get(SIGNATURE_HEADER)
            except httpx.TransportError as exc:
                raise ExchangeUnavailable(f"{what}: {type(exc).__name__}") from None
            verify(content, signature, self.public_key)
            page = decode_page(content)
            check_sequence(page, after)
            entries = [e for e in map(_entry, page.entries) if e is not None]
            if len(entries) < len(page.entries):
                log.warning(
                    "feed entries skipped",
                    extra={"exchange": self.name, "entries": len(page.entries) - len(entries)},
                )
            yield FeedPage(entries, page.next, page.more)
            if not page.more:
                return
            after = page.next


def _build(
    settings: ExchangeSettings, credentials: Mapping[str, str], http: httpx.Client
) -> TakedownFeedClient:
    return TakedownFeedClient(settings, credentials.get("api_key", ""), http)


KIND = register(
    ExchangeKind(
        name="takedown",
        title="Another takedown instance's signed feed",
        credential_fields=("api_key",),
        option_fields=("url", "public_key", "page_size"),
        build=_build,
        required_options=("url", "public_key"),
    )
)
