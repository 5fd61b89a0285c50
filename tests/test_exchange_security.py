"""Security review of the exchanges, on SQLite and PostgreSQL against local stand-ins: who may
point a feed at which bank, hostile feeds (memory, replayed pages, SSRF), a person's disable
outliving the feed, and the sharing switches of a removed exchange."""

from __future__ import annotations

import gzip
import http.server
import io
import json
import secrets
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select, update

from takedown.actions.addresses import Networks
from takedown.auth.scopes import Scope
from takedown.cases.policy import Policy
from takedown.config import DEFAULT_WEBHOOK_DENY
from takedown.exchanges import ExchangeError, ExchangeSettings
from takedown.exchanges.bounded import MAX_LINE, FeedTooLarge
from takedown.exchanges.feed_format import (
    SIGNATURE_HEADER,
    FeedItem,
    encode_page,
    feed_key,
    page_of,
    sign,
)
from takedown.exchanges.guard import AddressRefused, GuardedClient
from takedown.exchanges.hash_list import HashListClient
from takedown.exchanges.ncmec import HashAPI as NcmecHashAPI
from takedown.exchanges.pytx_http import Timeout
from takedown.exchanges.pytx_http import session as pytx_session
from takedown.exchanges.takedown_feed import TakedownFeedClient
from takedown.exchanges.threatexchange import GraphAPI
from takedown.service import banks as bank_service
from takedown.service import exchange_fetch, retro_scan, sharing
from takedown.service.exchange_fetch import fetch_exchange
from takedown.store.models import AuditEvent, BankEntry, Case, Exchange, FeedEvent
from tests.exchange_servers import csv_list, hash_list_server
from tests.service_support import Service, make_settings, running_service

AT = datetime(2026, 11, 29, tzinfo=UTC)
LOCAL = Networks.of(DEFAULT_WEBHOOK_DENY, ["127.0.0.0/8"])  # where the stand-ins listen


def pdq() -> str:
    return secrets.token_hex(32)


def _bank(service: Service, name: str) -> dict[str, Any]:
    answer = service.get(f"/v1/banks/{name}")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _hash_list(name: str, bank: str, url: str, **more: Any) -> dict[str, Any]:
    return {"name": name, "kind": "hash_list", "bank": bank, "options": {"url": url}, **more}


def test_exchanges_admin_alone_cannot_take_over_a_bank(service: Service) -> None:
    assert service.post("/v1/banks", json={"name": "victim", "action": "hold"}).status_code == 201
    only_exchanges = service.key(Scope.EXCHANGES_ADMIN)
    with_banks = service.key(Scope.EXCHANGES_ADMIN, Scope.BANKS_WRITE)
    with hash_list_server() as server:
        server.body = csv_list([("pdq", pdq(), "csam", "a", "")])
        refused = service.as_(
            only_exchanges,
            "POST",
            "/v1/exchanges",
            json=_hash_list("x1", "victim", server.url, threshold=20),
        )
        assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
        assert _bank(service, "victim")["action"] == "hold"
        assert service.as_(only_exchanges, "GET", "/v1/exchanges").json() == []
        # a new bank of its own is fine with exchanges:admin alone
        fresh = service.as_(
            only_exchanges, "POST", "/v1/exchanges", json=_hash_list("x2", "fresh", server.url)
        )
        assert fresh.status_code == 201 and fresh.json()["action"] == "block"
        # with banks:write: attached, and the bank keeps the action nobody asked to change
        attached = service.as_(
            with_banks, "POST", "/v1/exchanges", json=_hash_list("x1", "victim", server.url)
        )
        assert attached.status_code == 201, attached.text
        assert attached.json()["action"] == "hold" and attached.json()["threshold"] is None


