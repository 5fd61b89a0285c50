"""NCMEC hash sharing (XML API v2), through python-threatexchange's ``NCMECHashAPI``.

pytx's client and its time-range flow control (``NCMECSignalExchangeAPI.fetch_iter``: NCMEC
answers a range in no particular time order, so only a finished range or a paging URL is a safe
place to resume) are used as they are. The wrapper adds what takedown needs: a base URL besides
NCMEC's fixed environments (a stand-in in the tests, a proxy in production), takedown's timeouts
instead of pytx's retry loop, ranges written in UTC (pytx writes local time marked ``Z``), and
errors the fetch engine understands. An entry's id is ``<member id>-<entry id>`` as pytx keys
it; each fingerprint takedown knows (PDQ, MD5) becomes one bank entry, and a deleted entry
disables all of them. Sharing back is NCMEC's feedback on its own entries: an upvote for a
confirmed match, a downvote for a withdrawn confirmation.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime

import httpx
import requests
from threatexchange.exchanges.clients.ncmec import hash_api as api
from threatexchange.exchanges.impl.ncmec_api import (
    NCMECCheckpoint,
    NCMECCollabConfig,
    NCMECSignalExchangeAPI,
    _NCMECPagingInfo,
)

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
    requests_timeout,
    session,
    translated_errors,
    with_more,
)

NAME = "NCMEC"

FINGERPRINT_SIGNAL_TYPES: Mapping[str, str] = {"pdq": "pdq", "md5": "md5"}
"""NCMEC's fingerprint element -> takedown signal type (SHA1, PhotoDNA and the video hashes
have no takedown signal type and are left out)."""

FEEDBACK_TYPES: Mapping[str, api.FingerprintType] = {
    "pdq": api.FingerprintType.pdq,
    "md5": api.FingerprintType.md5,
}


def _utc(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class HashAPI(api.NCMECHashAPI):
    """pytx's client pointed at ``base_url``, with takedown's timeouts and no retries."""

    def __init__(self, user: str, password: str, base_url: str, timeout: Timeout) -> None:
        super().__init__(user, password, api.NCMECEnvironment.Industry)
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout

    def _get_session(self) -> requests.Session:
        s = session(self._base_url, self._timeout)
        s.auth = (self.username, self.password)
        return s

    def get_entries(
        self, *, start_timestamp: int = 0, end_timestamp: int = 0, next_: str = ""
    ) -> api.GetEntriesResponse:
        """pytx's call with the range in UTC (pytx writes local time marked Z), and a page it
        cannot read left to raise as it is (pytx wraps that in a bare Exception holding the
        whole response)."""
        if next_ and (not next_.startswith("/") or next_.startswith("//")):
            # pytx appends ``next`` to the base URL: "@host/..." or "//host" would go elsewhere
            raise ExchangeError(
                "NCMEC sent a paging link that is not a path on its own host; not followed",
                code="exchange_bad_response",
            )
        end_timestamp = end_timestamp or int(time.time())
        params = {"from": _utc(start_timestamp), "to": _utc(end_timestamp)}
        root = self._get(api.NCMECEndpoint.entries, next_=next_, **params)
        return api.GetEntriesResponse.from_xml(api._XMLWrapper(root), int(time.time()))


class _Flow(NCMECSignalExchangeAPI):
    """pytx's flow control over time ranges, fetching with our client."""

    def __init__(self, client: HashAPI) -> None:
        collab = NCMECCollabConfig(name="takedown", environment=api.NCMECEnvironment.Industry)
        super().__init__(collab, client.username, client.password)
        self._client = client

    def get_client(self, environment: api.NCMECEnvironment) -> api.NCMECHashAPI:
        return self._client


def encode_checkpoint(checkpoint: NCMECCheckpoint) -> str:
    paging = checkpoint.paging_info
    data: dict[str, object] = {"from": checkpoint.get_entries_max_ts}
    if paging is not None:
        data |= {"next": paging.paging_url, "to": paging.paging_end_ts, "at": paging.paging_url_ts}
    return json.dumps(data, separators=(",", ":"))


def decode_checkpoint(checkpoint: str | None) -> NCMECCheckpoint | None:
    if not checkpoint:
        return None
    try:
        data = json.loads(checkpoint)
        paging = (
            _NCMECPagingInfo(str(data["next"]), int(data["to"]), int(data["at"]))
            if data.get("next")
            else None
        )
        return NCMECCheckpoint(int(data["from"]), paging)
    except (ValueError, KeyError, TypeError):
        raise ExchangeError(
            "the stored NCMEC checkpoint is not readable; reset the exchange's checkpoint",
            code="bad_checkpoint",
        ) from None


def entries_of(
    updates: Iterable[api.NCMECEntryUpdate | None], only_esp_ids: frozenset[int] = frozenset()
) -> tuple[list[FeedEntry], int]:
    """Feed entries for NCMEC's updates, and how many malformed fingerprints were skipped."""
    entries: list[FeedEntry] = []
    skipped = 0
    for update in updates:
        if update is None:
            continue
        if only_esp_ids and update.member_id not in only_esp_ids:
            continue
        external_id = f"{update.member_id}-{update.id}"
        labels = (update.classification,) if update.classification else ()
        if update.deleted:
            # a deletion names the entry, not its fingerprints: withdraw every one we take
            entries.extend(
                FeedEntry(external_id, signal_type, "", labels, removed=True)
                for signal_type in FINGERPRINT_SIGNAL_TYPES.values()
            )
            continue
        for element, value in update.fingerprints.items():
            signal_type = FINGERPRINT_SIGNAL_TYPES.get(element.lower())
            if signal_type is None:
                continue
            entry = canonical_entry(external_id, signal_type, value, labels)
            if entry is None:
                skipped += 1
            else:
                entries.append(entry)
    return entries, skipped


