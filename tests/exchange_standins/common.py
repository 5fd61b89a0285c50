"""What the exchange stand-ins share: a threaded HTTP server on a loopback port, answers, and
scripted failures of the feed endpoint (429 with Retry-After, 5xx, on the Nth feed request)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.http_servers import QuietHandler, serving


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()


def json_answer(status: int, data: Any, *headers: tuple[str, str]) -> Answer:
    return Answer(status, json.dumps(data).encode(), "application/json", headers)


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


@dataclass
class FeedFaults:
    """Failures scripted for the feed endpoint: ``fail(on=3, status=429)`` makes the third feed
    request from now (and ``times`` - 1 after it) answer that instead of a page."""

    requests: int = 0  # feed requests seen
    scripted: dict[int, Answer] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self, answer: Answer, *, on: int = 1, times: int = 1) -> None:
        with self.lock:
            for n in range(times):
                self.scripted[self.requests + on + n] = answer

    def next_fault(self) -> Answer | None:
        with self.lock:
            self.requests += 1
            return self.scripted.pop(self.requests, None)


Handler = Callable[[Request], Answer]


@contextmanager
def serve(handle: Handler) -> Iterator[str]:
    """Serve ``handle`` on a loopback port; yields the base URL."""

    class _Handler(QuietHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                answer = handle(Request(self.command, parts.path, query, headers, body))
            except Exception as exc:  # a stand-in bug shows as a 500 naming it
                answer = Answer(500, repr(exc).encode(), "text/plain")
            _send(self, answer)

        do_GET = do_POST = do_PUT = do_DELETE = _serve

    with serving(_Handler) as url:
        yield url


def _send(handler: BaseHTTPRequestHandler, answer: Answer) -> None:
    handler.send_response(answer.status)
    handler.send_header("Content-Type", answer.content_type)
    handler.send_header("Content-Length", str(len(answer.body)))
    for name, value in answer.headers:
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(answer.body)