def test_protected_banks_need_bank_rights_and_an_explicit_yes(service: Service) -> None:
    only_exchanges = service.key(Scope.EXCHANGES_ADMIN)
    with_banks = service.key(Scope.EXCHANGES_ADMIN, Scope.BANKS_WRITE)
    policy = service.client.app.state.takedown.policy  # type: ignore[attr-defined]
    child_bank = sorted(policy.child_abuse_banks)[0]
    url = "https://hashes.example.org/list.csv"
    for bank in ("confirmed-csam", policy.watch_bank, child_bank):
        answer = service.as_(
            only_exchanges,
            "POST",
            "/v1/exchanges",
            json=_hash_list("p", bank, url, allow_protected_bank=True),
        )
        assert answer.status_code == 403, (bank, answer.text)
        answer = service.as_(with_banks, "POST", "/v1/exchanges", json=_hash_list("p", bank, url))
        assert answer.status_code == 409 and answer.json()["code"] == "protected_bank", bank
    # an admin with bank rights configuring an NCMEC-like feed into a child-abuse bank
    answer = service.as_(
        with_banks,
        "POST",
        "/v1/exchanges",
        json=_hash_list("ncmec-list", child_bank, url, allow_protected_bank=True),
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["bank"] == child_bank


def test_an_exchange_does_not_loosen_pdq_matching(service: Service) -> None:
    url = "https://hashes.example.org/list.csv"
    loose = service.post("/v1/exchanges", json=_hash_list("x", "b", url, threshold=128))
    assert loose.status_code == 422 and loose.json()["code"] == "invalid_field"
    assert service.get("/v1/banks/b").status_code == 404
    tight = service.post("/v1/exchanges", json=_hash_list("x", "b", url, threshold=10))
    assert tight.status_code == 201 and tight.json()["threshold"] == 10


class _Hostile:
    """A local server answering every GET with ``body`` and ``headers`` (a hostile feed)."""

    def __init__(self) -> None:
        self.body = b""
        self.headers: dict[str, str] = {}
        self.status = 200
        self.asked: list[str] = []
        hostile = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                hostile.asked.append(self.path)
                self.send_response(hostile.status)
                for name, value in hostile.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(hostile.body)))
                self.end_headers()
                self.wfile.write(hostile.body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def __enter__(self) -> _Hostile:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _hash_list_client(url: str) -> HashListClient:
    settings = ExchangeSettings("h", "hash_list", "b", {"url": url, "signal_type": "pdq"})
    return HashListClient(settings, "", GuardedClient(LOCAL, timeout=30))


def test_a_compressed_or_long_lined_hash_list_is_refused_unread() -> None:
    packed = io.BytesIO()
    with gzip.GzipFile(fileobj=packed, mode="wb") as g:
        g.write(b"a" * (8 * 1024 * 1024))  # one 8 MiB line, 8 KB on the wire
    with _Hostile() as server:
        server.body, server.headers = packed.getvalue(), {"Content-Encoding": "gzip"}
        with pytest.raises(ExchangeError) as refused:
            list(_hash_list_client(server.url + "/list.txt").fetch(None))
        assert refused.value.code == "feed_encoding"
        server.body, server.headers = b"a" * (MAX_LINE + 10) + b"\n", {}
        with pytest.raises(FeedTooLarge):
            list(_hash_list_client(server.url + "/list.txt").fetch(None))
        value = pdq()
        server.body = f"# fine\r\n{value}\r\n".encode()
        pages = list(_hash_list_client(server.url + "/list.txt").fetch(None))
        assert [e.value for p in pages for e in p.entries] == [value]


def test_an_oversized_signed_feed_page_is_refused_before_it_is_read() -> None:
    key = Ed25519PrivateKey.generate()
    items = [FeedItem(str(i), "pdq", pdq(), "x" * 4000, False, AT) for i in range(300)]
    page = encode_page(page_of(items, "", False))
    settings = ExchangeSettings(
        "p",
        "takedown",
        "b",
        {"public_key": feed_key(key).public_key, "page_size": "10"},
    )
    with _Hostile() as server:
        server.body, server.headers = page, {SIGNATURE_HEADER: sign(page, key)}
        client = TakedownFeedClient(
            ExchangeSettings(
                settings.name, settings.kind, settings.bank, {**settings.options, "url": server.url}
            ),
            "",
            GuardedClient(LOCAL, timeout=30),
        )
        assert len(page) > client.max_page_bytes
        with pytest.raises(FeedTooLarge):
            list(client.fetch(None))


def test_pytx_sessions_read_within_a_budget_and_follow_no_redirect() -> None:
    with _Hostile() as server:
        s = pytx_session(server.url, Timeout(5.0, 5.0, LOCAL), max_bytes=64 * 1024)
        server.body = b"[" + b"1," * 100_000 + b"1]"
        with pytest.raises(FeedTooLarge):
            s.get(server.url + "/v2/hashes")
        server.status, server.body = 302, b""
        server.headers = {"Location": "http://169.254.169.254/latest/meta-data/"}
        with pytest.raises(ExchangeError) as moved:
            s.get(server.url + "/v2/hashes")
        assert moved.value.code == "exchange_redirect"
        assert server.asked == ["/v2/hashes", "/v2/hashes"]
        server.status, server.headers, server.body = 200, {}, b'{"ok": true}'
        assert s.get(server.url + "/v2/hashes").json() == {"ok": True}


def test_a_replayed_signed_feed_page_cannot_rewind_the_cursor() -> None:
    key = Ed25519PrivateKey.generate()
    withdrawn = pdq()
    old = encode_page(page_of([FeedItem("1", "pdq", withdrawn, "csam", False, AT)], "", False))
    options = {"public_key": feed_key(key).public_key}
    with _Hostile() as server:
        client = TakedownFeedClient(
            ExchangeSettings("p", "takedown", "b", {**options, "url": server.url}),
            "",
            GuardedClient(LOCAL, timeout=30),
        )
        server.body, server.headers = old, {SIGNATURE_HEADER: sign(old, key)}
        with pytest.raises(ExchangeError) as replayed:
            list(client.fetch("2"))  # already past the withdrawal at cursor 2
        assert replayed.value.code == "bad_feed"
        assert server.asked == ["/v1/exchange/feed?after=2&limit=1000"]
        # signed for the right request but going backwards: refused as well
        back = encode_page(
            page_of([FeedItem("1", "pdq", withdrawn, "csam", False, AT)], "2", False)
        )
        server.body, server.headers = back, {SIGNATURE_HEADER: sign(back, key)}
        with pytest.raises(ExchangeError):
            list(client.fetch("2"))
        ahead = encode_page(
            page_of([FeedItem("3", "pdq", withdrawn, "csam", True, AT)], "2", False)
        )
        server.body, server.headers = ahead, {SIGNATURE_HEADER: sign(ahead, key)}
        pages = list(client.fetch("2"))
        assert [(p.checkpoint, [e.removed for e in p.entries]) for p in pages] == [("3", [True])]


def test_exchange_urls_follow_the_webhook_address_rules(db_url: str, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, db_url, webhook_allow_networks=[])
    with running_service(settings) as service:
        for url in (
            "https://10.0.0.1/list.csv",
            "https://169.254.169.254/latest/x.csv",
            "https://[::1]/l.csv",
            "https://[::ffff:127.0.0.1]/l.csv",
            "http://localhost:6379/x.csv",
            "http://127.0.0.1:6379/x.csv",
            "http://hashes.example.org/list.csv",
            "https://user:secret@hashes.example.org/list.csv",
        ):
            answer = service.post("/v1/exchanges", json=_hash_list("s", "b", url))
            assert answer.status_code == 422, (url, answer.text)
            assert answer.json()["code"] == "invalid_exchange_url", url
            assert "secret" not in answer.text
        assert service.get("/v1/exchanges").json() == []
        assert service.get("/v1/banks/b").status_code == 404


def test_pytx_sessions_check_the_address_a_name_resolves_to() -> None:
    """pytx's clients (NCMEC, StopNCII, ThreatExchange) go through ``requests``: a host name is
    resolved by the guard, the address checked against the networks and the request pinned to
    it (so a name that resolves to a private address, or is switched to one between the check
    and the connection, reaches nothing)."""
    with _Hostile() as server:
        named = server.url.replace("127.0.0.1", "localhost") + "/v2/hashes"
        denied = pytx_session(named, Timeout(5.0, 5.0, Networks.of(DEFAULT_WEBHOOK_DENY)))
        with pytest.raises(AddressRefused):
            denied.get(named)
        assert server.asked == []
        allowed = pytx_session(named, Timeout(5.0, 5.0, LOCAL))
        server.body = b'{"ok": true}'
        assert allowed.get(named).json() == {"ok": True}
        assert server.asked == ["/v2/hashes"]


def test_each_fetch_checks_the_address_again(service: Service) -> None:
    """Added while 127.0.0.1 was allowed (the tests' webhook_allow_networks), fetched by a
    worker whose settings deny it: refused before any request is made."""
    with hash_list_server() as server:
        server.body = csv_list([("pdq", pdq(), "csam", "a", "")])
        added = service.post("/v1/exchanges", json=_hash_list("x", "b", server.url))
        assert added.status_code == 201, added.text
        secret = str(service.client.app.state.takedown.secret)  # type: ignore[attr-defined]
        result = fetch_exchange(
            service.db, "x", secret=secret, networks=Networks.of(DEFAULT_WEBHOOK_DENY)
        )
        assert (result.status, result.error, result.added) == (
            "failed",
            "exchange_address_refused",
            0,
        )
        assert server.requests == []
        allowed = fetch_exchange(service.db, "x", secret=secret, networks=LOCAL, force=True)
        assert (allowed.status, allowed.added) == ("done", 1)


def test_a_persons_disable_outlives_the_feed(service: Service) -> None:
    a, b = pdq(), pdq()
    with hash_list_server() as server:
        server.body = csv_list([("pdq", a, "csam", "a", ""), ("pdq", b, "csam", "b", "")])
        added = service.post("/v1/exchanges", json=_hash_list("x", "victim", server.url))
        assert added.status_code == 201, added.text
        assert service.post("/v1/exchanges/x/fetch?wait=true").json()["added"] == 2
        # the feed withdraws b; a person then disables it (already off) as a false positive
        server.etag = '"v2"'
        server.body = csv_list([("pdq", a, "csam", "a", ""), ("pdq", b, "csam", "b", "true")])
        assert service.post("/v1/exchanges/x/fetch?wait=true").json()["removed"] == 1
        with service.db.write() as session:
            bank = bank_service.get_bank(session, "victim")
            rows = {
                e.external_id: e.id
                for e in session.execute(
                    select(BankEntry).where(BankEntry.bank_id == bank.id)
                ).scalars()
            }
            bank_service.set_entry_enabled(
                session, bank, rows["b"], False, actor="user:1", reason="false positive"
            )
            bank_service.set_entry_enabled(
                session, bank, rows["a"], False, actor="user:1", reason="false positive"
            )
        # the feed lists b again, and a under a new id: both stay off
        server.etag = '"v3"'
        server.body = csv_list([("pdq", a, "csam", "a-renamed", ""), ("pdq", b, "csam", "b", "")])
        assert service.post("/v1/exchanges/x/fetch?wait=true").status_code == 202
        with service.db.read() as session:
            entries = session.execute(
                select(BankEntry).where(BankEntry.bank_id == bank.id)
            ).scalars()
            assert {e.external_id: e.enabled for e in entries} == {
                "a": False,
                "b": False,
                "a-renamed": False,
            }
            audited = session.execute(
                select(AuditEvent.action).where(AuditEvent.subject.like("bank:victim/entry:%"))
            ).scalars()
            assert sorted(audited) == ["bank.entry_disable", "bank.entry_disable"]
        assert (
            service.post("/v1/lookup", json={"signals": [{"type": "pdq", "value": a}]}).json()[
                "matches"
            ]
            == []
        )


def test_a_removed_exchange_takes_its_sharing_with_it(service: Service) -> None:
    url = "https://hashes.example.org/list.csv"
    assert service.post("/v1/exchanges", json=_hash_list("x", "b", url)).status_code == 201
    switched = service.client.put(
        "/v1/sharing/x/non_consensual_intimate_image",
        json={"enabled": True},
        headers=service.headers(),
    )
    assert switched.status_code == 200, switched.text
    with service.db.write() as session:
        session.add(
            FeedEvent(
                target="x",
                key="k",
                signal_type="pdq",
                value=pdq(),
                category="non_consensual_intimate_image",
                removed=False,
                at=AT,
            )
        )
    assert service.client.delete("/v1/exchanges/x", headers=service.headers()).status_code == 200
    assert service.post("/v1/exchanges", json=_hash_list("x", "b2", url)).status_code == 201
    settings = service.get("/v1/sharing").json()["settings"]
    assert [s for s in settings if s["target"] == "x" and s["enabled"]] == []
    with service.db.read() as session:
        left = session.execute(select(FeedEvent).where(FeedEvent.target == "x")).all()
        assert left == []


def test_feed_is_not_an_exchange_name(service: Service) -> None:
    url = "https://hashes.example.org/list.csv"
    answer = service.post("/v1/exchanges", json=_hash_list("feed", "b", url))
    assert answer.status_code == 422 and answer.json()["code"] == "invalid_field"
    assert "reserved" in answer.json()["message"]


def test_a_url_option_is_shown_without_its_query(service: Service) -> None:
    url = "https://hashes.example.org/list.csv?key=s3cret-token"
    added = service.post("/v1/exchanges", json=_hash_list("x", "b", url))
    assert added.status_code == 201, added.text
    for answer in (added, service.get("/v1/exchanges/x"), service.get("/v1/exchanges")):
        assert "s3cret" not in answer.text
    assert added.json()["options"]["url"] == "https://hashes.example.org/list.csv?redacted"


def test_pytx_clients_follow_paging_links_only_on_their_own_host() -> None:
    limits = Timeout(5.0, 5.0, LOCAL)
    graph = GraphAPI("token", "https://graph.example.org/v1", limits)
    with pytest.raises(ExchangeError) as elsewhere:
        graph.get_json_from_url("https://169.254.169.254/latest/meta-data/")
    assert elsewhere.value.code == "exchange_bad_response"
    ncmec = NcmecHashAPI("user", "password", "https://hashes.example.org", limits)
    for link in ("@169.254.169.254/latest", "//169.254.169.254/latest", "x"):
        with pytest.raises(ExchangeError) as moved:
            ncmec.get_entries(next_=link)
        assert moved.value.code == "exchange_bad_response", link


def _list_exchange(service: Service, server: Any, count: int) -> list[str]:
    values = [pdq() for _ in range(count)]
    server.body = csv_list([("pdq", v, "csam", f"id-{i}", "") for i, v in enumerate(values)])
    body = _hash_list("x", "b", server.url)
    body["options"]["page_size"] = "2"
    assert service.post("/v1/exchanges", json=body).status_code == 201
    return values


def test_a_run_is_bounded_and_resumes_from_its_checkpoint(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(exchange_fetch, "RUN_PAGES", 2)
    secret = str(service.client.app.state.takedown.secret)  # type: ignore[attr-defined]
    with hash_list_server() as server:
        _list_exchange(service, server, 7)
        first = fetch_exchange(service.db, "x", secret=secret, networks=LOCAL)
        assert (first.status, first.pages, first.added) == ("interrupted", 2, 4)
        rest = fetch_exchange(service.db, "x", secret=secret, networks=LOCAL)
        assert (rest.status, rest.added) == ("done", 3)


def test_a_run_that_lost_its_lease_writes_nothing_more(service: Service) -> None:
    secret = str(service.client.app.state.takedown.secret)  # type: ignore[attr-defined]
    with hash_list_server() as server:
        _list_exchange(service, server, 7)

        def taken_over(entries: int, pages: int) -> None:
            with service.db.write() as session:  # another worker claims it meanwhile
                session.execute(
                    update(Exchange).values(run_started_at=datetime(2030, 1, 1, tzinfo=UTC))
                )

        lost = fetch_exchange(service.db, "x", secret=secret, networks=LOCAL, progress=taken_over)
        assert (lost.status, lost.pages) == ("busy", 1)
        with service.db.read() as session:
            assert len(session.execute(select(BankEntry.id)).all()) == 2


def _upload(service: Service, content_id: str, value: str) -> None:
    answer = service.post(
        "/v1/content",
        json={
            "content_id": content_id,
            "uploader_id": "u",
            "signals": [{"type": "pdq", "value": value}],
        },
    )
    assert answer.status_code in (200, 201), answer.text


def _policy(service: Service) -> Policy:
    policy: Policy = service.client.app.state.takedown.policy  # type: ignore[attr-defined]
    return policy


def test_feed_labels_do_not_choose_a_retro_cases_category(service: Service) -> None:
    value = pdq()
    _upload(service, "old-1", value)
    with hash_list_server() as server:
        server.body = csv_list([("pdq", value, "csam;child_sexual_abuse", "a", "")])
        added = service.post(
            "/v1/exchanges", json=_hash_list("x", "ngo", server.url, action="hold")
        )
        assert added.status_code == 201, added.text
        assert service.post("/v1/exchanges/x/fetch?wait=true").json()["added"] == 1
    reports = retro_scan.scan_pending(service.db, _policy(service))
    (case_id,) = [c for r in reports for c in r.cases]
    with service.db.read() as session:
        case = session.get(Case, case_id)
        assert case is not None
        assert (case.category, case.priority) != ("child_sexual_abuse", "P0")
        assert case.category == "other"


def test_an_entry_switched_back_on_is_scanned_then(service: Service) -> None:
    value = pdq()
    _upload(service, "old-1", value)
    assert service.post("/v1/banks", json={"name": "b", "action": "hold"}).status_code == 201
    added = service.post(
        "/v1/banks/b/entries", json={"entries": [{"signal_type": "pdq", "value": value}]}
    )
    assert added.status_code == 201, added.text
    with service.db.write() as session:
        bank = bank_service.get_bank(session, "b")
        entry_id = session.execute(select(BankEntry.id)).scalar_one()
        bank_service.set_entry_enabled(session, bank, entry_id, False, actor="user:1")
    skipped = retro_scan.scan_pending(service.db, _policy(service))
    assert [c for r in skipped for c in r.cases] == []
    with service.db.write() as session:
        bank = bank_service.get_bank(session, "b")
        bank_service.set_entry_enabled(session, bank, entry_id, True, actor="user:1")
    scanned = retro_scan.scan_pending(service.db, _policy(service))
    assert len([c for r in scanned for c in r.cases]) == 1


def test_reading_the_feed_writes_nothing(service: Service) -> None:
    category = "non_consensual_intimate_image"
    headers = service.headers()
    assert (
        service.client.put(
            f"/v1/sharing/feed/{category}", json={"enabled": True}, headers=headers
        ).status_code
        == 200
    )
    bank = f"confirmed-{category}"
    assert service.post("/v1/banks", json={"name": bank, "action": "block"}).status_code == 201
    entries = {"entries": [{"signal_type": "pdq", "value": pdq()}]}
    assert service.post(f"/v1/banks/{bank}/entries", json=entries).status_code == 201
    with service.db.write() as session:  # as a confirmed case puts it there
        case = Case(
            state="actioned",
            priority="P1",
            queue="ncii",
            category=category,
            minor_alleged=False,
            unresolved=False,
            takedown_request=False,
            created_at=AT,
            updated_at=AT,
        )
        session.add(case)
        session.flush()
        session.execute(update(BankEntry).values(case_id=case.id))
    reader = service.key(Scope.EXCHANGE_READ)
    first = service.as_(reader, "GET", "/v1/exchange/feed")
    assert first.status_code == 200 and json.loads(first.content)["entries"] == []
    with service.db.read() as session:
        assert session.execute(select(FeedEvent.seq)).all() == []
    with service.db.write() as session:  # the worker's round
        sharing.publish(session, datetime.now(UTC))
    second = service.as_(reader, "GET", "/v1/exchange/feed")
    assert len(json.loads(second.content)["entries"]) == 1


def test_a_bank_switched_back_on_is_scanned_then(service: Service) -> None:
    value = pdq()
    _upload(service, "old-1", value)
    assert service.post("/v1/banks", json={"name": "b", "action": "hold"}).status_code == 201
    assert (
        service.client.patch(
            "/v1/banks/b", json={"enabled": False}, headers=service.headers()
        ).status_code
        == 200
    )
    added = service.post(
        "/v1/banks/b/entries", json={"entries": [{"signal_type": "pdq", "value": value}]}
    )
    assert added.status_code == 201, added.text
    skipped = retro_scan.scan_pending(service.db, _policy(service))
    assert [c for r in skipped for c in r.cases] == []
    assert (
        service.client.patch(
            "/v1/banks/b", json={"enabled": True}, headers=service.headers()
        ).status_code
        == 200
    )
    scanned = retro_scan.scan_pending(service.db, _policy(service))
    assert len([c for r in scanned for c in r.cases]) == 1
