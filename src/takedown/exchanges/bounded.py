"""Reading an exchange's answer against a budget, so that a hostile or broken feed cannot
exhaust memory: a 300 KB gzip body that inflates to one 300 MiB line must cost kilobytes.

Bodies are asked for and read as sent (``Accept-Encoding: identity``; any other encoding is
refused), line by line with a longest-line bound, or whole with a byte cap for the formats
that are parsed in one piece (a signed feed page, an API's JSON page).
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Iterator

import httpx

from takedown.exchanges.base import ExchangeError

MAX_LINE = 64 * 1024  # a hash list line: a hash, an id and labels
MAX_LIST_BYTES = 2 * 1024**3  # one fetch of one hash list file (streamed, never held)
MAX_PAGE_BYTES = 32 * 1024**2  # one page parsed whole (JSON)
IDENTITY = {"Accept-Encoding": "identity"}


class FeedTooLarge(ExchangeError):
    """An answer over its budget: nothing more of it is read."""

    code = "feed_too_large"


def _check_encoding(response: httpx.Response, what: str) -> None:
    encoding = response.headers.get("content-encoding", "").strip().lower()
    if encoding not in ("", "identity"):
        raise ExchangeError(
            f"{what} answered with Content-Encoding {encoding[:20]!r}; only identity is read",
            code="feed_encoding",
        )


def _declared_too_long(response: httpx.Response, limit: int) -> bool:
    raw = response.headers.get("content-length", "")
    return raw.isdigit() and int(raw) > limit


def lines(
    response: httpx.Response,
    what: str,
    *,
    max_line: int = MAX_LINE,
    max_bytes: int = MAX_LIST_BYTES,
) -> Iterator[str]:
    """The body's lines (without their ending), read raw: never a line over ``max_line``
    bytes nor more than ``max_bytes`` in all held or read."""
    _check_encoding(response, what)
    if _declared_too_long(response, max_bytes):
        raise FeedTooLarge(f"{what} is over {max_bytes} bytes")
    return _split(response.iter_raw(), what, max_line, max_bytes)


def _split(chunks: Iterable[bytes], what: str, max_line: int, max_bytes: int) -> Iterator[str]:
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pending = b""
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if total > max_bytes:
            raise FeedTooLarge(f"{what} is over {max_bytes} bytes")
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for line in complete:
            if len(line) > max_line:
                raise FeedTooLarge(f"{what} has a line over {max_line} bytes")
            yield decoder.decode(line + b"\n").rstrip("\r\n")
        if len(pending) > max_line:
            raise FeedTooLarge(f"{what} has a line over {max_line} bytes")
    if pending:
        yield decoder.decode(pending, final=True).rstrip("\r")


def body(response: httpx.Response, what: str, *, max_bytes: int = MAX_PAGE_BYTES) -> bytes:
    """The whole body of a streamed response, refused past ``max_bytes``."""
    _check_encoding(response, what)
    if _declared_too_long(response, max_bytes):
        raise FeedTooLarge(f"{what} is over {max_bytes} bytes")
    held = bytearray()
    for chunk in response.iter_raw():
        held += chunk
        if len(held) > max_bytes:
            raise FeedTooLarge(f"{what} is over {max_bytes} bytes")
    return bytes(held)
