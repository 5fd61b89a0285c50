"""The takedown-to-takedown feed on the wire: JSON pages signed with ed25519.

One instance serves ``GET /v1/exchange/feed?after=&limit=`` (the confirmed entries it chose
to share) and another subscribes to it as an exchange. Both sides use this module, so the
bytes one signs are exactly the bytes the other verifies: :func:`encode_page` is the only
writer of a page body and :func:`decode_page` the only reader. A subscriber pins the
publisher's public key when it adds the exchange and refuses a page whose signature does
not verify (a proxy or a compromised mirror cannot add hashes to its banks).

Pure: no web or database imports; ``cryptography`` for ed25519.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from takedown.exchanges.base import ExchangeError

SIGNATURE_HEADER = "X-Takedown-Feed-Signature"
SIGNATURE_SCHEME = "ed25519"
DEFAULT_LIMIT = 1000
MAX_LIMIT = 5000

FEED_CATEGORIES: dict[str, str] = {
    "child_sexual_abuse": "csam",
    "non_consensual_intimate_image": "ncii",
    "sexual_exploitation_or_trafficking": "exploitation",
    "other": "other",
}
"""A case category (``cases.vocabulary.Category``) as the feed names it: the short words other
exchanges use, so a subscriber's bank labels read the same whichever list an entry came from."""
CASE_CATEGORIES: dict[str, str] = {feed: case for case, feed in FEED_CATEGORIES.items()}


class FeedFormatError(ExchangeError):
    """A page, key or signature that cannot be used; ``code`` is machine-readable
    (``bad_signature``, ``bad_feed``, ``bad_public_key``). Messages never quote a key."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message, code=code)


@dataclass(frozen=True)
class FeedItem:
    """One shared entry: a hash, its category, and whether it was withdrawn. Nothing else
    (no case, report, reviewer or uploader) ever travels in the feed."""

    cursor: str
    signal_type: str
    value: str
    category: str
    removed: bool
    at: datetime


@dataclass(frozen=True)
class WirePage:
    """A page of the feed: ``next`` is the cursor to ask ``after`` next (the last entry's, or
    the ``after`` given when the page is empty); ``more`` says whether another page follows;
    ``after`` is the cursor the page answers, inside the signed body so that an old page
    cannot be replayed as the answer to a later request (see ``check_sequence``)."""

    entries: tuple[FeedItem, ...]
    next: str
    more: bool
    after: str = ""


@dataclass(frozen=True)
class FeedKey:
    """What ``GET /v1/exchange/feed/key`` answers: the key id (first 16 hex digits of the
    SHA-256 of the raw key) and the raw 32-byte public key in base64."""

    key_id: str
    public_key: str


def format_at(moment: datetime) -> str:
    """ISO-8601 in UTC with a ``Z``, to the second (naive datetimes are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_at(text: str) -> datetime:
    if not text.endswith("Z"):
        raise FeedFormatError("feed entry time must be ISO-8601 UTC ending in Z", code="bad_feed")
    try:
        return datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)
    except ValueError:
        raise FeedFormatError("feed entry time is not ISO-8601", code="bad_feed") from None


def _entry_json(item: FeedItem) -> dict[str, Any]:
    return {
        "cursor": item.cursor,
        "signal_type": item.signal_type,
        "value": item.value,
        "category": item.category,
        "removed": item.removed,
        "at": format_at(item.at),
    }


def encode_page(page: WirePage) -> bytes:
    """The exact body bytes: compact JSON, keys in the protocol's order, UTF-8."""
    document = {
        "entries": [_entry_json(item) for item in page.entries],
        "next": page.next,
        "more": page.more,
        "after": page.after,
    }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _field(raw: dict[str, Any], name: str, kind: type) -> Any:
    value = raw.get(name)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise FeedFormatError(f"feed field {name!r} must be a {kind.__name__}", code="bad_feed")
    return value


def _decode_entry(raw: Any) -> FeedItem:
    if not isinstance(raw, dict):
        raise FeedFormatError("feed entries must be JSON objects", code="bad_feed")
    return FeedItem(
        cursor=_field(raw, "cursor", str),
        signal_type=_field(raw, "signal_type", str),
        value=_field(raw, "value", str),
        category=_field(raw, "category", str),
        removed=_field(raw, "removed", bool),
        at=parse_at(_field(raw, "at", str)),
    )


