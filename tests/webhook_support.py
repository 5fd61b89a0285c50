"""Webhook receivers that misbehave, for the delivery and fault tests: one that accepts TCP
connections and never answers (a hung platform), and one that stalls or fails on demand."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from tests.http_servers import QuietHandler, serving
from tests.service_support import Received


@contextmanager
def dead_receiver() -> Iterator[str]:
    """A URL whose server completes the TCP handshake (the kernel does, from the listen
    backlog) but never reads a byte or answers: every request waits for its read timeout."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/hook"
    finally:
        listener.close()


@dataclass
class Flaky:
    """A receiver that stalls for ``stall_s`` and then answers 503, for every request: a
    platform endpoint that is up but broken. Counts the requests that reached it."""

    stall_s: float = 5.0
    requests: int = 0
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @contextmanager
    def running(self) -> Iterator[Flaky]:
        flaky = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with flaky._lock:
                    flaky.requests += 1
                time.sleep(flaky.stall_s)
                try:
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the sender gave up waiting

        with serving(Handler) as base:
            self.url = base + "/hook"
            yield self


def distinct_keys(received: list[Received]) -> dict[str, int]:
    """How many requests each idempotency key took."""
    counts: dict[str, int] = {}
    for got in received:
        key = got.headers["Idempotency-Key"]
        counts[key] = counts.get(key, 0) + 1
    return counts
