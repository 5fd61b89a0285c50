"""What the python-threatexchange (pytx) clients lack for takedown, shared by the three kinds
built on them (NCMEC, StopNCII, ThreatExchange).

pytx's clients speak ``requests`` with their own retry loop (four tries, honouring Retry-After
by sleeping in the fetching thread) and, for ThreatExchange, no timeout at all. takedown's fetch
engine owns retries and back-off, so the sessions made here carry takedown's own timeouts and no
retries; and HTTP failures become the exchange errors the engine understands, with messages
built from the status code alone: pytx puts ThreatExchange's access token in the URL, and a
``requests`` exception's text would carry it into logs and the console.
"""

from __future__ import annotations

import email.utils
import logging
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import httpx
import requests
from dacite import DaciteError

from takedown.actions.addresses import Networks
from takedown.exchanges.base import (
    ExchangeAuthError,
    ExchangeError,
    ExchangeUnavailable,
    FeedEntry,
    FeedPage,
)
from takedown.exchanges.bounded import MAX_PAGE_BYTES, FeedTooLarge
from takedown.exchanges.guard import DEFAULT_NETWORKS, GuardedAdapter, networks_of
from takedown.matching.banks import canonical_value
from takedown.signals.base import InvalidSignal

log = logging.getLogger("takedown.exchanges")


class Timeout(NamedTuple):
    """``requests``' (connect, read) timeout, and the networks its requests may reach."""

    connect: float | None
    read: float | None
    networks: Networks = DEFAULT_NETWORKS


def requests_timeout(http: httpx.Client) -> Timeout:
    """The connect and read limits of takedown's outgoing HTTP client, and the address rules
    it fetches under (``exchanges.guard``), for a requests session."""
    return Timeout(http.timeout.connect, http.timeout.read, networks_of(http))


class BoundedSession(requests.Session):
    """A ``requests`` session for pytx's clients that reads every answer against a budget:
    the body as sent (``Accept-Encoding: identity``, any other encoding refused) and at most
    ``max_bytes`` of it, so a hostile exchange cannot fill memory through pytx's
    ``response.json()``; no redirect is followed (an exchange that moves is reconfigured, not
    followed to wherever it points)."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__()
        self.max_bytes = max_bytes
        self.trust_env = False  # no proxy or netrc from the environment: requests go as checked
        self.headers["Accept-Encoding"] = "identity"

    def request(
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        kwargs["stream"] = True
        kwargs["allow_redirects"] = False
        response = super().request(
            method if isinstance(method, str) else method.decode(), url, *args, **kwargs
        )
        try:
            _read_capped(response, self.max_bytes)
        except BaseException:
            response.close()
            raise
        return response


def _read_capped(response: requests.Response, max_bytes: int) -> None:
    if response.is_redirect:
        raise ExchangeError(
            f"the exchange answered a redirect (HTTP {response.status_code}), which takedown "
            "does not follow; correct the exchange's url option",
            code="exchange_redirect",
        )
    encoding = response.headers.get("Content-Encoding", "").strip().lower()
    if encoding not in ("", "identity"):
        raise ExchangeError(
            f"the exchange answered with Content-Encoding {encoding[:20]!r}; only identity is read",
            code="feed_encoding",
        )
    held = bytearray()
    for chunk in response.raw.stream(64 * 1024, decode_content=False):
        held += chunk
        if len(held) > max_bytes:
            raise FeedTooLarge(f"the exchange's answer is over {max_bytes} bytes")
    response._content = bytes(held)
    response._content_consumed = True


def session(base_url: str, timeout: Timeout, max_bytes: int = MAX_PAGE_BYTES) -> requests.Session:
    """A session whose requests time out as takedown's do (to any host, not only
    ``base_url``), are never retried by ``requests`` (a 429 or 5xx reaches the fetch engine
    at once, which backs off for the whole exchange instead of sleeping inside one request),
    and are read within ``max_bytes`` (``BoundedSession``)."""
    s = BoundedSession(max_bytes)
    for prefix in ("https://", "http://", base_url):
        adapter = GuardedAdapter(
            timeout.networks, timeout=(timeout.connect, timeout.read), max_retries=0
        )
        s.mount(prefix, adapter)
    return s


def same_origin(url: str, base_url: str) -> bool:
    """Does ``url`` (a paging link the server sent) stay on ``base_url``'s scheme and host?"""
    there, here = urlsplit(url), urlsplit(base_url)
    return (there.scheme, there.netloc.lower()) == (here.scheme, here.netloc.lower())


def page_size(options: Mapping[str, str], default: int, most: int) -> int:
    """The ``page_size`` option (how many entries one request asks for), within 1..most."""
    raw = options.get("page_size") or str(default)
    try:
        size = int(raw)
    except ValueError:
        size = 0
    if not 1 <= size <= most:
        raise ExchangeError(f"page_size must be 1..{most}", code="bad_option")
    return size


