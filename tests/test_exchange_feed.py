"""takedown's own shared-hash feed on SQLite and PostgreSQL, through real HTTP: nothing is
shared until a category is switched on; confirmed hashes then appear, signed with ed25519 over
the exact body; pages follow ``next``; a confirmation reversed on appeal or an entry disabled
shows as removed; a tampered body or another key is refused; nothing personal is in it."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime
from typing import Any

import pytest

from takedown.auth.scopes import Scope
from takedown.exchanges.base import ExchangeError
from takedown.exchanges.feed_format import (
    SIGNATURE_HEADER,
    FeedKey,
    WirePage,
    decode_page,
    encode_page,
    feed_key,
    verify,
)
from takedown.service import sharing
from takedown.service.feed_key import KEY_FILE
from tests.service_support import Service

PROTOCOL_FIELDS = ["cursor", "signal_type", "value", "category", "removed", "at"]


def _content(service: Service, content_id: str, md5: str, pdq: str | None = None) -> None:
    signals = [{"type": "md5", "value": md5}]
    if pdq:
        signals.append({"type": "pdq", "value": pdq})
    answer = service.post(
        "/v1/content",
        json={
            "content_id": content_id,
            "uploader_id": f"uploader-{content_id}",
            "url": f"https://photos.example/p/{content_id}",
            "signals": signals,
        },
    )
    assert answer.status_code in (200, 201), answer.text


def _report(service: Service, content_id: str, category: str) -> str:
    child = category == "child_sexual_abuse"
    answer = service.client.post(
        "/v1/reports",
        json={
            "content": [{"content_id": content_id}],
            "category": category,
            "minor_depicted": "yes" if child else "no",
            "relationship": "parent_or_guardian" if child else "other_user",
            "contact": {"email": "reporter@example.org"},
            "description": "reporter's own words",
        },
    )
    assert answer.status_code == 201, answer.text
    case_id: str = answer.json()["case_id"]
    return case_id


def _confirm(service: Service, case_id: str, role: str) -> None:
    for _ in range(2):  # a second person where the rules want one
        answer = service.as_(
            service.staff(role),
            "POST",
            f"/v1/cases/{case_id}/decisions",
            json={"outcome": "violation"},
        )
        assert answer.status_code == 201, answer.text
        if answer.json()["state"] in ("actioned", "confirmed"):
            return
    raise AssertionError(f"case {case_id} was not confirmed")


def _share(service: Service, category: str, enabled: bool = True) -> dict[str, Any]:
    answer = service.client.put(
        f"/v1/sharing/feed/{category}", json={"enabled": enabled}, headers=service.headers()
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


class Subscriber:
    """Another instance reading the feed with its key, checking every page as the protocol
    says: the signature over the exact bytes, then the shape."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.key = service.key(Scope.EXCHANGE_READ)
        answer = service.as_(self.key, "GET", "/v1/exchange/feed/key")
        assert answer.status_code == 200, answer.text
        self.pinned = FeedKey(**answer.json())

    def raw(self, after: str = "", limit: int | None = None) -> Any:
        with self.service.db.write() as session:  # the worker's publishing round
            sharing.publish(session, datetime.now(UTC))
        params: dict[str, Any] = {"after": after}
        if limit is not None:
            params["limit"] = limit
        return self.service.client.get(
            "/v1/exchange/feed", params=params, headers=self.service.headers(self.key)
        )

    def page(self, after: str = "", limit: int | None = None) -> WirePage:
        answer = self.raw(after, limit)
        assert answer.status_code == 200, answer.text
        verify(answer.content, answer.headers[SIGNATURE_HEADER], self.pinned.public_key)
        return decode_page(answer.content)

    def all(self, after: str = "", limit: int = 1000) -> tuple[WirePage, ...]:
        pages = [self.page(after, limit)]
        while pages[-1].more:
            pages.append(self.page(pages[-1].next, limit))
        return tuple(pages)


