"""A local stand-in for Meta ThreatExchange's Graph API (``https://graph.facebook.com/v26.0``), as
python-threatexchange's ``ThreatExchangeAPI`` speaks it.

- ``access_token`` (``<app id>|<secret>``) on every call; a wrong one gets the Graph API's
  ``400 {"error": {"type": "OAuthException", "code": 190}}``.
- ``GET /{privacy_group}/threat_updates/?start_time=&stop_time=&types=&limit=&fields=``: the
  indicators of those types updated in [start_time, stop_time), in id order (not time
  order), ``limit`` a page, as ``{"data": [{id, indicator, type, last_updated, should_delete,
  descriptors: {data: [{owner, tags, status, added_on, reactions, my_reactions}]}}],
  "paging": {"cursors": {before, after}, "next": <URL with after=>}}``; the last page has no
  ``next``. A deleted indicator comes back
  with ``should_delete`` true and no descriptors.
- ``POST /threat_descriptors/?access_token=&indicator=&type=...`` (pytx's upload), recorded in
  ``uploads``; answers ``{"success": true, "id": ...}``.
- Scripted failures of threat_updates (``faults``): 429, 5xx, or the Graph API's rate-limit
  error (``400 {"error": {"code": 4}}``).
"""

from __future__ import annotations

import base64
import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from tests.exchange_standins.common import Answer, FeedFaults, Request, json_answer, serve

VERSION = "v26.0"
TOKEN = "1234567890|takedown-standin-secret-0123"


def graph_error(status: int, code: int, message: str, kind: str = "OAuthException") -> Answer:
    return json_answer(
        status, {"error": {"message": message, "type": kind, "code": code, "fbtrace_id": "X"}}
    )


INVALID_TOKEN = graph_error(400, 190, "Invalid OAuth access token - Cannot parse access token")
RATE_LIMITED = graph_error(400, 4, "Application request limit reached", "GraphMethodException")


@dataclass
class Indicator:
    id: int
    indicator: str
    type: str  # "HASH_PDQ", "HASH_VIDEO_MD5", "HASH_MD5"...
    last_updated: int
    tags: list[str] = field(default_factory=list)
    status: str = "MALICIOUS"
    owner: int = 4242
    deleted: bool = False

    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "indicator": self.indicator,
            "type": self.type,
            "last_updated": self.last_updated,
            "should_delete": self.deleted,
        }
        if not self.deleted:
            data["descriptors"] = {
                "data": [
                    {
                        "reactions": [],
                        "my_reactions": [],
                        "owner": {"id": str(self.owner)},
                        "tags": list(self.tags),
                        "status": self.status,
                        "added_on": "2024-01-01T00:00:00+0000",
                    }
                ]
            }
        return data


@dataclass
class ThreatExchangeStandin:
    token: str = TOKEN
    privacy_group: int = 1012185296055235
    faults: FeedFaults = field(default_factory=FeedFaults)
    uploads: list[dict[str, str]] = field(default_factory=list)
    update_requests: list[dict[str, str]] = field(default_factory=list)
    base_url: str = ""  # set while serving: the paging URLs are absolute
    _indicators: dict[int, Indicator] = field(default_factory=dict)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(9_000_000))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, indicator: Indicator) -> Indicator:
        with self._lock:
            self._indicators[indicator.id] = indicator
        return indicator

    def delete(self, indicator_id: int, at: int) -> None:
        with self._lock:
            old = self._indicators[indicator_id]
            self._indicators[indicator_id] = Indicator(
                old.id, old.indicator, old.type, at, deleted=True
            )

    def handle(self, request: Request) -> Answer:
        params = dict(request.query)
        if request.method == "POST" and request.body:
            params |= dict(parse_qsl(request.body.decode()))
        if params.get("access_token") != self.token:
            return INVALID_TOKEN
        parts = request.path.strip("/").split("/")
        if parts[:1] != [VERSION]:
            return graph_error(400, 2500, "Unknown path components", "OAuthException")
        if request.method == "GET" and parts[1:] == [str(self.privacy_group), "threat_updates"]:
            return self._updates(params)
        if request.method == "POST" and parts[1:] == ["threat_descriptors"]:
            return self._upload(params)
        return graph_error(400, 100, "Unsupported get request.", "GraphMethodException")

    def _updates(self, params: dict[str, str]) -> Answer:
        fault = self.faults.next_fault()
        if fault is not None:
            return fault
        self.update_requests.append({k: v for k, v in params.items() if k != "access_token"})
        try:
            start = int(params.get("start_time") or 0)
            stop = int(params["stop_time"]) if params.get("stop_time") else None
            limit = int(params.get("limit") or 100)
            after = int(base64.b64decode(params["after"]).decode()) if "after" in params else -1
        except ValueError:
            return graph_error(400, 100, "Invalid parameter", "GraphMethodException")
        types = set(params["types"].split(",")) if params.get("types") else None
        with self._lock:
            found = sorted(
                (
                    i
                    for i in self._indicators.values()
                    if i.last_updated >= start
                    and (stop is None or i.last_updated < stop)
                    and (types is None or i.type in types)
                ),
                key=lambda i: i.id,
            )
        rest = [i for i in found if i.id > after]
        page = rest[:limit]
        body: dict[str, Any] = {"data": [i.json() for i in page]}
        if page:
            cursors = {
                "before": base64.b64encode(str(page[0].id - 1).encode()).decode(),
                "after": base64.b64encode(str(page[-1].id).encode()).decode(),
            }
            body["paging"] = {"cursors": cursors}
            if len(rest) > limit:
                query = {k: v for k, v in params.items() if k != "after"}
                query["after"] = cursors["after"]
                body["paging"]["next"] = (
                    f"{self.base_url}/{VERSION}/{self.privacy_group}/threat_updates/?"
                    + urlencode(query)
                )
        return json_answer(200, body)

    def _upload(self, params: dict[str, str]) -> Answer:
        required = ("indicator", "type", "description", "share_level", "status", "privacy_type")
        missing = [name for name in required if not params.get(name)]
        if missing:
            return graph_error(400, 100, f"missing {','.join(missing)}", "GraphMethodException")
        self.uploads.append({k: v for k, v in params.items() if k != "access_token"})
        return json_answer(200, {"success": True, "id": str(next(self._ids))})


@contextmanager
def running(standin: ThreatExchangeStandin) -> Iterator[str]:
    """Serve the stand-in; yields the Graph API base URL (``.../v26.0``) for the ``url`` option."""
    with serve(standin.handle) as url:
        standin.base_url = url
        yield f"{url}/{VERSION}"
