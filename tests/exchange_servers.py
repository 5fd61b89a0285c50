"""Local stand-ins for the exchanges takedown fetches itself: a hash list published as a file
(ETag / If-None-Match, Bearer token, a download cut off mid-file, 429/5xx) and another takedown
instance's signed feed (``GET /v1/exchange/feed``, paged by cursor, signed with ed25519)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from takedown.exchanges.feed_format import (
    SIGNATURE_HEADER,
    FeedItem,
    encode_page,
    feed_key,
    page_of,
    sign,
)
from tests.http_servers import QuietHandler, serving


@dataclass
class ListServer:
    """What the hash list stand-in serves; tests change it between fetches."""

    body: str = ""
    etag: str = '"v1"'
    token: str = ""
    cut_after_lines: int | None = None  # close the connection after this many lines, once
    failures: list[tuple[int, dict[str, str]]] = field(default_factory=list)  # next answers
    requests: list[dict[str, str]] = field(default_factory=list)
    url: str = ""


@contextmanager
def hash_list_server(path: str = "/list.csv") -> Iterator[ListServer]:
    state = ListServer()

    class Handler(QuietHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            state.requests.append({k.lower(): v for k, v in self.headers.items()})
            if urlsplit(self.path).path != path:
                self._answer(404, b"no such list")
                return
            if state.failures:
                status, headers = state.failures.pop(0)
                self._answer(status, b"try later", headers)
                return
            if state.token and self.headers.get("Authorization") != f"Bearer {state.token}":
                self._answer(401, b"unauthorized")
                return
            if self.headers.get("If-None-Match") == state.etag:
                self._answer(304, b"", {"ETag": state.etag})
                return
            body = state.body.encode()
            if state.cut_after_lines is not None:
                cut = b"".join(body.splitlines(keepends=True)[: state.cut_after_lines])
                state.cut_after_lines = None
                self.send_response(200)
                self.send_header("ETag", state.etag)
                self.send_header("Content-Length", str(len(body)))  # promises more than it sends
                self.end_headers()
                self.wfile.write(cut)
                self.wfile.flush()
                self.close_connection = True
                return
            self._answer(200, body, {"ETag": state.etag, "Content-Type": "text/csv"})

        def _answer(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if status != 304:
                self.wfile.write(body)

    with serving(Handler) as base:
        state.url = base + path
        yield state


@dataclass
class FeedServer:
    """Another takedown's feed: ``items`` in cursor order, signed with ``key``."""

    key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    items: list[FeedItem] = field(default_factory=list)
    api_key: str = "feed-reader-key"
    failures: dict[int, list[tuple[int, dict[str, str]]]] = field(default_factory=dict)
    """Answers given instead of the page asked for, keyed by the page's index (0-based)."""
    tamper: bool = False
    asked: list[str] = field(default_factory=list)
    url: str = ""

    @property
    def public_key(self) -> str:
        return feed_key(self.key).public_key

    def add(self, signal_type: str, value: str, category: str, removed: bool = False) -> None:
        cursor = f"{len(self.items) + 1:012d}"
        at = datetime(2026, 11, 29, tzinfo=UTC)
        self.items.append(FeedItem(cursor, signal_type, value, category, removed, at))


@contextmanager
def feed_server() -> Iterator[FeedServer]:
    state = FeedServer()

    class Handler(QuietHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path != "/v1/exchange/feed":
                self._answer(404, b"{}")
                return
            if self.headers.get("Authorization") != f"Bearer {state.api_key}":
                self._answer(401, b'{"code":"unauthorized"}')
                return
            query = parse_qs(parts.query)
            after = query.get("after", [""])[0]
            limit = int(query.get("limit", ["1000"])[0])
            state.asked.append(after)
            rest = [item for item in state.items if item.cursor > after]
            index = (len(state.items) - len(rest)) // limit
            planned = state.failures.get(index)
            if planned:
                status, headers = planned.pop(0)
                self._answer(status, b'{"code":"unavailable"}', headers)
                return
            body = encode_page(page_of(rest[:limit], after, len(rest) > limit))
            signature = sign(body, state.key)
            if state.tamper:
                body = body.replace(b'"removed":false', b'"removed":true ', 1)
            self._answer(200, body, {SIGNATURE_HEADER: signature})

        def _answer(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    with serving(Handler) as base:
        state.url = base
        yield state


def csv_list(rows: list[tuple[str, str, str, str, str]]) -> str:
    """A CSV hash list: (signal_type, value, label, external_id, removed)."""
    lines = ["signal_type,value,label,external_id,removed"]
    lines += [",".join(row) for row in rows]
    return "\n".join(lines) + "\n"


def jsonl_list(records: list[dict[str, object]]) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)