def test_feed_shares_confirmed_hashes_signed_and_withdraws_reversals(
    service: Service, tmp_path: Any
) -> None:
    md5_a, md5_b = "1" * 32, "2" * 32
    pdq_a = "f0" * 32
    _content(service, "post-a", md5_a, pdq_a)
    _content(service, "post-b", md5_b)
    case_a = _report(service, "post-a", "other")
    _confirm(service, case_a, "reviewer")
    subscriber = Subscriber(service)

    # the key: id and raw 32-byte public key; the private half is 0600 in the home
    assert len(subscriber.pinned.key_id) == 16 and int(subscriber.pinned.key_id, 16) >= 0
    key_file = tmp_path / KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600

    # nothing is shared before an admin opts in
    empty = subscriber.page()
    assert empty.entries == () and empty.next == "" and empty.more is False

    setting = _share(service, "other")
    assert (setting["target"], setting["category"], setting["enabled"]) == ("feed", "other", True)
    (first,) = subscriber.all()
    assert sorted((e.signal_type, e.value, e.category, e.removed) for e in first.entries) == [
        ("md5", md5_a, "other", False),
        ("pdq", pdq_a, "other", False),
    ]
    # nothing personal: exactly the protocol's fields, no content id, uploader, url or reporter
    body = subscriber.raw().content
    assert [list(e) for e in json.loads(body)["entries"]] == [PROTOCOL_FIELDS] * 2
    for personal in (b"post-a", b"uploader", b"photos.example", b"reporter", b"case"):
        assert personal not in body

    # a second confirmation: paging one entry at a time follows `next` to the end
    case_b = _report(service, "post-b", "other")
    _confirm(service, case_b, "reviewer")
    pages = subscriber.all(limit=1)
    assert [len(p.entries) for p in pages] == [1, 1, 1]
    assert [p.more for p in pages] == [True, True, False]
    cursors = [p.entries[0].cursor for p in pages]
    assert cursors == sorted(cursors, key=int) and len(set(cursors)) == 3
    assert pages[2].entries[0].value == md5_b
    tail = subscriber.page(after=cursors[-1])
    assert tail.entries == () and tail.next == cursors[-1] and tail.more is False

    # the uploader's appeal reverses case A: its hashes are withdrawn, B's stay
    platform = service.key(Scope.APPEALS_WRITE)
    appeal = service.as_(platform, "POST", f"/v1/cases/{case_a}/appeals", json={"reason": "mine"})
    assert appeal.status_code == 201, appeal.text
    restored = service.as_(
        service.staff("senior_reviewer"),
        "POST",
        f"/v1/cases/{case_a}/appeal-decision",
        json={"outcome": "overturned"},
    )
    assert restored.json()["state"] == "dismissed", restored.text
    (after_appeal,) = subscriber.all(after=cursors[-1])
    assert sorted((e.signal_type, e.value, e.removed) for e in after_appeal.entries) == [
        ("md5", md5_a, True),
        ("pdq", pdq_a, True),
    ]
    # an entry disabled by hand is withdrawn too
    entries = service.get("/v1/banks/confirmed-other/entries").json()
    (b_entry,) = [e for e in entries if e["value"] == md5_b]
    disabled = service.post(
        f"/v1/banks/confirmed-other/entries/{b_entry['id']}/disable", json={"reason": "mistake"}
    )
    assert disabled.status_code == 200, disabled.text
    (last,) = subscriber.all(after=after_appeal.next)
    assert [(e.value, e.removed) for e in last.entries] == [(md5_b, True)]
    # switching off keeps the history; nothing is added twice on a re-read
    _share(service, "other", enabled=False)
    assert [len(p.entries) for p in subscriber.all()] == [6]


