"""StopNCII.org, through python-threatexchange's ``StopNCIIAPI`` (``FetchHashes``,
``SubmitFeedback``).

The client's calls are used as they are, with takedown's timeouts instead of its retry loop. The
fetch loop is takedown's own rather than pytx's ``StopNCIISignalExchangeAPI.fetch_iter``, which
never drops a withdrawn hash (it compares the hash value, not its status, with Withdrawn). A hash
whose case is withdrawn or deleted disables its bank entry; StopNCII keys a hash by its type and
value, so the value is the entry's external id. A checkpoint is the start of the set of records
under way and, within it, StopNCII's page token; a finished set moves on to its
``nextSetTimestamp``. Sharing back is feedback on StopNCII's hashes that matched: Blocked for a
confirmed match, NotBlocked for a withdrawn confirmation.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace

import httpx
import requests
from threatexchange.exchanges.clients.stopncii import api

from takedown.exchanges.base import (
    ExchangeError,
    ExchangeKind,
    ExchangeSettings,
    FeedEntry,
    FeedPage,
    SharedEntry,
    ShareResult,
    register,
)
from takedown.exchanges.hash_list import require_https
from takedown.exchanges.pytx_http import (
    Timeout,
    canonical_entry,
    log_skipped,
    page_size,
    requests_timeout,
    session,
    translated_errors,
)

NAME = "StopNCII"

SIGNAL_TYPES: Mapping[api.StopNCIISignalType, str] = {
    api.StopNCIISignalType.ImagePDQ: "pdq",
    api.StopNCIISignalType.VideoMD5: "md5",
}
STOPNCII_TYPES = {v: k for k, v in SIGNAL_TYPES.items()}
GONE = frozenset({api.StopNCIICaseStatus.Withdrawn, api.StopNCIICaseStatus.Deleted})
PAGE_SIZE = 800  # pytx's default
MAX_PAGE_SIZE = 1000


class StopNCIIAPI(api.StopNCIIAPI):
    """pytx's client with takedown's timeouts and no retries."""

    def __init__(
        self,
        subscription_key: str,
        fetch_function_key: str,
        feedback_function_key: str,
        base_url: str | None,
        timeout: Timeout,
    ) -> None:
        keys = {api.StopNCIIEndpoint.SubmitFeedback: feedback_function_key}
        super().__init__(
            subscription_key,
            fetch_function_key,
            {k: v for k, v in keys.items() if v},
            base_url_override=base_url.rstrip("/") if base_url else None,
        )
        self._timeout = timeout

    def _get_session(self, endpoint: api.StopNCIIEndpoint) -> requests.Session:
        key = self._function_keys.get(endpoint)
        if not key:
            raise ExchangeError(
                f"no StopNCII function key for {endpoint.value}; add it to the credentials",
                code="bad_credentials",
            )
        s = session(self._base_url, self._timeout)
        s.headers.update(
            {"x-functions-key": key, "Ocp-Apim-Subscription-Key": self._subscription_key}
        )
        return s


TOKEN_TTL_S = 3600  # StopNCII's page tokens are "not valid over long periods of time"


@dataclass(frozen=True)
class Checkpoint:
    """Where a fetch resumes: the set of records from ``start`` on, and within it, while the set
    is under way, StopNCII's page token (taken at ``at``). Only a finished set moves ``start``
    on, to StopNCII's ``nextSetTimestamp``: a set's pages are not known to come in time order,
    so a timestamp taken mid-set could skip records."""

    start: int = api.StopNCIIAPI.DEFAULT_START_TIME
    page: str = ""
    at: int = 0

    def encode(self) -> str:
        data: dict[str, object] = {"from": self.start}
        if self.page:
            data |= {"page": self.page, "at": self.at}
        return json.dumps(data)

    @classmethod
    def decode(cls, checkpoint: str | None) -> Checkpoint:
        if not checkpoint:
            return cls()
        try:
            data = json.loads(checkpoint)
            return cls(int(data["from"]), str(data.get("page") or ""), int(data.get("at") or 0))
        except (ValueError, KeyError, TypeError, AttributeError):
            raise ExchangeError(
                "the stored StopNCII checkpoint is not readable; reset the exchange's checkpoint",
                code="bad_checkpoint",
            ) from None


def entries_of(records: Sequence[api.StopNCIIHashRecord]) -> tuple[list[FeedEntry], int]:
    """Feed entries for StopNCII's records (types takedown keeps), and how many malformed hashes
    were skipped. The external id is the hash itself: StopNCII has no other id for it."""
    entries: list[FeedEntry] = []
    skipped = 0
    for record in records:
        signal_type = SIGNAL_TYPES.get(record.signalType)
        if signal_type is None:
            continue
        labels = tuple(sorted({tag for fb in record.CSPFeedbacks for tag in fb.tags}))
        entry = canonical_entry("", signal_type, record.hashValue, labels)
        if entry is None:
            skipped += 1
            continue
        removed = record.hashStatus in GONE
        entries.append(replace(entry, external_id=entry.value, removed=removed))
    return entries, skipped


class StopNCIIClient:
    def __init__(self, api_client: StopNCIIAPI, *, page_size: int = PAGE_SIZE) -> None:
        self.api = api_client
        self.page_size = page_size

    def fetch(self, checkpoint: str | None) -> Iterator[FeedPage]:
        state = Checkpoint.decode(checkpoint)
        start = state.start
        fresh = state.page and time.time() - state.at < TOKEN_TTL_S
        token = state.page if fresh else ""
        while True:
            response = self._page(start, token)
            if response is None:  # the stored token was refused: the set again, from its start
                token = ""
                continue
            entries, skipped = entries_of(response.hashRecords)
            log_skipped(NAME, skipped)
            more = response.hasMoreRecords and bool(response.nextPageToken)
            token = (response.nextPageToken or "") if more else ""
            position = (
                Checkpoint(start, token, int(time.time()))
                if more
                else Checkpoint(max(start, response.nextSetTimestamp))
            )
            yield FeedPage(entries, position.encode(), more)
            if not more:
                return

    def _page(self, start: int, token: str) -> api.FetchHashesResponse | None:
        """One FetchHashes call; None when a resumed page token is refused (a 4xx other than
        the credentials'), so that the caller starts the set again without it."""
        try:
            with translated_errors(NAME):
                return self.api.fetch_hashes(
                    page_size=self.page_size, start_timestamp=start, next_page=token
                )
        except ExchangeError as exc:
            if token and exc.code.startswith("exchange_http_4"):
                return None
            raise

    def share(self, entries: Sequence[SharedEntry]) -> ShareResult:
        """Feedback on hashes StopNCII keys by their value: Blocked when a reviewer confirmed
        the match, NotBlocked when the confirmation was withdrawn. What is sent at all is the
        sharing settings' choice (per category, with this exchange as the target)."""
        feedbacks: dict[tuple[api.StopNCIISignalType, str], api.StopNCIICSPFeedback] = {}
        rejected = 0
        for entry in entries:
            stopncii_type = STOPNCII_TYPES.get(entry.signal_type)
            if stopncii_type is None:
                rejected += 1
                continue
            value = (
                api.StopNCIICSPFeedbackValue.NotBlocked
                if entry.removed
                else api.StopNCIICSPFeedbackValue.Blocked
            )
            feedbacks[(stopncii_type, entry.external_id or entry.value)] = api.StopNCIICSPFeedback(
                value, {entry.category} if entry.category else set()
            )
        if feedbacks:
            with translated_errors(NAME):
                self.api.submit_feedbacks(feedbacks)
        detail = (
            f"{rejected} not sent: StopNCII takes feedback on PDQ and MD5 hashes only"
            if rejected
            else ""
        )
        return ShareResult(len(feedbacks), rejected, detail)


def build(
    settings: ExchangeSettings, credentials: Mapping[str, str], http: httpx.Client
) -> StopNCIIClient:
    subscription = credentials.get("subscription_key", "")
    fetch_key = credentials.get("fetch_function_key", "")
    if not (api.is_valid_key(subscription) and api.is_valid_key(fetch_key)):
        raise ExchangeError(
            "StopNCII needs a subscription_key and a fetch_function_key", code="bad_credentials"
        )
    return StopNCIIClient(
        StopNCIIAPI(
            subscription,
            fetch_key,
            credentials.get("feedback_function_key", ""),
            require_https(settings.options["url"]) if settings.options.get("url") else None,
            requests_timeout(http),
        ),
        page_size=page_size(settings.options, PAGE_SIZE, MAX_PAGE_SIZE),
    )


KIND = register(
    ExchangeKind(
        name="stopncii",
        title="StopNCII.org",
        credential_fields=("subscription_key", "fetch_function_key", "feedback_function_key"),
        option_fields=("url", "page_size"),
        build=build,
    )
)
