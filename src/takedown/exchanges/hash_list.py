"""Hash lists published as files at an HTTPS URL (CSV, JSON lines, plain text).

The file is the list: it is streamed line by line (never held whole) and cut into pages. The
checkpoint is the file's ETag and how many lines were written, so that a download cut off
mid-file resumes after the last written page while the file is unchanged; once a version has
been read to its end the next fetch asks with ``If-None-Match`` and a 304 costs nothing.

Formats (option ``format``, else from the URL's suffix: ``.csv``, ``.jsonl``/``.ndjson``/
``.json``, anything else plain):
- CSV with a header: ``signal_type,value`` then optionally ``label``, ``external_id``,
  ``removed`` (``true``/``1``: the list withdraws that entry);
- JSON lines: objects with the same fields (``labels`` may be a list);
- plain: one hash a line, ``#`` comments, all of the ``signal_type`` option's type.

An entry's external id is its ``external_id`` field, else its value (hashed when longer than
200 characters), so that the same hash in the next version of the list is the same entry.

The file is the whole list (option ``mode``, default ``full``): once a new version has been
read to its end, the entries the list no longer holds are withdrawn, as an entry marked
``removed`` is, and one that comes back is enabled again. A version with no entry at all
withdraws nothing (an emptied file is far likelier a publishing fault than a list withdrawn
whole; the exchange logs it). ``mode=append`` is for lists published as additions: only
``removed`` withdraws.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from takedown.exchanges import bounded
from takedown.exchanges.base import (
    ExchangeAuthError,
    ExchangeError,
    ExchangeKind,
    ExchangeSettings,
    ExchangeUnavailable,
    FeedEntry,
    FeedPage,
    register,
)
from takedown.matching.banks import canonical_value
from takedown.signals import InvalidSignal

log = logging.getLogger("takedown.exchanges")

FORMATS = ("csv", "jsonl", "plain")
MODES = ("full", "append")
DEFAULT_PAGE = 10_000
MAX_PAGE = 100_000
_TRUE = {"1", "true", "yes", "removed"}


def require_https(url: str, option: str = "url") -> str:
    """An exchange URL's shape: https:// (plain http:// is let through here only for
    ``exchanges.guard`` to refuse unless webhook_allow_networks names its address: a local
    stand-in). Where it may point is the guard's to decide, when added and at each fetch."""
    parts = urlsplit(url)
    if parts.scheme in ("https", "http") and parts.hostname:
        return url
    raise ValueError(f"{option} must be an https:// URL")


def raise_for_status(response: httpx.Response, what: str) -> None:
    """Map an exchange's HTTP answer to the exchange errors (never echoing credentials)."""
    status = response.status_code
    if status < 400:
        return
    if status in (401, 403):
        raise ExchangeAuthError(f"{what} refused the credentials (HTTP {status})")
    if status == 429 or status >= 500:
        raise ExchangeUnavailable(
            f"{what} answered HTTP {status}",
            retry_after=retry_after(response),
            code="exchange_rate_limited" if status == 429 else "exchange_unavailable",
        )
    raise ExchangeError(f"{what} answered HTTP {status}", code=f"exchange_http_{status}")


def retry_after(response: httpx.Response) -> float | None:
    raw = response.headers.get("retry-after", "").strip()
    try:
        return max(0.0, float(raw)) if raw else None
    except ValueError:
        return None  # an HTTP date: the back-off's own schedule applies


@dataclass(frozen=True)
class _Checkpoint:
    etag: str = ""
    line: int = 0
    done: bool = False
    version: str = ""  # the snapshot this read marks entries with (the ETag, else per read)
    entries: int = 0  # entries of that version written so far

    @classmethod
    def parse(cls, raw: str | None) -> _Checkpoint:
        if not raw:
            return cls()
        try:
            data = json.loads(raw)
            return cls(
                str(data["etag"]),
                int(data["line"]),
                bool(data["done"]),
                str(data.get("version", "")),
                int(data.get("entries", 0)),
            )
        except (ValueError, KeyError, TypeError):
            return cls()

    def dump(self) -> str:
        return json.dumps(
            {
                "etag": self.etag,
                "line": self.line,
                "done": self.done,
                "version": self.version,
                "entries": self.entries,
            }
        )


def _external_id(signal_type: str, value: str, given: str) -> str:
    if given:
        return given
    if len(value) <= 200:
        return value
    return "sha256:" + hashlib.sha256(f"{signal_type}:{value}".encode()).hexdigest()


def _labels(raw: object) -> tuple[str, ...]:
    if isinstance(raw, list):
        return tuple(str(v).strip() for v in raw if str(v).strip())
    if raw is None:
        return ()
    text = str(raw)
    return tuple(part.strip() for part in text.replace(";", ",").split(",") if part.strip())


def _entry(fields: Mapping[str, object]) -> FeedEntry:
    signal_type = str(fields.get("signal_type") or "").strip().lower()
    if not signal_type:
        raise InvalidSignal("signal_type is missing")
    value = canonical_value(signal_type, str(fields.get("value") or ""))
    removed = fields.get("removed")
    return FeedEntry(
        external_id=_external_id(signal_type, value, str(fields.get("external_id") or "").strip()),
        signal_type=signal_type,
        value=value,
        labels=_labels(fields.get("labels", fields.get("label"))),
        removed=removed is True or str(removed or "").strip().lower() in _TRUE,
    )