def parse_external_id(external_id: str | None) -> tuple[int, str] | None:
    """``<member id>-<entry id>`` back to its parts (NCMEC's entry ids may hold dashes)."""
    member, sep, entry = (external_id or "").partition("-")
    if not sep or not member.isdigit() or not entry:
        return None
    return int(member), entry


class NCMECClient:
    """An NCMEC exchange: fetch into a bank; feedback on NCMEC's entries when shared back."""

    def __init__(
        self,
        api_client: HashAPI,
        *,
        only_esp_ids: frozenset[int] = frozenset(),
        downvote_reason: str = "",
    ) -> None:
        self.api = api_client
        self.only_esp_ids = only_esp_ids
        self.downvote_reason = downvote_reason

    def fetch(self, checkpoint: str | None) -> Iterator[FeedPage]:
        return with_more(self._pages(decode_checkpoint(checkpoint)))

    def _pages(self, checkpoint: NCMECCheckpoint | None) -> Iterator[tuple[list[FeedEntry], str]]:
        deltas = _Flow(self.api).fetch_iter([], checkpoint)
        while True:
            with translated_errors(NAME):
                delta = next(deltas, None)
            if delta is None:
                return
            entries, skipped = entries_of(delta.updates.values(), self.only_esp_ids)
            log_skipped(NAME, skipped)
            yield entries, encode_checkpoint(delta.checkpoint)

    def share(self, entries: Sequence[SharedEntry]) -> ShareResult:
        """Upvote NCMEC's entries that reviewers confirmed; downvote withdrawn confirmations.
        NCMEC takes feedback on its own entries only (pytx has no call to submit new ones),
        so an entry needs the ``external_id`` its NCMEC bank entry has; what is sent at all is
        the sharing settings' choice (per category, with this exchange as the target)."""
        accepted = rejected = 0
        for entry in entries:
            fingerprint = FEEDBACK_TYPES.get(entry.signal_type)
            ids = parse_external_id(entry.external_id)
            if fingerprint is None or ids is None:
                rejected += 1
                continue
            member_id, entry_id = ids
            reason = self._downvote_reason(fingerprint) if entry.removed else None
            if entry.removed and reason is None:
                rejected += 1
                continue
            with translated_errors(NAME):
                if reason is None:
                    self.api.submit_upvote(member_id, entry_id, fingerprint)
                else:
                    self.api.submit_feedback(
                        member_id, entry_id, fingerprint, api.FeedbackType.downvote, reason
                    )
            accepted += 1
        detail = (
            f"{rejected} not sent: NCMEC takes feedback on its own PDQ and MD5 entries only"
            if rejected
            else ""
        )
        return ShareResult(accepted, rejected, detail)

    def _downvote_reason(self, fingerprint: api.FingerprintType) -> str | None:
        """The configured reason, else NCMEC's only reason for this type (None when it offers
        several and none was chosen)."""
        if self.downvote_reason:
            return self.downvote_reason
        with translated_errors(NAME):
            reasons = self.api.feedback_reasons(fingerprint)
        return next(iter(reasons)) if len(reasons) == 1 else None


def _esp_ids(raw: str | None) -> frozenset[int]:
    try:
        return frozenset(int(part) for part in (raw or "").replace(" ", "").split(",") if part)
    except ValueError:
        raise ExchangeError(
            "only_esp_ids is a comma-separated list of NCMEC member ids", code="bad_option"
        ) from None


def base_url(options: Mapping[str, str]) -> str:
    """The ``url`` option, else the named NCMEC environment (default: Industry)."""
    if options.get("url"):
        return require_https(options["url"])
    name = options.get("environment") or "Industry"
    try:
        return api.NCMECEnvironment[name].value
    except KeyError:
        known = ", ".join(e.name for e in api.NCMECEnvironment)
        raise ExchangeError(
            f"unknown NCMEC environment {name!r}; known: {known}", code="bad_option"
        ) from None


def build(
    settings: ExchangeSettings, credentials: Mapping[str, str], http: httpx.Client
) -> NCMECClient:
    user, password = credentials.get("user", ""), credentials.get("password", "")
    if not api.is_valid_user_pass(user, password):
        raise ExchangeError("NCMEC needs a user and a password", code="bad_credentials")
    options = settings.options
    return NCMECClient(
        HashAPI(user, password, base_url(options), requests_timeout(http)),
        only_esp_ids=_esp_ids(options.get("only_esp_ids")),
        downvote_reason=options.get("downvote_reason", ""),
    )


KIND = register(
    ExchangeKind(
        name="ncmec",
        title="NCMEC hash sharing",
        credential_fields=("user", "password"),
        option_fields=("environment", "url", "only_esp_ids", "downvote_reason"),
        build=build,
    )
)