def decode_page(body: bytes) -> WirePage:
    """Read a page body (verify its signature first); raises FeedFormatError(code="bad_feed")
    for anything that is not the protocol's shape."""
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise FeedFormatError("feed page is not JSON", code="bad_feed") from None
    if not isinstance(document, dict):
        raise FeedFormatError("feed page must be a JSON object", code="bad_feed")
    entries = _field(document, "entries", list)
    return WirePage(
        entries=tuple(_decode_entry(raw) for raw in entries),
        next=_field(document, "next", str),
        more=_field(document, "more", bool),
        after=_field(document, "after", str),
    )


def _position(cursor: str) -> int:
    if cursor == "":
        return 0
    if not cursor.isascii() or not cursor.isdigit() or len(cursor) > 18:
        raise FeedFormatError("feed cursors are decimal sequence numbers", code="bad_feed")
    return int(cursor)


def check_sequence(page: WirePage, asked_after: str) -> None:
    """A verified page must answer the request made: its signed ``after`` is the one asked,
    its entries' cursors rise strictly past it and ``next`` is the last of them (``after``
    itself for an empty page). A replayed page, or one that would rewind the subscriber's
    cursor and bring back hashes since withdrawn, raises FeedFormatError(code="bad_feed")."""
    if page.after != asked_after:
        raise FeedFormatError(
            "feed page answers another request (its signed 'after' differs)", code="bad_feed"
        )
    position = _position(asked_after)
    for item in page.entries:
        cursor = _position(item.cursor)
        if cursor <= position:
            raise FeedFormatError("feed cursors must rise past 'after'", code="bad_feed")
        position = cursor
    if _position(page.next) != position or (page.more and position == _position(asked_after)):
        raise FeedFormatError("feed 'next' must be the page's last cursor", code="bad_feed")


def encode_key(key: FeedKey) -> bytes:
    return json.dumps(
        {"key_id": key.key_id, "public_key": key.public_key}, separators=(",", ":")
    ).encode("utf-8")


def raw_public_key(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(public_key: Ed25519PublicKey) -> str:
    return hashlib.sha256(raw_public_key(public_key)).hexdigest()[:16]


def feed_key(private_key: Ed25519PrivateKey) -> FeedKey:
    public = private_key.public_key()
    return FeedKey(
        key_id=key_id(public),
        public_key=base64.b64encode(raw_public_key(public)).decode("ascii"),
    )


def load_public_key(text: str) -> Ed25519PublicKey:
    """A pinned public key (base64 of the raw 32 bytes, as ``/v1/exchange/feed/key`` gives)."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise FeedFormatError("public key is not base64", code="bad_public_key") from None
    if len(raw) != 32:
        raise FeedFormatError("public key must be 32 bytes (ed25519)", code="bad_public_key")
    return Ed25519PublicKey.from_public_bytes(raw)


def sign(body: bytes, private_key: Ed25519PrivateKey) -> str:
    """The ``X-Takedown-Feed-Signature`` header value for ``body``."""
    signature = base64.b64encode(private_key.sign(body)).decode("ascii")
    return f"{SIGNATURE_SCHEME}={signature}"


def verify(body: bytes, header: str | None, public_key: Ed25519PublicKey | str) -> None:
    """Return if ``header`` is a valid signature of the exact ``body`` by ``public_key``;
    raise FeedFormatError(code="bad_signature") otherwise (missing, malformed or wrong)."""
    key = load_public_key(public_key) if isinstance(public_key, str) else public_key
    scheme, _, encoded = (header or "").strip().partition("=")
    if scheme != SIGNATURE_SCHEME or not encoded:
        raise FeedFormatError("feed page has no ed25519 signature", code="bad_signature")
    try:
        signature = base64.b64decode(encoded, validate=True)
        key.verify(signature, body)
    except (binascii.Error, ValueError, InvalidSignature):
        raise FeedFormatError(
            "feed page signature does not verify with the pinned key", code="bad_signature"
        ) from None


def page_of(entries: Sequence[FeedItem], after: str, more: bool) -> WirePage:
    """A page whose ``next`` follows the protocol: the last entry's cursor, else ``after``."""
    return WirePage(
        entries=tuple(entries),
        next=entries[-1].cursor if entries else after,
        more=more,
        after=after,
    )
