"""A local stand-in for NCMEC's hash sharing API (XML, v2), as its documentation describes it and
python-threatexchange's ``NCMECHashAPI`` speaks it.

- Basic auth on every call (401 otherwise).
- ``GET /v2/entries?from=&to=``: the entries whose timestamp is in [from, to), in the order they
  were added (not time order, as NCMEC warns), ``size`` a page, as ``<queryResult>`` with
  ``<images>``/``<videos>`` (``count``, ``maxTimestamp``), ``<image>``/``<video>`` with member,
  timestamp, id, classification and fingerprints, ``<deletedImage>``/``<deletedVideo>``
  tombstones (member, id, timestamp), and ``<paging><next>`` = the path of the next page
  (``start``/``size``/``max`` as NCMEC writes them) until the range is exhausted.
- ``GET /v2/status``, ``GET /v2/feedback/{TYPE}/reasons``, and
  ``PUT /v2/entries/{member}/{id}/{TYPE}/feedback`` (``<feedbackSubmission>`` with
  ``<affirmative/>`` or ``<negative><reasonIds><guid>``), recorded in ``feedback``.
- Scripted failures of the entries endpoint (``faults``), e.g. a 429 on the third page.

Synthetic mode (``synthetic_pdq``/``synthetic_md5``) makes entries from their index on the fly
instead of storing them, so a million-entry feed costs the stand-in no memory; run it in its own
process with ``python -m tests.exchange_standins.ncmec --pdq 1000000 --md5 100000``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote
from xml.sax.saxutils import escape

from tests.exchange_standins.common import Answer, FeedFaults, Request, serve

NS = "https://hashsharing.ncmec.org/hashsharing/v2"
XML = "application/xml; charset=utf-8"
REASON_GUID = "01234567-abcd-0123-4567-012345678900"


def ts_text(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_ts(text: str) -> int:
    text = text.strip()
    for fmt in ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ"):
        try:
            return int(datetime.strptime(text, fmt).replace(tzinfo=UTC).timestamp())
        except ValueError:
            continue
    raise ValueError(f"bad timestamp {text!r}")


@dataclass
class NcmecEntry:
    member_id: int
    id: str
    timestamp: int
    fingerprints: dict[str, str] = field(default_factory=dict)  # element -> value
    kind: str = "image"  # or "video"
    classification: str | None = "A1"
    deleted: bool = False

    def xml(self, member_names: dict[int, str]) -> str:
        name = escape(member_names.get(self.member_id, f"Member {self.member_id}"))
        head = (
            f'<member id="{self.member_id}">{name}</member>'
            f"<timestamp>{ts_text(self.timestamp)}</timestamp><id>{escape(self.id)}</id>"
        )
        if self.deleted:
            tag = "deleted" + self.kind.capitalize()
            return f"<{tag}>{head}</{tag}>"
        classification = (
            f"<classification>{escape(self.classification)}</classification>"
            if self.classification
            else ""
        )
        prints = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in self.fingerprints.items())
        return (
            f"<{self.kind}>{head}{classification}<fingerprints>{prints}</fingerprints>"
            f"</{self.kind}>"
        )


def synthetic_pdq(i: int) -> str:
    return hashlib.sha256(f"pdq-{i}".encode()).hexdigest()


def synthetic_md5(i: int) -> str:
    return hashlib.md5(f"md5-{i}".encode(), usedforsecurity=False).hexdigest()


@dataclass
class Feedback:
    member_id: int
    entry_id: str
    fingerprint: str  # "PDQ", "MD5"...
    vote: str  # "affirmative" | "negative"
    reasons: tuple[str, ...] = ()


@dataclass
class NcmecStandin:
    user: str = "esp-user"
    password: str = "esp-secret"
    my_member_id: int = 7
    page_size: int = 1000
    member_names: dict[int, str] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=lambda: {REASON_GUID: "Not CSAM"})
    synthetic_pdq: int = 0  # synthetic mode: this many image entries with a PDQ...
    synthetic_md5: int = 0  # ...and this many video entries with an MD5
    synthetic_start: int = 1_600_000_000  # their timestamps: start + i // per_second
    synthetic_per_second: int = 100_000
    faults: FeedFaults = field(default_factory=FeedFaults)
    paging_faults: list[Answer] = field(default_factory=list)
    feedback: list[Feedback] = field(default_factory=list)
    entry_requests: list[dict[str, str]] = field(default_factory=list)
    _entries: dict[tuple[int, str], NcmecEntry] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- the feed's content -------------------------------------------------------------
    def add(self, entry: NcmecEntry) -> NcmecEntry:
        """Add or replace (an update moves the entry to the end, with its new timestamp)."""
        with self._lock:
            self._entries.pop((entry.member_id, entry.id), None)
            self._entries[(entry.member_id, entry.id)] = entry
        return entry

    def delete(self, member_id: int, entry_id: str, at: int) -> None:
        with self._lock:
            old = self._entries.pop((member_id, entry_id))
            self._entries[(member_id, entry_id)] = NcmecEntry(
                member_id, entry_id, at, kind=old.kind, deleted=True
            )

    def _in_range(self, start: int, end: int) -> Sequence[NcmecEntry]:
        if self.synthetic_pdq or self.synthetic_md5:
            return _SyntheticRange(self, start, end)
        with self._lock:
            return [e for e in self._entries.values() if start <= e.timestamp < end]

    # -- HTTP ---------------------------------------------------------------------------
    def handle(self, request: Request) -> Answer:
        expected = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        if request.headers.get("authorization") != f"Basic {expected}":
            return Answer(
                401,
                b"<error>Unauthorized</error>",
                XML,
                (("WWW-Authenticate", 'Basic realm="hashsharing"'),),
            )
        parts = request.path.strip("/").split("/")
        if request.method == "GET" and parts == ["v2", "status"]:
            return self._xml(
                f'<status xmlns="{NS}"><ipAddress>127.0.0.1</ipAddress><username>'
                f'{escape(self.user)}</username><member id="{self.my_member_id}">takedown'
                "</member></status>"
            )
        if request.method == "GET" and parts == ["v2", "entries"]:
            return self._entries_page(request.query)
        if request.method == "GET" and parts[:2] == ["v2", "feedback"] and parts[3:] == ["reasons"]:
            reasons = "".join(
                f'<reason guid="{g}" name="{escape(n)}" type="{parts[2]}"/>'
                for g, n in self.reasons.items()
            )
            # pytx reads <availableFeedbackReasons> as a child of the document's root
            return self._xml(
                f'<feedbackReasons xmlns="{NS}"><availableFeedbackReasons>{reasons}'
                "</availableFeedbackReasons></feedbackReasons>"
            )
        if request.method == "PUT" and len(parts) == 6 and parts[:2] == ["v2", "entries"]:
            return self._feedback(parts[2], parts[3], parts[4], parts[5], request.body)
        return Answer(404, b"<error>Not Found</error>", XML)

    def _xml(self, body: str) -> Answer:
        return Answer(200, ('<?xml version="1.0" encoding="UTF-8"?>' + body).encode(), XML)

    def _entries_page(self, query: dict[str, str]) -> Answer:
        fault = self.faults.next_fault()
        if fault is None and "start" in query and self.paging_faults:
            fault = self.paging_faults.pop(0)  # mid-feed: while following a next link
        if fault is not None:
            return fault
        self.entry_requests.append(dict(query))
        try:
            start_ts, end_ts = parse_ts(query["from"]), parse_ts(query["to"])
            start = int(query.get("start", "1"))
            size = int(query.get("size", str(self.page_size)))
        except (KeyError, ValueError):
            return Answer(400, b"<error>from and to are required</error>", XML)
        found = self._in_range(start_ts, end_ts)
        page = found[start - 1 : start - 1 + size]
        sections = []
        for kind, tag in (("image", "images"), ("video", "videos")):
            items = [e for e in page if e.kind == kind]
            if not items:
                continue
            body = "".join(e.xml(self.member_names) for e in items)
            high = ts_text(max(e.timestamp for e in items))
            sections.append(f'<{tag} count="{len(items)}" maxTimestamp="{high}">{body}</{tag}>')
        paging = ""
        if start - 1 + size < len(found):
            nxt = (
                f"/v2/entries?from={quote(query['from'], safe='')}&to={quote(query['to'], safe='')}"
                f"&start={start + size}&size={size}&max={len(found)}"
            )
            paging = f"<paging><next>{escape(nxt)}</next></paging>"
        return self._xml(f'<queryResult xmlns="{NS}">{"".join(sections)}{paging}</queryResult>')

    def _feedback(
        self, member: str, entry_id: str, fingerprint: str, last: str, body: bytes
    ) -> Answer:
        if last != "feedback" or not member.isdigit():
            return Answer(404, b"<error>Not Found</error>", XML)
        with self._lock:
            known = (int(member), entry_id) in self._entries
        if not known:
            return Answer(404, b"<error>no such entry</error>", XML)
        root = ET.fromstring(body)
        votes = [child.tag.partition("}")[2] or child.tag for child in root]
        if votes not in (["affirmative"], ["negative"]):
            return Answer(400, b"<error>one of affirmative or negative</error>", XML)
        guids = tuple(g.text or "" for g in root.iter() if g.tag.endswith("guid"))
        if votes == ["negative"] and (not guids or any(g not in self.reasons for g in guids)):
            return Answer(400, b"<error>a negative vote needs a known reason</error>", XML)
        self.feedback.append(Feedback(int(member), entry_id, fingerprint, votes[0], guids))
        return self._xml(f'<submissionResult xmlns="{NS}"/>')


class _SyntheticRange(Sequence[NcmecEntry]):
    """Synthetic entries in [start, end) without storing them: entry i (PDQ images first, then
    MD5 videos) has timestamp ``synthetic_start + i // synthetic_per_second``."""

    def __init__(self, standin: NcmecStandin, start: int, end: int) -> None:
        self.standin = standin
        total = standin.synthetic_pdq + standin.synthetic_md5
        per = standin.synthetic_per_second
        first = max(0, (start - standin.synthetic_start) * per)
        last = max(0, (end - standin.synthetic_start) * per)
        self.first, self.last = min(first, total), min(last, total)

    def __len__(self) -> int:
        return self.last - self.first

    def _entry(self, i: int) -> NcmecEntry:
        s = self.standin
        ts = s.synthetic_start + i // s.synthetic_per_second
        if i < s.synthetic_pdq:
            return NcmecEntry(42, f"img{i}", ts, {"pdq": synthetic_pdq(i)})
        return NcmecEntry(42, f"vid{i}", ts, {"md5": synthetic_md5(i)}, kind="video")

    def __getitem__(self, index):  # type: ignore[no-untyped-def,override]
        if isinstance(index, slice):
            lo, hi, _ = index.indices(len(self))
            return [self._entry(self.first + i) for i in range(lo, hi)]
        return self._entry(self.first + index)

    def __iter__(self) -> Iterator[NcmecEntry]:
        return (self._entry(i) for i in range(self.first, self.last))


@contextmanager
def running(standin: NcmecStandin) -> Iterator[str]:
    """Serve the stand-in; yields the base URL for the exchange's ``url`` option."""
    with serve(standin.handle) as url:
        yield url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pdq", type=int, default=1_000_000)
    parser.add_argument("--md5", type=int, default=100_000)
    args = parser.parse_args()
    standin = NcmecStandin(synthetic_pdq=args.pdq, synthetic_md5=args.md5)
    with running(standin) as url:
        print(url, flush=True)
        while True:
            time.sleep(3600)


if __name__ == "__main__":
    main()
