"""The contract between takedown and a hash-sharing exchange (NCMEC, StopNCII, another takedown...).

A client turns an exchange's own protocol into a stream of `FeedPage`s; the fetch engine
(service/exchange_fetch.py) writes each page into the exchange's bank in one transaction and
stores the page's checkpoint, so a fetch resumes where an interrupted one stopped. Clients know
nothing of the database: they only speak HTTP and yield pages, which keeps them testable against
local stand-in servers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import httpx


@dataclass(frozen=True)
class FeedEntry:
    """One hash in a feed, as takedown stores it."""

    external_id: str  # the exchange's id for the entry (stable across fetches)
    signal_type: str  # takedown signal type name: "pdq", "vpdq", "md5", "sha256"
    value: str  # as takedown stores it (signals/wire.py formats)
    labels: tuple[str, ...] = ()  # the feed's labels/tags/categories
    removed: bool = False  # deleted / withdrawn in the feed: disable the entry


@dataclass(frozen=True)
class FeedPage:
    """A page of entries; once it is written, `checkpoint` is stored and a fetch resumes there."""

    entries: Sequence[FeedEntry]
    checkpoint: str  # opaque to takedown
    more: bool  # another page follows now
    snapshot: str | None = None
    """For a feed whose every version lists all its live entries (a hash list file): which
    version this page is of. Each entry written is marked as seen in it."""
    snapshot_complete: bool = False
    """The last page of ``snapshot``, read whole: the exchange's entries not seen in it are no
    longer on the list and are withdrawn, as an entry the feed marks removed is."""


class ExchangeError(Exception):
    """Base of exchange failures; the message never holds credentials."""

    code: str = "exchange_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class ExchangeAuthError(ExchangeError):
    """The exchange refused the credentials: no retry until they are changed."""

    code = "exchange_auth"


class ExchangeUnavailable(ExchangeError):
    """429, 5xx or a network failure: retry later (after `retry_after` seconds when known)."""

    code = "exchange_unavailable"

    def __init__(
        self, message: str, *, retry_after: float | None = None, code: str | None = None
    ) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


@dataclass(frozen=True)
class ExchangeSettings:
    """What an admin configured for one exchange (nothing secret)."""

    name: str
    kind: str
    bank: str
    options: Mapping[str, str] = field(default_factory=dict)  # url, collaboration id, etc.


class ExchangeClient(Protocol):
    def fetch(self, checkpoint: str | None) -> Iterator[FeedPage]:
        """Stream pages from `checkpoint` (None: from the start); never the whole feed at once."""
        ...


@dataclass(frozen=True)
class SharedEntry:
    """A confirmed hash the platform chose to share back (no personal data)."""

    signal_type: str
    value: str
    category: str  # "csam", "ncii", ...
    removed: bool = False  # a withdrawn confirmation
    external_id: str | None = None  # the exchange's id when the hash came from it


@dataclass(frozen=True)
class ShareResult:
    accepted: int
    rejected: int = 0
    detail: str = ""


class ShareBack(Protocol):
    """Optional: exchanges that accept confirmed hashes."""

    def share(self, entries: Sequence[SharedEntry]) -> ShareResult: ...


ClientBuilder = Callable[[ExchangeSettings, Mapping[str, str], httpx.Client], ExchangeClient]


@dataclass(frozen=True)
class ExchangeKind:
    """One registered kind: how to build its client from settings + decrypted credentials."""

    name: str  # "ncmec" | "stopncii" | "threatexchange" | "hash_list" | "takedown" | "file"
    title: str
    credential_fields: tuple[str, ...]  # e.g. ("user", "password") - stored encrypted
    option_fields: tuple[str, ...]  # e.g. ("url",) - plain
    build: ClientBuilder
    required_options: tuple[str, ...] = ()  # subset of option_fields that must be given


REGISTRY: dict[str, ExchangeKind] = {}


def register(kind: ExchangeKind) -> ExchangeKind:
    """Add a kind; names are unique so a stored exchange's kind stays unambiguous."""
    if kind.name in REGISTRY:
        raise ValueError(f"exchange kind {kind.name!r} is already registered")
    REGISTRY[kind.name] = kind
    return kind


def kind_named(name: str) -> ExchangeKind:
    try:
        return REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(REGISTRY))
        raise KeyError(f"unknown exchange kind {name!r}; known kinds: {known}") from None


def all_kinds() -> list[ExchangeKind]:
    return list(REGISTRY.values())