class HashListClient:
    def __init__(self, settings: ExchangeSettings, token: str, http: httpx.Client) -> None:
        options = settings.options
        self.url = require_https(options.get("url", ""))
        self.format = options.get("format") or _format_of(self.url)
        if self.format not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}")
        self.signal_type = options.get("signal_type", "").strip().lower()
        if self.format == "plain" and not self.signal_type:
            raise ValueError("a plain hash list needs the signal_type option (e.g. pdq)")
        self.page_size = int(options.get("page_size") or DEFAULT_PAGE)
        if not 1 <= self.page_size <= MAX_PAGE:
            raise ValueError(f"page_size must be 1..{MAX_PAGE}")
        self.mode = options.get("mode") or "full"
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        self.name = settings.name
        self.token = token
        self.http = http

    def fetch(self, checkpoint: str | None) -> Iterator[FeedPage]:
        state = _Checkpoint.parse(checkpoint)
        headers = {"Accept": "text/csv, application/x-ndjson, text/plain", **bounded.IDENTITY}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if state.done and state.etag:
            headers["If-None-Match"] = state.etag
        what = f"hash list {self.name!r}"
        try:
            with self.http.stream("GET", self.url, headers=headers) as response:
                if response.status_code == 304:
                    return
                raise_for_status(response, what)
                etag = response.headers.get("etag", "")
                resumed = not state.done and bool(etag) and etag == state.etag
                start = state if resumed else _Checkpoint(etag, 0, False, _version(etag), 0)
                yield from self._pages(bounded.lines(response, what), start)
        except httpx.TransportError as exc:
            raise ExchangeUnavailable(f"{what}: {type(exc).__name__}") from None

    def _pages(self, lines: Iterator[str], start: _Checkpoint) -> Iterator[FeedPage]:
        """Pages from line ``start.line`` on; in ``full`` mode each marked with the version, the
        last one completing it (unless the version held no entry)."""
        batch: list[FeedEntry] = []
        consumed = 0
        bad = 0
        entries = start.entries
        # a read resumed from a checkpoint written before versions were marked has none
        snapshot = start.version if self.mode == "full" and start.version else None

        def checkpoint(line: int, done: bool) -> str:
            return _Checkpoint(start.etag, line, done, start.version, entries).dump()

        for consumed, fields in enumerate(self._rows(lines), start=1):
            if consumed <= start.line or fields is None:
                continue
            try:
                batch.append(_entry(fields))
            except InvalidSignal:
                bad += 1
                continue
            entries += 1
            if len(batch) >= self.page_size:
                yield FeedPage(batch, checkpoint(consumed, False), True, snapshot)
                batch = []
        if bad:
            log.warning("hash list lines skipped", extra={"exchange": self.name, "lines": bad})
        if snapshot is not None and not entries:
            log.warning(
                "hash list version holds no entry: nothing withdrawn",
                extra={"exchange": self.name},
            )
        complete = snapshot is not None and entries > 0
        yield FeedPage(batch, checkpoint(consumed, True), False, snapshot, complete)

    def _rows(self, lines: Iterator[str]) -> Iterator[Mapping[str, object] | None]:
        """One item per data line (None for a line that holds no entry), so that line counts
        stay stable across a resume."""
        if self.format == "plain":
            for line in lines:
                value = line.strip()
                yield (
                    {"signal_type": self.signal_type, "value": value}
                    if value and not value.startswith("#")
                    else None
                )
        elif self.format == "jsonl":
            for line in lines:
                try:
                    record = json.loads(line) if line.strip() else None
                except json.JSONDecodeError:
                    record = None
                yield record if isinstance(record, dict) else None
        else:
            reader = csv.reader(lines)
            header = [h.strip().lower() for h in next(reader, [])]
            if header[:2] != ["signal_type", "value"]:
                raise ExchangeError(
                    f"hash list {self.name!r}: the CSV header must start with signal_type,value",
                    code="hash_list_bad_header",
                )
            for row in reader:
                yield dict(zip(header, row, strict=False)) if any(row) else None


def _version(etag: str) -> str:
    """What a read's entries are marked with: the file's ETag (the same version resumes under
    it), else a new mark for each read (a file served without one is read whole each time)."""
    return etag[:200] if etag else f"read:{uuid.uuid4().hex}"


def _format_of(url: str) -> str:
    path = urlsplit(url).path.lower()
    if path.endswith(".csv"):
        return "csv"
    if path.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    return "plain"


def _build(
    settings: ExchangeSettings, credentials: Mapping[str, str], http: httpx.Client
) -> HashListClient:
    return HashListClient(settings, credentials.get("token", ""), http)


KIND = register(
    ExchangeKind(
        name="hash_list",
        title="Hash list URL (CSV, JSON lines or plain text over HTTPS)",
        credential_fields=("token",),
        option_fields=("url", "format", "signal_type", "page_size", "mode"),
        build=_build,
        required_options=("url",),
    )
)
