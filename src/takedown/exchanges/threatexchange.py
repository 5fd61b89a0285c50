"""Meta ThreatExchange (Graph API), through python-threatexchange's ``ThreatExchangeAPI``:
``/{privacy_group}/threat_updates`` to fetch, ``/threat_descriptors`` to share back.

pytx's cursor (``get_threat_updates``) and descriptor upload are used as they are; the wrapper
gives them takedown's timeouts (pytx's GET has none) and Graph API errors as exchange errors,
whose messages never carry the access token pytx puts in every URL. Its fetch loop is takedown's
own: pytx's checkpoints the newest ``last_updated`` seen after each page, but updates do not come
in time order, so resuming from there could skip some. Here a fetch fixes its range
[since, until) when it starts, and a checkpoint taken mid-range keeps the Graph API's ``after``
cursor (never the token), so a resumed fetch continues the same range; a finished range moves
``since`` to ``until``. An indicator's id is its external id; ``should_delete`` (or no
descriptors left, facebook/ThreatExchange#834), or every descriptor marked NON_MALICIOUS,
disables its entry.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import requests
from threatexchange.exchanges.clients.fb_threatexchange.api import (
    ThreatExchangeAPI,
    is_valid_app_token,
)
from threatexchange.exchanges.clients.fb_threatexchange.threat_updates import ThreatUpdateJSON

from takedown.exchanges.base import (
    ExchangeAuthError,
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
    GRAPH_AUTH_CODES,
    Timeout,
    canonical_entry,
    log_skipped,
    page_size,
    requests_timeout,
    same_origin,
    session,
    translated_errors,
)

NAME = "ThreatExchange"
PAGE_SIZE = 500
MAX_PAGE_SIZE = 1000

# ThreatExchange indicator type -> takedown signal type; (type, None) needs no tag, otherwise
# the indicator must carry a media_type_* tag (pytx's rule for generic file digests)
INDICATOR_TYPES: Mapping[str, tuple[str, bool]] = {
    "HASH_PDQ": ("pdq", False),
    "HASH_VIDEO_MD5": ("md5", False),
    "HASH_MD5": ("md5", True),
    "HASH_VIDEO_SHA256": ("sha256", False),
    "HASH_SHA256": ("sha256", True),
}
UPLOAD_TYPES: Mapping[str, str] = {"pdq": "HASH_PDQ", "md5": "HASH_MD5", "sha256": "HASH_SHA256"}


class GraphAPI(ThreatExchangeAPI):
    """pytx's client with takedown's timeouts and no retries."""

    def __init__(self, token: str, base_url: str | None, timeout: Timeout) -> None:
        super().__init__(token, endpoint_override=base_url.rstrip("/") if base_url else None)
        self._timeout = timeout

    def _get_session(self) -> requests.Session:
        return session(self._base_url, self._timeout)

    def get_json_from_url(  # type: ignore[no-untyped-def]  # pytx's signature
        self, url, params=None, *, json_obj_hook=None
    ):
        """pytx's GET, through the session (pytx's own call bypasses it, so has no timeout).
        Paging URLs come from the server: followed only on the configured scheme and host."""
        if not same_origin(url, self._base_url):
            raise ExchangeError(
                "ThreatExchange sent a paging URL on another host; not followed",
                code="exchange_bad_response",
            )
        with self._get_session() as s:
            response = s.get(url, params=params or {})
            response.raise_for_status()
            return response.json(object_hook=json_obj_hook)


@dataclass(frozen=True)
class Checkpoint:
    since: int | None  # updates at or after this (None: from the beginning)
    until: int | None = None  # set while a range is under way
    after: str | None = None  # the Graph API cursor within that range

    def encode(self) -> str:
        data = {"since": self.since, "until": self.until, "after": self.after}
        return json.dumps({k: v for k, v in data.items() if v is not None})

    @classmethod
    def decode(cls, checkpoint: str | None) -> Checkpoint:
        if not checkpoint:
            return cls(None)
        try:
            data = json.loads(checkpoint)
            until = data.get("until")
            return cls(
                int(data["since"]) if data.get("since") is not None else None,
                int(until) if until is not None else None,
                str(data["after"]) if data.get("after") else None,
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            raise ExchangeError(
                "the stored ThreatExchange checkpoint is not readable; reset the exchange's "
                "checkpoint",
                code="bad_checkpoint",
            ) from None


def _tags(update: ThreatUpdateJSON) -> list[str]:
    tags: list[str] = []
    for descriptor in update.raw_json.get("descriptors", {}).get("data", []):
        raw = descriptor.get("tags") or []
        if isinstance(raw, dict):  # the Graph API's edge form
            raw = [tag.get("text", "") for tag in raw.get("data", [])]
        tags.extend(str(tag) for tag in raw if tag)
    return tags


def _withdrawn(update: ThreatUpdateJSON) -> bool:
    if update.should_delete:
        return True
    descriptors = update.raw_json.get("descriptors", {}).get("data", [])
    return all(d.get("status") == "NON_MALICIOUS" for d in descriptors)


def entries_of(updates: Sequence[ThreatUpdateJSON]) -> tuple[list[FeedEntry], int]:
    """Feed entries for a page of threat updates, and how many malformed hashes were skipped."""
    entries: list[FeedEntry] = []
    skipped = 0
    for update in updates:
        mapped = INDICATOR_TYPES.get(update.threat_type)
        if mapped is None:
            continue
        signal_type, needs_media_tag = mapped
        tags = _tags(update)
        removed = _withdrawn(update)
        if needs_media_tag and not removed and not any(t.startswith("media_type_") for t in tags):
            continue
        labels = tuple(sorted(set(tags)))
        entry = canonical_entry(str(update.id), signal_type, update.indicator, labels)
        if entry is None:
            skipped += 1
            continue
        entries.append(
            FeedEntry(entry.external_id, signal_type, entry.value, labels, removed=True)
            if removed
            else entry
        )
    return entries, skipped


def _after(next_url: str | None) -> str | None:
    """The ``after`` cursor of a Graph API ``paging.next`` URL (the URL itself holds the token)."""
    if not next_url:
        return None
    return parse_qs(urlsplit(next_url).query).get("after", [None])[-1]


class ThreatExchangeClient:
    def __init__(
        self,
        api_client: GraphAPI,
        privacy_group: int,
        *,
        share_level: str = "AMBER",
        page_size: int = PAGE_SIZE,
    ) -> None:
        self.api = api_client
        self.page_size = page_size
        self.privacy_group = privacy_group
        self.share_level = share_level

    def fetch(self, checkpoint: str | None) -> Iterator[FeedPage]:
        state = Checkpoint.decode(checkpoint)
        until = state.until or int(time.time())
        cursor = self.api.get_threat_updates(
            self.privacy_group,
            start_time=state.since,
            stop_time=until,
            types=tuple(INDICATOR_TYPES),  # only what becomes a bank entry
            page_size=self.page_size,
            fields=ThreatUpdateJSON.te_threat_updates_fields(),
            decode_fn=ThreatUpdateJSON,
        )
        if state.after:
            cursor.params["after"] = state.after
        while not cursor.done:
            with translated_errors(NAME, graph=True):
                updates = cursor.next()  # type: ignore[no-untyped-call]
            entries, skipped = entries_of(updates)
            log_skipped(NAME, skipped)
            # mid-range, the position is the `after` cursor; a next URL without one (another
            # paging style) resumes the range from its start, which is safe, only slower
            done = cursor.done
            position = (
                Checkpoint(until)
                if done
                else Checkpoint(state.since, until, _after(cursor.next_url))
            )
            yield FeedPage(entries, position.encode(), more=not done)

    def share(self, entries: Sequence[SharedEntry]) -> ShareResult:
        """Upload each confirmed hash as a descriptor in the privacy group (status MALICIOUS,
        tagged with its category). Withdrawn confirmations are not sent: takedown does not
        keep the descriptor ids it would have to delete."""
        accepted = rejected = 0
        for entry in entries:
            indicator_type = UPLOAD_TYPES.get(entry.signal_type)
            if indicator_type is None or entry.removed:
                rejected += 1
                continue
            tags = ["takedown", *([entry.category] if entry.category else [])]
            params: dict[str, Any] = {
                "indicator": entry.value,
                "type": indicator_type,
                "description": f"confirmed {entry.category or 'harmful'} material (takedown)",
                "share_level": self.share_level,
                "status": "MALICIOUS",
                "privacy_type": "HAS_PRIVACY_GROUP",
                "privacy_members": str(self.privacy_group),
                "tags": ",".join(tags),
            }
            with translated_errors(NAME, graph=True):
                error, _exc, body = self.api.upload_threat_descriptor(  # type: ignore[no-untyped-call]
                    params, False, False
                )
            if _upload_failed(error, body):
                rejected += 1
            else:
                accepted += 1
        detail = (
            f"{rejected} not sent: ThreatExchange takes new PDQ, MD5 and SHA-256 descriptors "
            "only, or refused them"
            if rejected
            else ""
        )
        return ShareResult(accepted, rejected, detail)


def _upload_failed(error: object, body: object) -> bool:
    """pytx hands back the Graph API's answer without raising: an auth error stops the share,
    any other error rejects this one descriptor."""
    if error is not None:
        return True
    failure = body.get("error") if isinstance(body, dict) else None
    if not isinstance(failure, dict):
        return not (isinstance(body, dict) and (body.get("success") or body.get("id")))
    if failure.get("code") in GRAPH_AUTH_CODES:
        raise ExchangeAuthError(
            f"{NAME} refused the access token (Graph API error {failure.get('code')}); "
            "change it and share again"
        )
    return True


def build(
    settings: ExchangeSettings, credentials: Mapping[str, str], http: httpx.Client
) -> ThreatExchangeClient:
    token = credentials.get("access_token", "")
    if not is_valid_app_token(token):
        raise ExchangeError(
            "ThreatExchange needs an app access token (<app id>|<secret>)", code="bad_credentials"
        )
    options = settings.options
    try:
        privacy_group = int(options.get("privacy_group", ""))
    except ValueError:
        raise ExchangeError(
            "privacy_group is the numeric id of a ThreatExchange privacy group", code="bad_option"
        ) from None
    return ThreatExchangeClient(
        GraphAPI(
            token,
            require_https(options["url"]) if options.get("url") else None,
            requests_timeout(http),
        ),
        privacy_group,
        share_level=options.get("share_level") or "AMBER",
        page_size=page_size(options, PAGE_SIZE, MAX_PAGE_SIZE),
    )


KIND = register(
    ExchangeKind(
        name="threatexchange",
        title="Meta ThreatExchange",
        credential_fields=("access_token",),
        option_fields=("privacy_group", "url", "share_level", "page_size"),
        build=build,
        required_options=("privacy_group",),
    )
)