def test_feed_signature_is_checked_and_bad_requests_refused(service: Service) -> None:
    _content(service, "post-c", "3" * 32)
    _confirm(service, _report(service, "post-c", "child_sexual_abuse"), "child_safety_specialist")
    _share(service, "child_sexual_abuse")
    subscriber = Subscriber(service)
    answer = subscriber.raw()
    page = decode_page(answer.content)
    assert [(e.value, e.category) for e in page.entries] == [("3" * 32, "csam")]
    assert encode_page(page) == answer.content  # the wire form is canonical: re-encodes exactly
    signature = answer.headers[SIGNATURE_HEADER]
    assert signature.startswith("ed25519=")
    tampered = answer.content.replace(b"3333", b"4444", 1)
    with pytest.raises(ExchangeError) as refused:
        verify(tampered, signature, subscriber.pinned.public_key)
    assert refused.value.code == "bad_signature"
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    other = feed_key(Ed25519PrivateKey.generate()).public_key
    with pytest.raises(ExchangeError) as wrong_key:
        verify(answer.content, signature, other)
    assert wrong_key.value.code == "bad_signature"
    with pytest.raises(ExchangeError) as unsigned:
        verify(answer.content, None, subscriber.pinned.public_key)
    assert unsigned.value.code == "bad_signature"

    for params, code in (
        ({"after": "abc"}, "invalid_cursor"),
        ({"after": "-1"}, "invalid_cursor"),
        ({"limit": 0}, None),
        ({"limit": 5001}, None),
    ):
        bad = service.client.get(
            "/v1/exchange/feed", params=params, headers=service.headers(subscriber.key)
        )
        assert bad.status_code == 422, (params, bad.text)
        assert "code" in bad.json() and (code is None or bad.json()["code"] == code)
    # a key without exchange:read reads nothing
    platform = service.key(Scope.CONTENT_WRITE)
    assert service.as_(platform, "GET", "/v1/exchange/feed").status_code == 403
    assert service.as_(platform, "GET", "/v1/exchange/feed/key").status_code == 403


def test_sharing_settings(service: Service) -> None:
    listed = service.get("/v1/sharing").json()["settings"]
    assert {(s["target"], s["category"]) for s in listed} >= {
        ("feed", "child_sexual_abuse"),
        ("feed", "non_consensual_intimate_image"),
    }
    assert not any(s["enabled"] for s in listed)
    headers = service.headers()
    unknown = service.client.put("/v1/sharing/feed/spam", json={"enabled": True}, headers=headers)
    assert unknown.status_code == 422 and unknown.json()["code"] == "invalid_field"
    nowhere = service.client.put(
        "/v1/sharing/nowhere/other", json={"enabled": True}, headers=headers
    )
    assert nowhere.status_code == 404 and nowhere.json()["code"] == "target_not_found"
    _share(service, "non_consensual_intimate_image")
    listed = service.get("/v1/sharing").json()["settings"]
    assert [(s["target"], s["category"]) for s in listed if s["enabled"]] == [
        ("feed", "non_consensual_intimate_image")
    ]
    events = service.get("/v1/audit?limit=1000").json()
    assert "sharing.enable" in [e["action"] for e in events]
    reviewer = service.staff("reviewer")
    assert service.as_(reviewer, "GET", "/v1/sharing").status_code == 403


def test_console_sharing_page_switches_and_shows_the_key(service: Service) -> None:
    """The admin's console page: a switch per receiver and category (CSRF-checked), and the
    public key a subscriber pins, the same as the API's."""
    email = "sharing-admin@example.org"
    service.staff("admin", email)
    csrf = service.sign_in(email, "a long test password")
    page = service.client.get("/console/admin/sharing")
    assert page.status_code == 200 and "not shared" in page.text
    key = Subscriber(service).pinned
    assert key.public_key in page.text and key.key_id in page.text
    refused = service.client.post(
        "/console/admin/sharing/feed/other", data={"csrf_token": "wrong", "enabled": "1"}
    )
    assert refused.status_code == 403
    answer = service.client.post(
        "/console/admin/sharing/feed/other",
        data={"csrf_token": csrf, "enabled": "1"},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    listed = service.get("/v1/sharing").json()["settings"]
    assert [(s["target"], s["category"]) for s in listed if s["enabled"]] == [("feed", "other")]
    assert "Stop sharing" in service.client.get("/console/admin/sharing").text
    reviewer = "sharing-reviewer@example.org"
    service.staff("reviewer", reviewer)
    service.sign_in(reviewer, "a long test password")
    assert service.client.get("/console/admin/sharing").status_code == 403
