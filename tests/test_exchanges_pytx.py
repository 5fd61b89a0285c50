"""NCMEC, StopNCII and ThreatExchange (python-threatexchange's clients, wrapped) fetched into banks
through the fetch engine, on SQLite and PostgreSQL, against local stand-ins that follow each
published protocol: paging, checkpoints (a resumed fetch continues, it does not restart),
deletions and withdrawals, refused credentials, 429 and 5xx mid-feed; and sharing back."""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from takedown.actions.addresses import Networks
from takedown.config import DEFAULT_WEBHOOK_DENY
from takedown.exchanges import (
    ExchangeAuthError,
    ExchangeSettings,
    ExchangeUnavailable,
    SharedEntry,
    kind_named,
)
from takedown.exchanges.guard import GuardedClient
from takedown.service.exchange_fetch import fetch_exchange
from takedown.service.exchange_share import share_pending
from takedown.store.models import BankEntry, Exchange, FeedEvent
from tests.exchange_standins import ncmec as ncmec_standin
from tests.exchange_standins import stopncii as stopncii_standin
from tests.exchange_standins import threatexchange as te_standin
from tests.exchange_standins.common import Answer, json_answer
from tests.exchange_standins.ncmec import NcmecEntry, NcmecStandin
from tests.exchange_standins.stopncii import HashRecord, StopnciiStandin
from tests.exchange_standins.threatexchange import Indicator, ThreatExchangeStandin
from tests.service_support import Service, wait_for

LOCAL = Networks.of(DEFAULT_WEBHOOK_DENY, ["127.0.0.0/8"])  # the stand-ins listen here


def pdq() -> str:
    return secrets.token_hex(32)


def md5() -> str:
    return secrets.token_hex(16)


def _secret(service: Service) -> str:
    return str(service.client.app.state.takedown.secret)  # type: ignore[attr-defined]


def _add(service: Service, **body: Any) -> None:
    answer = service.post("/v1/exchanges", json=body)
    assert answer.status_code == 201, answer.text


def _fetch(service: Service, name: str, at: datetime | None = None) -> Any:
    moment = at or datetime.now(UTC)
    return fetch_exchange(
        service.db,
        name,
        secret=_secret(service),
        now=lambda: moment,
        networks=Networks.from_settings(service.client.app.state.takedown.settings),  # type: ignore[attr-defined]
    )


def _entries(service: Service, name: str) -> dict[tuple[str, str], BankEntry]:
    with service.db.read() as session:
        exchange = session.execute(select(Exchange).where(Exchange.name == name)).scalar_one()
        rows = session.execute(select(BankEntry).where(BankEntry.exchange_id == exchange.id))
        return {(row.external_id, row.signal_type): row for row in rows.scalars()}


def _checkpoint(service: Service, name: str) -> dict[str, Any]:
    with service.db.read() as session:
        raw = session.execute(select(Exchange.checkpoint).where(Exchange.name == name)).scalar_one()
    assert raw is not None
    return dict(json.loads(raw))


def _matches(service: Service, signal_type: str, value: str) -> list[str]:
    answer = service.post("/v1/lookup", json={"signals": [{"type": signal_type, "value": value}]})
    assert answer.status_code == 200, answer.text
    return [m["bank"] for m in answer.json()["matches"]]


def _after_the_clock_passes(timestamp: int, lag: int = 0) -> None:
    """Wait (under two seconds) until ``time.time() - lag`` is past ``timestamp``: the exchanges
    fetch up to the current second, so an entry stamped ``timestamp`` needs the next one."""
    wait_for(lambda: int(time.time()) - lag > timestamp, 3, "the clock to pass the checkpoint")


def _view(service: Service, name: str) -> str:
    return str(service.get(f"/v1/exchanges/{name}").text)


# ---- NCMEC ----


