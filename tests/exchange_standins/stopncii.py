"""A local stand-in for StopNCII.org's hash API (``https://api.stopncii.org/v1``), as
python-threatexchange's ``StopNCIIAPI`` speaks it.

- Every call needs ``Ocp-Apim-Subscription-Key`` and the endpoint's ``x-functions-key``
  (401 otherwise, as Azure API Management answers).
- ``GET /FetchHashes?startTimestamp=&pageSize=&nextPageToken=``: the hash records modified at or
  after ``startTimestamp``, oldest first, ``pageSize`` a page, as ``{count, nextPageToken,
  nextSetTimestamp, hasMoreRecords, hashRecords}``; a record is ``{lastModtimestamp, signalType,
  hashValue, hashStatus, caseNumbers, CSPFeedbacks}``, a withdrawn case keeps its record with
  ``hashStatus`` Withdrawn. ``nextSetTimestamp`` is where the next set starts: the newest
  modification in this set, on every page of it (python-threatexchange's own test data has it
  on the first page already), so it is no checkpoint before the set is finished.
- ``POST /SubmitFeedback`` ``{count, hashFeedbacks: [{hashValue, feedbackValue, tags}]}``,
  recorded in ``feedback``.
- Scripted failures of FetchHashes (``faults``).
"""

from __future__ import annotations

import base64
import itertools
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from tests.exchange_standins.common import Answer, FeedFaults, Request, json_answer, serve


@dataclass
class HashRecord:
    signal_type: str  # "ImagePDQ", "VideoMD5", ...
    value: str
    modified: int
    status: str = "Active"
    cases: dict[str, str] = field(default_factory=dict)
    feedbacks: list[dict[str, Any]] = field(default_factory=list)
    seq: int = 0

    def json(self) -> dict[str, Any]:
        return {
            "lastModtimestamp": self.modified,
            "signalType": self.signal_type,
            "hashValue": self.value,
            "hashStatus": self.status,
            "caseNumbers": self.cases,
            "CSPFeedbacks": self.feedbacks,
        }


@dataclass
class StopnciiStandin:
    subscription_key: str = "sub-key"
    fetch_key: str = "fetch-key"
    feedback_key: str = "feedback-key"
    faults: FeedFaults = field(default_factory=FeedFaults)
    feedback: list[dict[str, Any]] = field(default_factory=list)
    fetch_requests: list[dict[str, str]] = field(default_factory=list)
    _records: dict[tuple[str, str], HashRecord] = field(default_factory=dict)
    _seq: Iterator[int] = field(default_factory=itertools.count)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, record: HashRecord) -> HashRecord:
        """Add or replace a record (StopNCII's records are snapshots keyed by type and hash)."""
        record.seq = next(self._seq)
        if not record.cases:
            record.cases = {f"case-{record.seq}": record.status}
        with self._lock:
            self._records[(record.signal_type, record.value)] = record
        return record

    def withdraw(self, signal_type: str, value: str, at: int) -> None:
        """The person withdrew their case: the record stays, marked Withdrawn."""
        with self._lock:
            record = self._records[(signal_type, value)]
            record.status = "Withdrawn"
            record.cases = {case: "Withdrawn" for case in record.cases}
            record.modified = at
            record.seq = next(self._seq)

    def handle(self, request: Request) -> Answer:
        endpoint = request.path.rstrip("/").rsplit("/", 1)[-1]
        keys = {"FetchHashes": self.fetch_key, "SubmitFeedback": self.feedback_key}
        if endpoint not in keys:
            return json_answer(404, {"statusCode": 404, "message": "Resource not found"})
        if request.headers.get("ocp-apim-subscription-key") != self.subscription_key:
            return json_answer(
                401,
                {
                    "statusCode": 401,
                    "message": "Access denied due to invalid subscription key. "
                    "Make sure to provide a valid key for an active subscription.",
                },
            )
        if request.headers.get("x-functions-key") != keys[endpoint]:
            return json_answer(401, {"statusCode": 401, "message": "Unauthorized"})
        if endpoint == "FetchHashes" and request.method == "GET":
            return self._fetch(request.query)
        if endpoint == "SubmitFeedback" and request.method == "POST":
            body = json.loads(request.body)
            if body.get("count") != len(body.get("hashFeedbacks", [])):
                return json_answer(400, {"message": "count does not match hashFeedbacks"})
            self.feedback.extend(body["hashFeedbacks"])
            return json_answer(200, {"count": body["count"]})
        return json_answer(405, {"message": "Method not allowed"})

    def _fetch(self, query: dict[str, str]) -> Answer:
        fault = self.faults.next_fault()
        if fault is not None:
            return fault
        self.fetch_requests.append(dict(query))
        try:
            start = int(query.get("startTimestamp", "0"))
            size = int(query.get("pageSize", "800"))
            offset = _offset(query.get("nextPageToken", ""), start)
        except ValueError:
            return json_answer(400, {"message": "bad startTimestamp, pageSize or nextPageToken"})
        with self._lock:
            found = sorted(
                (r for r in self._records.values() if r.modified >= start),
                key=lambda r: (r.modified, r.seq),
            )
            page = found[offset : offset + size]
            records = [r.json() for r in page]
        more = offset + size < len(found)
        newest = max([start, *(r.modified for r in found)])  # where the next set starts
        return json_answer(
            200,
            {
                "count": len(records),
                "nextPageToken": _token(start, offset + size) if more else None,
                "nextSetTimestamp": newest,
                "hasMoreRecords": more,
                "hashRecords": records,
            },
        )


def _token(start: int, offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps([start, offset]).encode()).decode()


def _offset(token: str, start: int) -> int:
    if not token:
        return 0
    try:
        token_start, offset = json.loads(base64.urlsafe_b64decode(token.encode()))
    except Exception:
        raise ValueError("bad token") from None
    if token_start != start:  # a token belongs to the set it was made for
        raise ValueError("token of another set")
    return int(offset)


@contextmanager
def running(standin: StopnciiStandin) -> Iterator[str]:
    """Serve the stand-in; yields the base URL (StopNCII's ``.../v1``) for the ``url`` option."""
    with serve(standin.handle) as url:
        yield url + "/v1"
