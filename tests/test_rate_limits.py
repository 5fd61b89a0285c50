"""Report rate limits and Idempotency-Key, on SQLite and PostgreSQL, over real HTTP.

The client is the TCP peer unless the peer is a configured proxy (a spoofed X-Forwarded-For
picks no fresh bucket, through `takedown serve`'s uvicorn too); only accepted reports count;
a P0 report is never refused because of other people's reports; two app instances on one
database share one limit; a retried report with the same Idempotency-Key is answered from the
first, never stored twice.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, select, text

from takedown.api.app import create_app
from takedown.api.clients import TrustedProxies, client_address
from takedown.api.state import RateLimiter
from takedown.auth.accounts import create_key
from takedown.auth.scopes import Scope
from takedown.config import Settings
from takedown.signals import Signal
from takedown.store.db import Database
from takedown.store.migrate import alembic_config, upgrade
from takedown.store.models import Report
from tests.browser_support import free_port
from tests.service_support import make_settings, wait_for

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
OTHER = {  # a valid report that triage files as P2
    "content": [{"url": "https://elsewhere.example/a"}],
    "category": "other",
    "minor_depicted": "no",
    "relationship": "other_user",
}
P0 = {  # a minor in sexual content: P0, restricted at once
    "content": [{"content_id": "post-1"}],
    "category": "child_sexual_abuse",
    "minor_depicted": "yes",
    "relationship": "parent_or_guardian",
}
JUNK = [  # each refused with 422 by the intake rules (not by the JSON schema)
    {**OTHER, "content": []},
    {**OTHER, "hashes": [{"type": "pdq", "value": "abc"}]},
    {**OTHER, "category": "non_consensual_intimate_image"},
]


class Apps:
    """Instances of the service on one database, each reached from chosen peer addresses."""

    def __init__(self, settings: Settings, stack: ExitStack) -> None:
        self.settings = settings
        self.db = Database(settings.db_url)
        stack.callback(self.db.dispose)
        self.stack = stack
        self.apps: list[FastAPI] = []
        self.admin_key = ""
        with self.db.write() as session:
            self.admin_key = create_key(session, "admin", frozenset({Scope.ADMIN}), actor="t")[1]

    def app(self) -> FastAPI:
        """A new instance (as another worker process would be): its own engine and state."""
        db = Database(self.settings.db_url)
        self.stack.callback(db.dispose)
        app = create_app(self.settings, db=db)
        app.state.takedown.now = lambda: NOW
        self.apps.append(app)
        return app

    def client(self, peer: str, app: FastAPI | None = None) -> TestClient:
        target = app or (self.apps[0] if self.apps else self.app())
        client = self.stack.enter_context(TestClient(target, client=(peer, 40000)))
        wait_for(lambda: client.get("/readyz").status_code == 200, 20, "readyz")
        return client

    def key(self, *scopes: Scope) -> str:
        with self.db.write() as session:
            return create_key(session, "k", frozenset(scopes), actor="t")[1]

    def reports(self) -> int:
        with self.db.read() as session:
            return session.execute(select(func.count()).select_from(Report)).scalar_one()


@contextmanager
def apps(tmp_path: Path, db_url: str, **overrides: Any) -> Iterator[Apps]:
    with ExitStack() as stack:
        yield Apps(make_settings(tmp_path, db_url, **overrides), stack)


def _post(client: TestClient, body: dict[str, Any], **headers: str) -> httpx.Response:
    return client.post("/v1/reports", json=body, headers=headers)


def _codes(client: TestClient, body: dict[str, Any], n: int, **headers: str) -> list[int]:
    return [_post(client, body, **headers).status_code for _ in range(n)]


# --- who the client is --------------------------------------------------------------------


def test_client_address_reads_forwarded_for_only_from_trusted_proxies() -> None:
    proxies = TrustedProxies.parse(["10.0.0.0/8", "2001:db8::1"])
    assert client_address("203.0.113.9", ["1.1.1.1"], proxies) == "203.0.113.9"
    assert client_address("10.0.0.2", ["198.51.100.4"], proxies) == "198.51.100.4"
    # a client's own entries are to the left of what our proxy appended
    assert client_address("10.0.0.2", ["6.6.6.6, 198.51.100.4"], proxies) == "198.51.100.4"
    assert client_address("10.0.0.2", ["6.6.6.6", "198.51.100.4, 10.0.0.3"], proxies) == (
        "198.51.100.4"
    )
    assert client_address("2001:db8::1", ["[2001:db8::7]:443"], proxies) == "2001:db8::7"
    assert client_address("10.0.0.2", ["198.51.100.4:5555"], proxies) == "198.51.100.4"
    assert client_address("::ffff:203.0.113.9", [], proxies) == "203.0.113.9"
    assert client_address("10.0.0.2", [], proxies) == "10.0.0.2"  # the proxy itself
    assert client_address(None, ["1.1.1.1"], proxies) == "unknown"


def test_a_bucket_per_ipv4_address_and_per_ipv6_64() -> None:
    limiter = RateLimiter(20, 50, "secret")
    assert limiter.client_key("2001:db8:1:2::1") == limiter.client_key("2001:db8:1:2:ffff::9")
    assert limiter.client_key("2001:db8:1:2::1") != limiter.client_key("2001:db8:1:3::1")
    assert limiter.client_key("192.0.2.1") != limiter.client_key("192.0.2.2")
    assert "192.0.2.1" not in limiter.client_key("192.0.2.1")
    assert RateLimiter(20, 50, "other").client_key("192.0.2.1") != limiter.client_key("192.0.2.1")


def test_spoofed_forwarded_for_from_an_untrusted_peer_keeps_its_bucket(
    db_url: str, tmp_path: Path
) -> None:
    with apps(tmp_path, db_url, report_rate_per_ip=4, trusted_proxies=["10.0.0.0/8"]) as a:
        direct = a.client("203.0.113.9")
        codes = [
            _post(direct, OTHER, **{"X-Forwarded-For": f"198.51.100.{i}"}).status_code
            for i in range(4)
        ]
        assert codes == [201, 201, 429, 429]  # burst of 2 (4 a minute)


def test_forwarded_for_from_a_trusted_proxy_names_the_client(db_url: str, tmp_path: Path) -> None:
    with apps(tmp_path, db_url, report_rate_per_ip=4, trusted_proxies=["10.0.0.0/8"]) as a:
        proxy = a.client("10.1.2.3")

        def via(*hops: str) -> int:
            return _post(proxy, OTHER, **{"X-Forwarded-For": ", ".join(hops)}).status_code

        assert [via("198.51.100.1"), via("198.51.100.1"), via("198.51.100.1")] == [201, 201, 429]
        assert via("198.51.100.2") == 201  # another client behind the proxy: its own bucket
        assert via("7.7.7.7", "198.51.100.1") == 429  # what the client prepends is not read
        assert via("198.51.100.1", "10.9.9.9") == 429  # two proxies of ours
        assert a.client("203.0.113.50").post("/v1/reports", json=OTHER).status_code == 201


def _serve(tmp_path: Path, db_url: str, **env: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    home = tmp_path / f"home-{port}"
    home.mkdir()
    environment = {
        **os.environ,
        "TAKEDOWN_HOME": str(home),
        "TAKEDOWN_DATABASE_URL": db_url,
        "TAKEDOWN_PORT": str(port),
        "TAKEDOWN_BACKGROUND_WORKER": "false",
        "TAKEDOWN_REPORT_RATE_PER_IP": "4",
        "TAKEDOWN_CONFIG": str(home / "none.toml"),
        **env,
    }
    environment.pop("FORWARDED_ALLOW_IPS", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "takedown", "serve"],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return process, f"http://127.0.0.1:{port}"


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_takedown_serve_believes_forwarded_for_only_from_configured_proxies(
    db_url: str, tmp_path: Path
) -> None:
    """uvicorn believes X-Forwarded-For from loopback unless told otherwise; `serve` tells it."""
    plain, plain_url = _serve(tmp_path, db_url)
    proxied, proxied_url = _serve(tmp_path, db_url, TAKEDOWN_TRUSTED_PROXIES='["127.0.0.1"]')
    try:
        for url in (plain_url, proxied_url):
            wait_for(lambda url=url: _ready(url), 60, f"takedown serve at {url}")

        def codes(url: str, prefix: str) -> list[int]:
            return [
                httpx.post(
                    f"{url}/v1/reports",
                    json=OTHER,
                    headers={"X-Forwarded-For": f"{prefix}.{i}"},
                    timeout=10,
                ).status_code
                for i in range(4)
            ]

        assert codes(plain_url, "198.51.100") == [201, 201, 429, 429]
        assert codes(proxied_url, "192.0.2") == [201, 201, 201, 201]  # four clients
    finally:
        for process in (plain, proxied):
            process.terminate()
            process.wait(timeout=30)


# --- what counts --------------------------------------------------------------------------


def test_junk_does_not_use_up_the_global_budget(db_url: str, tmp_path: Path) -> None:
    # everyone together: a burst of 1, then one report every 100 s (the clock stands still)
    with apps(tmp_path, db_url, report_rate_total=0.01, report_rate_per_ip=600) as a:
        for peer in ("203.0.113.1", "203.0.113.2", "203.0.113.3"):
            client = a.client(peer)
            for junk in JUNK * 5:
                answer = _post(client, junk)
                assert answer.status_code == 422, answer.text
        assert _post(a.client("198.51.100.7"), OTHER).status_code == 201
        assert _post(a.client("198.51.100.8"), OTHER).status_code == 429  # budget spent now


def test_p0_is_accepted_when_others_spent_the_global_budget(db_url: str, tmp_path: Path) -> None:
    with apps(tmp_path, db_url, report_rate_total=0.01, report_rate_per_ip=4) as a:
        platform = a.client("192.0.2.1")
        content = {"content_id": "post-1", "url": "https://photos.example/p/post-1"}
        added = platform.post(
            "/v1/content",
            json={**content, "uploader_id": "u1", "signals": [{"type": "md5", "value": "a" * 32}]},
            headers={"Authorization": f"Bearer {a.admin_key}"},
        )
        assert added.status_code == 201, added.text
        assert _post(a.client("203.0.113.1"), OTHER).status_code == 201  # the one token
        parent = a.client("198.51.100.5")
        assert _post(parent, OTHER).status_code == 429  # a P2 report waits
        first = _post(parent, P0)
        assert first.status_code == 201, first.text
        assert first.json()["receipt"]["restricted"] is True
        actions = platform.get("/v1/actions", headers={"Authorization": f"Bearer {a.admin_key}"})
        assert ("restrict", "post-1") in [
            (x["action"], x["content_id"]) for x in actions.json()["actions"]
        ]
        assert _post(a.client("198.51.100.6"), P0).status_code == 201
        # the client's own limit still holds for a single flooding client
        assert _codes(a.client("198.51.100.9"), P0, 3) == [201, 201, 429]


def test_p0_by_a_child_abuse_bank_match_is_accepted_over_the_budget(
    db_url: str, tmp_path: Path
) -> None:
    md5 = "c" * 32
    with apps(tmp_path, db_url, report_rate_total=0.01) as a:
        admin = a.client("192.0.2.1")
        auth = {"Authorization": f"Bearer {a.admin_key}"}
        assert admin.post("/v1/banks", json={"name": "ncmec-csam"}, headers=auth).is_success
        entries = {"entries": [{"signal_type": "md5", "value": md5}]}
        assert admin.post("/v1/banks/ncmec-csam/entries", json=entries, headers=auth).is_success
        index = a.apps[0].state.takedown.index
        wait_for(lambda: bool(index.match([Signal("md5", md5)])), 10, "bank index")
        assert _post(a.client("203.0.113.1"), OTHER).status_code == 201
        says_other = {**OTHER, "content": [], "hashes": [{"type": "md5", "value": md5}]}
        assert _post(a.client("203.0.113.2"), {**says_other, "hashes": []}).status_code == 422
        assert _post(a.client("203.0.113.2"), says_other).status_code == 201


def test_the_report_form_counts_only_accepted_reports(db_url: str, tmp_path: Path) -> None:
    with apps(tmp_path, db_url, report_rate_total=0.01, report_rate_per_ip=600) as a:

        def form(peer: str, **fields: str) -> int:
            client = a.client(peer)
            client.get("/report")
            token = client.cookies.get("td_form") or ""
            data = {
                "csrf_token": token,
                "category": "other",
                "minor_depicted": "no",
                "relationship": "other_user",
                "url": "https://elsewhere.example/form",
                **fields,
            }
            return client.post("/report", data=data).status_code

        assert [form("203.0.113.1", url="") for _ in range(5)] == [422] * 5
        assert form("203.0.113.2") == 201
        assert form("203.0.113.3") == 429
        assert form("203.0.113.3", category="child_sexual_abuse", minor_depicted="yes") == 201


# --- shared by workers --------------------------------------------------------------------


def test_two_app_instances_share_one_limit(db_url: str, tmp_path: Path) -> None:
    with apps(tmp_path, db_url, report_rate_per_ip=4, report_rate_total=100) as a:
        one, two = a.app(), a.app()
        first, second = a.client("198.51.100.1", one), a.client("198.51.100.1", two)
        assert [_post(first, OTHER).status_code, _post(second, OTHER).status_code] == [201, 201]
        assert [_post(first, OTHER).status_code, _post(second, OTHER).status_code] == [429, 429]
    with apps(tmp_path / "b", db_url, report_rate_total=0.01) as b:
        one, two = b.app(), b.app()
        assert _post(b.client("198.51.100.2", one), OTHER).status_code == 201
        assert _post(b.client("198.51.100.3", two), OTHER).status_code == 429


def test_concurrent_reports_never_overdraw_a_bucket(db_url: str, tmp_path: Path) -> None:
    with apps(tmp_path, db_url, report_rate_per_ip=8, report_rate_total=100) as a:
        clients = [a.client("198.51.100.1", app) for app in (a.app(), a.app())]
        codes: list[int] = []
        lock = threading.Lock()

        def send(client: TestClient) -> None:
            for _ in range(4):
                code = _post(client, OTHER).status_code
                with lock:
                    codes.append(code)

        threads = [threading.Thread(target=send, args=(c,)) for c in clients * 2]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert sorted(codes) == [201] * 4 + [429] * 12  # a burst of 4, taken exactly once
        assert a.reports() == 4


def test_rate_buckets_keep_no_address(db_url: str, tmp_path: Path) -> None:
    with apps(tmp_path, db_url) as a:
        assert _post(a.client("198.51.100.77"), OTHER).status_code == 201
        engine = create_engine(db_url)
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT key FROM rate_buckets")).scalars().all()
        engine.dispose()
        assert len(rows) == 2 and not any("198.51.100.77" in key for key in rows)


# --- Idempotency-Key ----------------------------------------------------------------------


def test_idempotency_key_replays_the_first_answer(db_url: str, tmp_path: Path) -> None:
    with apps(tmp_path, db_url) as a:
        client = a.client("198.51.100.1")
        first = _post(client, OTHER, **{"Idempotency-Key": "k-1"})
        assert first.status_code == 201, first.text
        assert "Idempotent-Replayed" not in first.headers
        again = client.post(  # the same report, written differently
            "/v1/reports",
            content=json.dumps(dict(reversed(OTHER.items())), indent=2),
            headers={"Idempotency-Key": "k-1", "Content-Type": "application/json"},
        )
        assert again.status_code == 201
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.json() == first.json()  # same report id, same status link
        assert a.reports() == 1
        # another worker, or the service after a restart, answers the same
        later = a.client("198.51.100.1", a.app())
        replayed = _post(later, OTHER, **{"Idempotency-Key": "k-1"})
        assert replayed.json()["report_id"] == first.json()["report_id"]
        assert a.reports() == 1

        reused = _post(client, {**OTHER, "description": "else"}, **{"Idempotency-Key": "k-1"})
        assert reused.status_code == 422
        assert reused.json()["code"] == "idempotency_key_reused"
        # a key is its caller's own: another client or API key with it files its own report
        other = _post(a.client("198.51.100.2"), OTHER, **{"Idempotency-Key": "k-1"})
        assert other.status_code == 201 and "Idempotent-Replayed" not in other.headers
        flagger = {"Authorization": f"Bearer {a.key(Scope.TRUSTED_FLAGGER)}"}
        keyed = _post(client, OTHER, **{"Idempotency-Key": "k-1", **flagger})
        assert keyed.status_code == 201 and "Idempotent-Replayed" not in keyed.headers
        assert a.reports() == 3

        for bad in ("", "x" * 256, "a b"):
            refused = _post(client, OTHER, **{"Idempotency-Key": bad})
            assert refused.status_code == 422
            assert refused.json()["code"] == "invalid_idempotency_key"

        # the record keeps neither the key nor the status link in the clear
        engine = create_engine(db_url)
        with engine.connect() as connection:
            stored = " ".join(
                str(v)
                for row in connection.execute(text("SELECT * FROM idempotency_records"))
                for v in row
            )
        engine.dispose()
        assert first.json()["status_token"] not in stored and "k-1" not in stored

        # after 24 hours the key is free again
        for app in a.apps:
            app.state.takedown.now = lambda: NOW + timedelta(hours=25)
        fresh = _post(client, OTHER, **{"Idempotency-Key": "k-1"})
        assert fresh.status_code == 201 and "Idempotent-Replayed" not in fresh.headers
        assert fresh.json()["report_id"] != first.json()["report_id"]


def test_idempotency_key_of_a_report_in_flight(db_url: str, tmp_path: Path) -> None:
    with apps(tmp_path, db_url, report_rate_per_ip=4) as a:
        app = a.app()
        client = a.client("198.51.100.1", app)
        # two requests at once with one key: one report, the other waits or replays
        codes: list[int] = []
        barrier = threading.Barrier(4)

        def send() -> None:
            barrier.wait()
            answer = _post(client, OTHER, **{"Idempotency-Key": "same"})
            codes.append(answer.status_code)

        threads = [threading.Thread(target=send) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert codes.count(201) >= 1 and set(codes) <= {201, 409}
        assert a.reports() == 1

        # a refused (429) request gives its key back: the retry is stored, not "in flight"
        assert _post(client, OTHER).status_code == 201  # the client's second and last token
        assert _post(client, OTHER, **{"Idempotency-Key": "later"}).status_code == 429
        app.state.takedown.now = lambda: NOW + timedelta(minutes=5)
        assert _post(client, OTHER, **{"Idempotency-Key": "later"}).status_code == 201


def test_migration_0009_goes_down_and_up(db_url: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(db_url), "0008")
    engine = create_engine(db_url)
    with engine.connect() as connection, pytest.raises(Exception, match="rate_buckets"):
        connection.execute(text("SELECT * FROM rate_buckets"))
    engine.dispose()
    upgrade(db_url)