def test_ncmec_pages_resume_after_429_and_5xx_then_deletions(service: Service) -> None:
    then = int(time.time()) - 3600
    standin = NcmecStandin(page_size=2, member_names={42: "Example ESP"})
    images = [(pdq(), md5()) for _ in range(5)]
    for i, (p, m) in enumerate(images):
        standin.add(NcmecEntry(42, f"img{i}", then, {"md5": m, "sha1": "b" * 40, "pdq": p}))
    video = md5()
    standin.add(NcmecEntry(43, "vid-1", then, {"md5": video}, kind="video", classification="B1"))
    standin.add(NcmecEntry(43, "bad", then, {"pdq": "not-a-hash"}))  # skipped, not fatal
    standin.paging_faults = [
        Answer(429, b"", ncmec_standin.XML, (("Retry-After", "600"),)),
        Answer(503, b"", ncmec_standin.XML),
    ]
    with ncmec_standin.running(standin) as url:
        _add(
            service,
            name="ncmec",
            kind="ncmec",
            bank="ncmec-csam",
            allow_protected_bank=True,  # the policy's child-abuse bank, filled by NCMEC
            options={"url": url},
            credentials={"user": standin.user, "password": standin.password},
        )
        now = datetime.now(UTC)
        limited = _fetch(service, "ncmec", now)
        assert (limited.status, limited.error) == ("failed", "exchange_rate_limited")
        assert limited.retry_at is not None and limited.retry_at >= now + timedelta(seconds=600)
        # the page before the 429 is in the bank, and the checkpoint holds NCMEC's paging link
        assert sorted(_entries(service, "ncmec")) == [
            ("42-img0", "md5"),
            ("42-img0", "pdq"),
            ("42-img1", "md5"),
            ("42-img1", "pdq"),
        ]
        assert "start=3" in _checkpoint(service, "ncmec")["next"]

        failed = _fetch(service, "ncmec", now + timedelta(seconds=601))
        assert (failed.status, failed.error) == ("failed", "exchange_unavailable")

        asked = len(standin.entry_requests)
        done = _fetch(service, "ncmec")
        assert done.status == "done", done
        assert standin.entry_requests[asked]["start"] == "3"  # resumed, not restarted
        entries = _entries(service, "ncmec")
        assert len(entries) == 11  # 5 images x (PDQ, MD5) + the video's MD5; no SHA1, no "bad"
        assert entries[("42-img3", "pdq")].value == images[3][0]
        assert entries[("42-img3", "pdq")].label == "A1"
        assert entries[("43-vid-1", "md5")].value == video
        assert entries[("43-vid-1", "md5")].label == "B1"
        wait_for(
            lambda: _matches(service, "pdq", images[1][0]) == ["ncmec-csam"], 10, "a PDQ match"
        )

        # NCMEC deletes img1 and adds img9; the next fetch starts where the last one ended
        since = _checkpoint(service, "ncmec")["from"]
        assert "next" not in _checkpoint(service, "ncmec")
        standin.delete(42, "img1", at=since)
        fresh = pdq()
        standin.add(NcmecEntry(42, "img9", since, {"pdq": fresh}))
        _after_the_clock_passes(since, lag=5)  # pytx fetches up to five seconds ago
        asked = len(standin.entry_requests)
        again = _fetch(service, "ncmec")
        assert (again.status, again.added, again.removed) == ("done", 1, 2)
        assert ncmec_standin.parse_ts(standin.entry_requests[asked]["from"]) == since
        entries = _entries(service, "ncmec")
        gone = entries[("42-img1", "pdq")], entries[("42-img1", "md5")]
        assert all((e.enabled, e.feed_removed) == (False, True) for e in gone)
        assert entries[("42-img9", "pdq")].enabled
        wait_for(lambda: _matches(service, "pdq", images[1][0]) == [], 10, "the deletion")