def retry_after(response: requests.Response | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), None when absent."""
    if response is None:
        return None
    raw = response.headers.get("Retry-After", "").strip()
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _graph_error_code(response: requests.Response) -> int | None:
    """Graph API errors come as HTTP 400/403 with ``{"error": {"code": N}}`` in the body."""
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, int) else None


# Graph API error codes: 190 invalid/expired token, 102 session, 10/200-299 permission;
# 4, 17, 32, 613 rate limits; 1, 2 temporary (https://developers.facebook.com/docs/graph-api/
# guides/error-handling).
GRAPH_AUTH_CODES = frozenset({102, 190, 10, *range(200, 300)})
_GRAPH_RATE_CODES = frozenset({4, 17, 32, 613})
_GRAPH_RETRY_CODES = frozenset({1, 2, *_GRAPH_RATE_CODES})


def error_for_status(
    exchange: str, response: requests.Response, *, graph: bool = False
) -> ExchangeError:
    """The exchange error for a failed response; the message names only the exchange and the
    status (never the URL, which may hold a token)."""
    status = response.status_code
    code = _graph_error_code(response) if graph else None
    if status in (401, 403) and not (code is not None and code in _GRAPH_RETRY_CODES):
        return ExchangeAuthError(
            f"{exchange} refused the credentials (HTTP {status}); change them and fetch again"
        )
    if code is not None and code in GRAPH_AUTH_CODES:
        return ExchangeAuthError(
            f"{exchange} refused the access token (Graph API error {code}); "
            "change it and fetch again"
        )
    rate_limited = status == 429 or (code is not None and code in _GRAPH_RATE_CODES)
    if rate_limited or status >= 500 or (code is not None and code in _GRAPH_RETRY_CODES):
        what = f"Graph API error {code}" if code is not None else f"HTTP {status}"
        return ExchangeUnavailable(
            f"{exchange} is unavailable ({what}); takedown retries later",
            retry_after=retry_after(response),
            code="exchange_rate_limited" if rate_limited else "exchange_unavailable",
        )
    return ExchangeError(
        f"{exchange} answered HTTP {status}; check the exchange's options",
        code=f"exchange_http_{status}",
    )


@contextmanager
def translated_errors(exchange: str, *, graph: bool = False) -> Iterator[None]:
    """Run pytx calls, turning what ``requests`` and the parsers raise into exchange errors."""
    try:
        yield
    except ExchangeError:
        raise
    except requests.HTTPError as exc:
        if exc.response is None:
            raise ExchangeUnavailable(f"{exchange} could not be reached") from None
        raise error_for_status(exchange, exc.response, graph=graph) from None
    except requests.Timeout:
        raise ExchangeUnavailable(f"{exchange} did not answer in time") from None
    except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema):
        raise ExchangeError(
            f"{exchange}'s URL is not valid; correct the exchange's url option",
            code="exchange_rejected",
        ) from None
    except requests.exceptions.JSONDecodeError:
        raise _unreadable(exchange, "JSONDecodeError") from None
    except requests.RequestException:
        raise ExchangeUnavailable(f"{exchange} could not be reached") from None
    except (
        ET.ParseError,
        DaciteError,
        AssertionError,
        IndexError,
        KeyError,
        TypeError,
        ValueError,
    ) as exc:
        raise _unreadable(exchange, type(exc).__name__) from None


def _unreadable(exchange: str, what: str) -> ExchangeError:
    return ExchangeError(
        f"{exchange} sent a response takedown cannot read ({what})", code="exchange_bad_response"
    )


def canonical_entry(
    external_id: str,
    signal_type: str,
    value: str,
    labels: tuple[str, ...] = (),
) -> FeedEntry | None:
    """A feed entry with its value as takedown stores it, or None (logged by the caller's count)
    for a value the signal type refuses: one malformed hash must not stop a feed."""
    try:
        canonical = canonical_value(signal_type, value)
    except InvalidSignal:
        return None
    return FeedEntry(external_id, signal_type, canonical, labels)


def log_skipped(exchange: str, skipped: int) -> None:
    if skipped:
        log.warning("%s: %d entries with malformed hashes skipped", exchange, skipped)


def with_more(pages: Iterator[tuple[list[FeedEntry], str]]) -> Iterator[FeedPage]:
    """Pages with an honest ``more`` for a source that only tells it by running out: each page
    is held until the next one arrives. An empty page followed by another is dropped (the
    next page's checkpoint is further on; NCMEC's time-range probing makes many such pages,
    each a transaction for nothing). A failure fetching the next page still hands over the
    page in hand first (marked ``more``, which it is), so its checkpoint is stored."""
    try:
        pending = next(pages)
    except StopIteration:
        return
    while True:
        try:
            following = next(pages)
        except StopIteration:
            yield FeedPage(pending[0], pending[1], more=False)
            return
        except ExchangeError as exc:
            failure = exc
        else:
            if pending[0]:
                yield FeedPage(pending[0], pending[1], more=True)
            pending = following
            continue
        yield FeedPage(pending[0], pending[1], more=True)
        raise failure