def test_ncmec_refused_credentials_stop_it_and_stay_secret(
    service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    standin = NcmecStandin()
    wrong = "wrong-" + secrets.token_hex(8)
    with ncmec_standin.running(standin) as url:
        _add(
            service,
            name="ncmec-locked",
            kind="ncmec",
            bank="locked",
            options={"url": url},
            credentials={"user": standin.user, "password": wrong},
        )
        with caplog.at_level(logging.DEBUG):
            refused = _fetch(service, "ncmec-locked")
    assert (refused.status, refused.error) == ("stopped", "exchange_auth")
    assert wrong not in _view(service, "ncmec-locked") and wrong not in caplog.text


def test_ncmec_feedback_shared_back() -> None:
    standin = NcmecStandin()
    standin.add(NcmecEntry(42, "img0", 1_700_000_000, {"pdq": pdq(), "md5": md5()}))
    with ncmec_standin.running(standin) as url, GuardedClient(LOCAL, timeout=30) as http:
        client: Any = kind_named("ncmec").build(
            ExchangeSettings("n", "ncmec", "b", {"url": url}),
            {"user": standin.user, "password": standin.password},
            http,
        )
        result = client.share(
            [
                SharedEntry("pdq", "0" * 64, "csam", external_id="42-img0"),
                SharedEntry("md5", "0" * 32, "csam", removed=True, external_id="42-img0"),
                SharedEntry("pdq", "1" * 64, "csam"),  # not NCMEC's: nothing to vote on
            ]
        )
    assert (result.accepted, result.rejected) == (2, 1)
    assert [
        (f.member_id, f.entry_id, f.fingerprint, f.vote, f.reasons) for f in standin.feedback
    ] == [
        (42, "img0", "PDQ", "affirmative", ()),
        (42, "img0", "MD5", "negative", (ncmec_standin.REASON_GUID,)),
    ]


# ---- StopNCII ----


def test_stopncii_pages_resume_after_429_and_5xx_then_withdrawals(service: Service) -> None:
    then = int(time.time()) - 600
    standin = StopnciiStandin()
    images = [pdq() for _ in range(5)]
    for i, value in enumerate(images):
        standin.add(HashRecord("ImagePDQ", value, then + i, feedbacks=[_feedback("ncii")]))
    video = md5()
    standin.add(HashRecord("VideoMD5", video, then + 10))
    standin.add(HashRecord("VideoTMK", "tmk-value", then + 11))  # no takedown signal type
    standin.faults.fail(json_answer(429, {}, ("Retry-After", "120")), on=2)
    standin.faults.fail(json_answer(500, {}), on=3)
    with stopncii_standin.running(standin) as url:
        _add(
            service,
            name="stopncii",
            kind="stopncii",
            bank="stopncii-ncii",
            action="hold",
            options={"url": url, "page_size": "2"},
            credentials={
                "subscription_key": standin.subscription_key,
                "fetch_function_key": standin.fetch_key,
            },
        )
        now = datetime.now(UTC)
        limited = _fetch(service, "stopncii", now)
        assert (limited.status, limited.error, limited.pages) == (
            "failed",
            "exchange_rate_limited",
            1,
        )
        assert limited.retry_at is not None and limited.retry_at >= now + timedelta(seconds=120)
        assert len(_entries(service, "stopncii")) == 2
        position = _checkpoint(service, "stopncii")  # mid-set: its start and the page token
        assert position["from"] == 10 and position["page"]

        failed = _fetch(service, "stopncii", now + timedelta(seconds=121))
        assert (failed.status, failed.error) == ("failed", "exchange_unavailable")

        asked = len(standin.fetch_requests)
        done = _fetch(service, "stopncii")
        assert done.status == "done"
        resumed = standin.fetch_requests[asked]
        assert (resumed["startTimestamp"], resumed["nextPageToken"]) == ("10", position["page"])
        assert _checkpoint(service, "stopncii") == {"from": then + 11}  # the set is done
        entries = _entries(service, "stopncii")
        assert sorted(entries) == sorted(
            [(v, "pdq") for v in images] + [(video, "md5")]
        )  # StopNCII keys a hash by its value
        assert entries[(images[2], "pdq")].label == "ncii"
        wait_for(lambda: _matches(service, "pdq", images[4]) == ["stopncii-ncii"], 10, "a match")

        # the person withdraws their case: the next fetch disables the hash
        since = _checkpoint(service, "stopncii")["from"]
        standin.withdraw("ImagePDQ", images[4], at=since + 1)
        asked = len(standin.fetch_requests)
        withdrawn = _fetch(service, "stopncii")
        assert (withdrawn.status, withdrawn.removed) == ("done", 1)
        assert standin.fetch_requests[asked]["startTimestamp"] == str(since)
        entry = _entries(service, "stopncii")[(images[4], "pdq")]
        assert (entry.enabled, entry.feed_removed) == (False, True)
        wait_for(lambda: _matches(service, "pdq", images[4]) == [], 10, "the withdrawal")


def _feedback(tag: str) -> dict[str, Any]:
    return {"feedbackValue": "Blocked", "tags": [tag], "source": "Another CSP"}


def test_stopncii_refused_subscription_key_stops_it(service: Service) -> None:
    standin = StopnciiStandin()
    with stopncii_standin.running(standin) as url:
        _add(
            service,
            name="stopncii-locked",
            kind="stopncii",
            bank="locked",
            options={"url": url},
            credentials={"subscription_key": "wrong", "fetch_function_key": standin.fetch_key},
        )
        refused = _fetch(service, "stopncii-locked")
    assert (refused.status, refused.error) == ("stopped", "exchange_auth")
    assert standin.fetch_requests == []


def test_stopncii_feedback_shared_back() -> None:
    standin = StopnciiStandin()
    image, video = pdq(), md5()
    with stopncii_standin.running(standin) as url, GuardedClient(LOCAL, timeout=30) as http:
        build = kind_named("stopncii").build
        settings = ExchangeSettings("s", "stopncii", "b", {"url": url})
        keys = {"subscription_key": standin.subscription_key, "fetch_function_key": "fetch-key"}
        without: Any = build(settings, keys, http)
        with pytest.raises(Exception, match="no StopNCII function key for SubmitFeedback"):
            without.share([SharedEntry("pdq", image, "ncii")])
        client: Any = build(settings, {**keys, "feedback_function_key": standin.feedback_key}, http)
        result = client.share(
            [
                SharedEntry("pdq", image, "ncii", external_id=image),
                SharedEntry("md5", video, "ncii", removed=True),
                SharedEntry("sha256", "a" * 64, "ncii"),  # StopNCII has no SHA-256 hashes
            ]
        )
    assert (result.accepted, result.rejected) == (2, 1)
    assert standin.feedback == [
        {"tags": ["ncii"], "feedbackValue": "Blocked", "hashValue": image},
        {"tags": ["ncii"], "feedbackValue": "NotBlocked", "hashValue": video},
    ]


# ---- ThreatExchange ----


def _te_exchange(service: Service, standin: ThreatExchangeStandin, url: str, name: str) -> None:
    _add(
        service,
        name=name,
        kind="threatexchange",
        bank=f"{name}-bank",
        options={"url": url, "privacy_group": str(standin.privacy_group), "page_size": "2"},
        credentials={"access_token": standin.token},
    )


def test_threatexchange_pages_resume_after_rate_limit_and_5xx_then_deletions(
    service: Service,
) -> None:
    then = int(time.time()) - 600
    standin = ThreatExchangeStandin()
    images = [pdq() for _ in range(5)]
    # ids and times in opposite orders: the Graph API pages by id, not by time
    for i, value in enumerate(images):
        standin.add(Indicator(100 + i, value, "HASH_PDQ", then + 50 - i, tags=["csam", "ngo"]))
    video, tagged, untagged = md5(), md5(), md5()
    standin.add(Indicator(200, video, "HASH_VIDEO_MD5", then))
    standin.add(Indicator(201, tagged, "HASH_MD5", then, tags=["media_type_video"]))
    standin.add(Indicator(202, untagged, "HASH_MD5", then))  # a malware digest, maybe: skipped
    standin.add(Indicator(203, pdq(), "HASH_PDQ", then, status="NON_MALICIOUS"))
    standin.add(Indicator(204, "https://example.org/", "URI", then))
    standin.faults.fail(te_standin.RATE_LIMITED, on=2)
    standin.faults.fail(json_answer(500, {}), on=3)
    with te_standin.running(standin) as url:
        _te_exchange(service, standin, url, "te")
        limited = _fetch(service, "te")
        assert (limited.status, limited.error, limited.pages) == (
            "failed",
            "exchange_rate_limited",
            1,
        )
        position = _checkpoint(service, "te")
        assert set(position) == {"until", "after"}  # mid-range: the Graph API's cursor
        assert standin.token not in json.dumps(position)
        assert sorted(_entries(service, "te")) == [("100", "pdq"), ("101", "pdq")]

        failed = _fetch(service, "te", datetime.now(UTC) + timedelta(hours=1))
        assert (failed.status, failed.error) == ("failed", "exchange_unavailable")

        asked = len(standin.update_requests)
        done = _fetch(service, "te")
        assert done.status == "done"
        resumed = standin.update_requests[asked]
        assert (resumed["after"], resumed["stop_time"]) == (
            position["after"],
            str(position["until"]),
        )
        entries = _entries(service, "te")
        assert sorted(entries) == [
            ("100", "pdq"),
            ("101", "pdq"),
            ("102", "pdq"),
            ("103", "pdq"),
            ("104", "pdq"),
            ("200", "md5"),
            ("201", "md5"),
        ]
        assert entries[("103", "pdq")].value == images[3]
        assert entries[("103", "pdq")].label == "csam,ngo"
        assert entries[("201", "md5")].value == tagged
        wait_for(lambda: _matches(service, "pdq", images[0]) == ["te-bank"], 10, "a match")

        since = _checkpoint(service, "te")["since"]
        standin.delete(102, at=since)
        _after_the_clock_passes(since)
        asked = len(standin.update_requests)
        deleted = _fetch(service, "te")
        assert (deleted.status, deleted.removed) == ("done", 1)
        assert standin.update_requests[asked]["start_time"] == str(since)
        entry = _entries(service, "te")[("102", "pdq")]
        assert (entry.enabled, entry.feed_removed) == (False, True)
        wait_for(lambda: _matches(service, "pdq", images[2]) == [], 10, "the deletion")


def test_threatexchange_refused_token_stops_it_and_stays_secret(
    service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    standin = ThreatExchangeStandin(token="1234567890|the-right-token-0123456789")
    wrong = ThreatExchangeStandin(token="1234567890|a-wrong-token-" + secrets.token_hex(8))
    with te_standin.running(standin) as url:
        with caplog.at_level(logging.DEBUG):
            _te_exchange(service, wrong, url, "te-locked")
            refused = _fetch(service, "te-locked")
        assert (refused.status, refused.error) == ("stopped", "exchange_auth")
    assert wrong.token not in _view(service, "te-locked") and wrong.token not in caplog.text


def test_threatexchange_descriptors_shared_back() -> None:
    standin = ThreatExchangeStandin()
    image = pdq()
    with te_standin.running(standin) as url, GuardedClient(LOCAL, timeout=30) as http:
        settings = ExchangeSettings(
            "t", "threatexchange", "b", {"url": url, "privacy_group": str(standin.privacy_group)}
        )
        client: Any = kind_named("threatexchange").build(
            settings, {"access_token": standin.token}, http
        )
        result = client.share(
            [
                SharedEntry("pdq", image, "csam"),
                SharedEntry("pdq", pdq(), "csam", removed=True),  # no descriptor id to delete
                SharedEntry("vpdq", "x", "csam"),
            ]
        )
        assert (result.accepted, result.rejected) == (1, 2)
        assert len(standin.uploads) == 1
        upload = standin.uploads[0]
        assert (upload["indicator"], upload["type"], upload["status"]) == (
            image,
            "HASH_PDQ",
            "MALICIOUS",
        )
        assert upload["privacy_members"] == str(standin.privacy_group)
        assert upload["tags"] == "takedown,csam"

        revoked: Any = kind_named("threatexchange").build(
            settings, {"access_token": "1234567890|revoked-token-0123456789"}, http
        )
        with pytest.raises(ExchangeAuthError):
            revoked.share([SharedEntry("pdq", image, "csam")])


# ---- the clients' mapping of failures (no database) ----


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with GuardedClient(LOCAL, timeout=30) as client:
        yield client


def test_retry_after_as_an_http_date_and_plain_5xx(http: httpx.Client) -> None:
    standin = StopnciiStandin()
    standin.add(HashRecord("ImagePDQ", pdq(), 1_700_000_000))
    later = datetime.now(UTC) + timedelta(seconds=90)
    http_date = later.strftime("%a, %d %b %Y %H:%M:%S GMT")
    standin.faults.fail(json_answer(429, {}, ("Retry-After", http_date)))
    standin.faults.fail(json_answer(502, {}), on=2)
    with stopncii_standin.running(standin) as url:
        client = kind_named("stopncii").build(
            ExchangeSettings("s", "stopncii", "b", {"url": url}),
            {"subscription_key": standin.subscription_key, "fetch_function_key": "fetch-key"},
            http,
        )
        with pytest.raises(ExchangeUnavailable) as limited:
            list(client.fetch(None))
        assert limited.value.retry_after is not None and 80 <= limited.value.retry_after <= 91
        with pytest.raises(ExchangeUnavailable) as bad_gateway:
            list(client.fetch(None))
        assert (bad_gateway.value.code, bad_gateway.value.retry_after) == (
            "exchange_unavailable",
            None,
        )
        assert [len(page.entries) for page in client.fetch(None)] == [1]


def test_options_refused_when_the_exchange_is_added(service: Service) -> None:
    bad = [
        ({"kind": "ncmec", "options": {"environment": "Nowhere"}}, "unknown NCMEC environment"),
        ({"kind": "ncmec", "options": {"url": "http://example.org/"}}, "https"),
        ({"kind": "threatexchange", "options": {"privacy_group": "abc"}}, "privacy_group"),
        ({"kind": "threatexchange", "options": {}}, "privacy_group"),
        ({"kind": "stopncii", "options": {"page_size": "0"}}, "page_size"),
    ]
    credentials = {
        "ncmec": {"user": "u", "password": "p"},
        "threatexchange": {"access_token": "1234567890|abcdefghijklmnopqrstuv"},
        "stopncii": {"subscription_key": "s", "fetch_function_key": "f"},
    }
    for body, message in bad:
        answer = service.post(
            "/v1/exchanges",
            json={"name": "x", "bank": "x", "credentials": credentials[body["kind"]], **body},
        )
        code = "invalid_exchange_url" if "url" in body["options"] else "invalid_field"
        assert (answer.status_code, answer.json()["code"]) == (422, code), body
        assert message in answer.json()["message"], answer.json()
    missing = service.post(
        "/v1/exchanges",
        json={"name": "x", "kind": "ncmec", "bank": "x", "credentials": {"user": "u"}},
    )
    assert (missing.status_code, missing.json()["code"]) == (422, "invalid_field")
    assert service.get("/v1/banks/x").status_code == 404  # nothing half-made


def test_large_ncmec_feed_from_the_synthetic_stand_in(http: httpx.Client) -> None:
    """The stand-in's synthetic mode (the benchmark's source) serves what NCMEC would: every
    entry once, across pages, with values the client accepts."""
    standin = NcmecStandin(
        synthetic_pdq=2500, synthetic_md5=700, synthetic_start=int(time.time()) - 7200
    )
    with ncmec_standin.running(standin) as url:
        client = kind_named("ncmec").build(
            ExchangeSettings("n", "ncmec", "b", {"url": url}),
            {"user": standin.user, "password": standin.password},
            http,
        )
        seen = [entry for page in client.fetch(None) for entry in page.entries]
    assert len(seen) == 3200 and len({(e.external_id, e.signal_type) for e in seen}) == 3200
    assert {e.signal_type for e in seen} == {"pdq", "md5"}
    assert ("42-img7", "pdq", ncmec_standin.synthetic_pdq(7)) in {
        (e.external_id, e.signal_type, e.value) for e in seen
    }
    assert hashlib.md5(b"md5-2600", usedforsecurity=False).hexdigest() in {e.value for e in seen}


# ---- sharing back through the worker's path ----


def _shared(service: Service, target: str, *events: tuple[str, str, str, bool]) -> None:
    """Feed events for ``target``, as the sharing publisher appends them for a switched-on
    category (the publisher's own tests cover which confirmations become events)."""
    with service.db.write() as session:
        for category, signal_type, value, removed in events:
            key = hashlib.sha256(f"{category}\n{signal_type}\n{value}".encode()).hexdigest()
            session.add(
                FeedEvent(
                    target=target,
                    key=key,
                    signal_type=signal_type,
                    value=value,
                    category=category,
                    removed=removed,
                    at=datetime.now(UTC),
                )
            )


def _share_state(service: Service, name: str) -> tuple[str, int, str]:
    with service.db.read() as session:
        row = session.execute(select(Exchange).where(Exchange.name == name)).scalar_one()
        return row.share_cursor, row.shared_total, row.share_error


def test_hashes_shared_with_ncmec_are_sent_once_and_a_failure_keeps_them(
    service: Service,
) -> None:
    then = int(time.time()) - 3600
    image, video = pdq(), md5()
    standin = NcmecStandin()
    standin.add(NcmecEntry(42, "img0", then, {"pdq": image, "md5": video}))
    with ncmec_standin.running(standin) as url, GuardedClient(LOCAL, timeout=30) as http:
        _add(
            service,
            name="ncmec-share",
            kind="ncmec",
            bank="ncmec-share-bank",
            options={"url": url},
            credentials={"user": standin.user, "password": standin.password},
        )
        assert _fetch(service, "ncmec-share").status == "done"
        _shared(
            service,
            "ncmec-share",
            ("csam", "pdq", image, False),  # NCMEC's own entry, confirmed here: an upvote
            ("csam", "pdq", pdq(), False),  # not NCMEC's: nothing to vote on
            ("csam", "md5", video, True),  # a confirmation withdrawn: a downvote
        )
        _shared(service, "another-exchange", ("csam", "pdq", pdq(), False))

        def send() -> list[tuple[int, int, int, str]]:
            runs = share_pending(
                service.db, "ncmec-share", secret=_secret(service), http=http, now=datetime.now(UTC)
            )
            return [(r.sent, r.accepted, r.rejected, r.error) for r in runs]

        assert send() == [(3, 2, 1, "")]
        assert [(f.entry_id, f.fingerprint, f.vote) for f in standin.feedback] == [
            ("img0", "PDQ", "affirmative"),
            ("img0", "MD5", "negative"),
        ]
        cursor, total, error = _share_state(service, "ncmec-share")
        assert (total, error) == (2, "") and cursor != ""
        assert send() == []  # nothing new: nothing sent twice

        standin.password = "changed-at-ncmec"
        _shared(service, "ncmec-share", ("csam", "pdq", image, True))
        assert send() == [(1, 0, 0, "exchange_auth")]
        assert _share_state(service, "ncmec-share") == (cursor, 2, "exchange_auth")
        standin.password = NcmecStandin().password
        assert send() == [(1, 1, 0, "")]  # the same event, sent again
        assert standin.feedback[-1].vote == "negative"
        assert _share_state(service, "ncmec-share")[1:] == (3, "")


def test_stopncii_refused_page_token_restarts_the_set(http: httpx.Client) -> None:
    standin = StopnciiStandin()
    values = [pdq() for _ in range(3)]
    for i, value in enumerate(values):
        standin.add(HashRecord("ImagePDQ", value, 1_700_000_000 + i))
    with stopncii_standin.running(standin) as url:
        client = kind_named("stopncii").build(
            ExchangeSettings("s", "stopncii", "b", {"url": url, "page_size": "2"}),
            {"subscription_key": standin.subscription_key, "fetch_function_key": "fetch-key"},
            http,
        )
        stale = json.dumps({"from": 10, "page": "bm90LWEtdG9rZW4=", "at": int(time.time())})
        pages = list(client.fetch(stale))
    # the stale token (refused with a 400), then the set from its start in two pages
    assert [q.get("nextPageToken", "")[:3] for q in standin.fetch_requests] == ["bm9", "", "WzE"]
    assert sorted(e.value for page in pages for e in page.entries) == sorted(values)
    assert [page.more for page in pages] == [True, False]
    assert json.loads(pages[-1].checkpoint) == {"from": 1_700_000_002}
