"""Exchanges fetched into banks, on SQLite and PostgreSQL, against local stand-ins: paging,
ETag, resuming after a download cut off mid-feed, withdrawals, an entry a person disabled
staying disabled, refused credentials, 429/5xx mid-feed with back-off, a bad signature, and
a failing exchange that does not stop another."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from takedown.actions.addresses import Networks
from takedown.actions.exchange_runner import fetch_until
from takedown.auth.scopes import Scope
from takedown.service import banks as bank_service
from takedown.service.exchange_fetch import AUTH_FAILED, due, fetch_exchange
from takedown.store.models import BankEntry, Exchange, ExchangeApiCredentials
from tests.exchange_servers import csv_list, feed_server, hash_list_server, jsonl_list
from tests.service_support import Service, wait_for


def pdq() -> str:
    return secrets.token_hex(32)


def _secret(service: Service) -> str:
    return str(service.client.app.state.takedown.secret)  # type: ignore[attr-defined]


def _networks(service: Service) -> Networks:
    """The stand-ins listen on 127.0.0.1: the tests' webhook_allow_networks let them in."""
    return Networks.from_settings(service.client.app.state.takedown.settings)  # type: ignore[attr-defined]


def _add(service: Service, **body: Any) -> dict[str, Any]:
    answer = service.post("/v1/exchanges", json=body)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def _add_list(service: Service, name: str, bank: str, url: str, **options: str) -> None:
    """A hash-list exchange with no credentials, filling ``bank`` from ``url``."""
    _add(service, name=name, kind="hash_list", bank=bank, options={"url": url, **options})


def _fetch(service: Service, name: str) -> dict[str, Any]:
    answer = service.post(f"/v1/exchanges/{name}/fetch?wait=true")
    assert answer.status_code == 202, answer.text
    return dict(answer.json())


def _entries(service: Service, name: str) -> dict[str, BankEntry]:
    with service.db.read() as session:
        exchange = session.execute(select(Exchange).where(Exchange.name == name)).scalar_one()
        rows = session.execute(
            select(BankEntry).where(BankEntry.exchange_id == exchange.id)
        ).scalars()
        return {row.external_id: row for row in rows}


def _matches(service: Service, value: str) -> list[str]:
    answer = service.post("/v1/lookup", json={"signals": [{"type": "pdq", "value": value}]})
    assert answer.status_code == 200, answer.text
    return [m["bank"] for m in answer.json()["matches"]]


def test_hash_list_pages_etag_and_credentials_never_shown(service: Service) -> None:
    values = [pdq() for _ in range(25)]
    with hash_list_server() as server:
        server.token = "list-token-" + secrets.token_hex(8)
        server.body = csv_list(
            [("pdq", v, "csam;ngo-a", f"id-{i}", "") for i, v in enumerate(values)]
            + [("md5", "a" * 32, "csam", "md5-1", "")]
        )
        created = _add(
            service,
            name="ngo-list",
            kind="hash_list",
            bank="ngo",
            action="hold",
            options={"url": server.url, "page_size": "10"},
            credentials={"token": server.token},
        )
        assert created["has_credentials"] is True and created["action"] == "hold"
        done = _fetch(service, "ngo-list")
        assert (done["status"], done["pages"], done["added"]) == ("done", 3, 26)
        entries = _entries(service, "ngo-list")
        assert len(entries) == 26
        assert entries["id-3"].value == values[3]
        assert entries["id-3"].label == "csam,ngo-a"
        assert entries["id-3"].source == "exchange:ngo-list"
        assert done["exchange"]["entries_added"] == 26
        assert done["exchange"]["last_success_at"] is not None

        # the same version again: one conditional request, a 304, nothing written
        again = _fetch(service, "ngo-list")
        assert (again["status"], again["pages"], again["added"]) == ("done", 0, 0)
        assert server.requests[-1]["if-none-match"] == '"v1"'

        wait_for(lambda: _matches(service, values[7]) == ["ngo"], 10, "the index to follow")
        shown = [
            service.get("/v1/exchanges").text,
            service.get("/v1/exchanges/ngo-list").text,
            again["exchange"].__repr__(),
        ]
        assert all(server.token not in text for text in shown)
        with service.db.read() as session:
            stored = session.execute(select(Exchange.credentials)).scalar_one()
        assert server.token not in stored
        metrics = service.get("/metrics").text
        assert 'takedown_exchange_entries_added_total{exchange="ngo-list"} 26.0' in metrics
        assert 'takedown_exchange_state{exchange="ngo-list",state="idle"} 1.0' in metrics
        assert 'takedown_exchange_errors_total{exchange="ngo-list"} 0.0' in metrics


def test_resume_after_a_download_cut_off_mid_feed(service: Service) -> None:
    values = [pdq() for _ in range(30)]
    with hash_list_server("/hashes.jsonl") as server:
        server.body = jsonl_list(
            [
                {"signal_type": "pdq", "value": v, "external_id": f"e{i}", "labels": ["ncii"]}
                for i, v in enumerate(values)
            ]
        )
        server.cut_after_lines = 25  # pages of 10: two written, the third cut off
        _add_list(service, "cut", "cut-bank", server.url, page_size="10")
        first = _fetch(service, "cut")
        assert first["status"] == "failed" and first["error"] == "exchange_unavailable"
        assert first["pages"] == 2 and len(_entries(service, "cut")) == 20
        assert first["exchange"]["state"] == "backoff"

        second = _fetch(service, "cut")
        assert second["status"] == "done"
        assert second["added"] == 10  # only what the cut-off download had not brought
        assert second["exchange"]["run_entries"] == 10
        entries = _entries(service, "cut")
        assert sorted(entries) == sorted(f"e{i}" for i in range(30))
        assert entries["e29"].label == "ncii"


def test_withdrawals_disable_and_a_person_s_disable_stays(service: Service) -> None:
    a, b, c = pdq(), pdq(), pdq()
    with hash_list_server() as server:
        server.body = csv_list(
            [("pdq", a, "csam", "a", ""), ("pdq", b, "csam", "b", ""), ("pdq", c, "csam", "c", "")]
        )
        _add_list(service, "list-feed", "fed", server.url)
        _fetch(service, "list-feed")
        wait_for(lambda: _matches(service, b) == ["fed"], 10, "b to match")

        with service.db.write() as session:  # a reviewer disables b as a false positive
            bank = bank_service.get_bank(session, "fed")
            bank_service.set_entry_enabled(
                session, bank, _entries(service, "list-feed")["b"].id, False, actor="reviewer"
            )
        server.etag, server.body = (
            '"v2"',
            csv_list([("pdq", a, "csam", "a", "true"), ("pdq", b, "csam", "b", "")]),
        )
        withdrawn = _fetch(service, "list-feed")
        # a marked removed, c no longer on the list (the file is the whole list)
        assert (withdrawn["removed"], withdrawn["exchange"]["entries_removed"]) == (2, 2)
        entries = _entries(service, "list-feed")
        assert (entries["a"].enabled, entries["a"].feed_removed) == (False, True)
        assert (entries["b"].enabled, entries["b"].feed_removed) == (False, False)
        assert (entries["c"].enabled, entries["c"].feed_removed) == (False, True)
        wait_for(lambda: _matches(service, a) == [], 10, "the withdrawn entry to stop matching")
        wait_for(lambda: _matches(service, c) == [], 10, "the entry off the list to stop matching")

        # the list brings all back: the withdrawn ones are enabled, the person's stays off
        server.etag, server.body = (
            '"v3"',
            csv_list([("pdq", v, "csam", k, "") for k, v in (("a", a), ("b", b), ("c", c))]),
        )
        _fetch(service, "list-feed")
        entries = _entries(service, "list-feed")
        assert entries["a"].enabled and not entries["a"].feed_removed
        assert entries["c"].enabled and not entries["c"].feed_removed
        assert not entries["b"].enabled
        wait_for(lambda: _matches(service, a) == ["fed"], 10, "a to match again")
        assert _matches(service, c) == ["fed"]
        assert _matches(service, b) == []


def test_a_new_version_of_a_whole_list_withdraws_what_it_no_longer_holds(
    service: Service,
) -> None:
    """Lists published as files drop a hash by leaving its line out. Withdrawn only once the new
    version is read to its end (a download cut off midway withdraws nothing, and its resume
    finishes the same version); an emptied file withdraws nothing; ``mode=append`` keeps."""
    values = {f"e{i}": pdq() for i in range(12)}
    with hash_list_server("/list.jsonl") as full, hash_list_server("/adds.jsonl") as adds:
        for server in (full, adds):
            server.body = jsonl_list(
                [{"signal_type": "pdq", "value": v, "external_id": k} for k, v in values.items()]
            )
        _add_list(service, "whole", "whole", full.url, page_size="4")
        _add_list(service, "adds", "adds", adds.url, mode="append")
        assert _fetch(service, "whole")["added"] == 12 and _fetch(service, "adds")["added"] == 12

        kept = [k for k in values if k not in ("e0", "e11")]
        for server in (full, adds):
            server.etag = '"v2"'
            server.body = jsonl_list(
                [{"signal_type": "pdq", "value": values[k], "external_id": k} for k in kept]
            )
        full.cut_after_lines = 6  # one page of 4 written, then the download breaks
        cut = _fetch(service, "whole")
        assert cut["status"] == "failed" and cut["removed"] == 0
        assert all(row.enabled for row in _entries(service, "whole").values())
        resumed = _fetch(service, "whole")
        assert (resumed["status"], resumed["removed"]) == ("done", 2)
        entries = _entries(service, "whole")
        assert {k for k, row in entries.items() if not row.enabled} == {"e0", "e11"}
        assert all(entries[k].feed_removed for k in ("e0", "e11"))
        wait_for(lambda: _matches(service, values["e0"]) == ["adds"], 10, "e0 off the list")

        assert _fetch(service, "adds")["removed"] == 0
        assert all(row.enabled for row in _entries(service, "adds").values())

        full.etag, full.body = '"v3"', ""
        emptied = _fetch(service, "whole")
        assert (emptied["status"], emptied["removed"]) == ("done", 0)
        assert sum(row.enabled for row in _entries(service, "whole").values()) == 10

        refused = service.post(
            "/v1/exchanges",
            json={
                "name": "m",
                "kind": "hash_list",
                "bank": "m",
                "options": {"url": full.url, "mode": "sync"},
            },
        )
        assert refused.status_code == 422, refused.text


def test_refused_credentials_stop_the_exchange_until_they_change(service: Service) -> None:
    with hash_list_server() as server:
        server.token = "right"
        server.body = csv_list([("pdq", pdq(), "x", "1", "")])
        _add(
            service,
            name="locked",
            kind="hash_list",
            bank="locked-bank",
            options={"url": server.url},
            credentials={"token": "wrong"},
        )
        refused = fetch_exchange(
            service.db, "locked", secret=_secret(service), networks=_networks(service)
        )
        assert (refused.status, refused.error) == ("stopped", "exchange_auth")
        view = service.get("/v1/exchanges/locked").json()
        assert (view["state"], view["last_error"], view["next_attempt_at"]) == (
            AUTH_FAILED,
            "exchange_auth",
            None,
        )
        far = datetime.now(UTC) + timedelta(days=30)
        assert "locked" not in due(service.db, far)  # the schedule leaves it alone
        skipped = fetch_exchange(
            service.db, "locked", secret=_secret(service), networks=_networks(service)
        )
        assert (skipped.status, skipped.error) == ("stopped", "exchange_auth")

        changed = service.client.put(
            "/v1/exchanges/locked/credentials",
            json={"credentials": {"token": "right"}},
            headers=service.headers(),
        )
        assert changed.status_code == 200 and changed.json()["state"] == "idle"
        assert "locked" in due(service.db, datetime.now(UTC) + timedelta(seconds=1))
        assert (
            fetch_exchange(
                service.db, "locked", secret=_secret(service), networks=_networks(service)
            ).status
            == "done"
        )


def _feed_exchange(service: Service, server: Any, name: str, page_size: int = 2) -> None:
    _add(
        service,
        name=name,
        kind="takedown",
        bank=f"{name}-bank",
        options={
            "url": server.url,
            "public_key": server.public_key,
            "page_size": str(page_size),
        },
        credentials={"api_key": server.api_key},
    )


def test_429_and_5xx_mid_feed_back_off_then_resume(service: Service) -> None:
    with feed_server() as server:
        values = [pdq() for _ in range(6)]
        for value in values:
            server.add("pdq", value, "csam")
        server.failures[1] = [(429, {"Retry-After": "600"}), (503, {})]
        _feed_exchange(service, server, "peer")
        now = datetime.now(UTC)

        limited = fetch_exchange(
            service.db,
            "peer",
            secret=_secret(service),
            networks=_networks(service),
            now=lambda: now,
        )
        assert (limited.status, limited.error, limited.pages) == (
            "failed",
            "exchange_rate_limited",
            1,
        )
        assert limited.retry_at is not None and limited.retry_at >= now + timedelta(seconds=600)
        assert len(_entries(service, "peer")) == 2
        assert "peer" not in due(service.db, now + timedelta(seconds=599))

        later = now + timedelta(seconds=601)
        failed = fetch_exchange(
            service.db,
            "peer",
            secret=_secret(service),
            networks=_networks(service),
            now=lambda: later,
        )
        assert (failed.status, failed.error) == ("failed", "exchange_unavailable")
        assert failed.retry_at is not None and failed.retry_at >= later + timedelta(seconds=60)
        view = service.get("/v1/exchanges/peer").json()
        assert (view["failures"], view["errors_total"], view["state"]) == (2, 2, "backoff")

        done = fetch_exchange(
            service.db, "peer", secret=_secret(service), networks=_networks(service)
        )
        assert (done.status, done.pages, done.added) == ("done", 2, 4)
        assert server.asked[-2:] == ["000000000002", "000000000004"]  # resumed, not restarted
        assert sorted(e.value for e in _entries(service, "peer").values()) == sorted(values)
        assert service.get("/v1/exchanges/peer").json()["failures"] == 0

        server.add("pdq", values[0], "csam", removed=True)
        withdrawn = fetch_exchange(
            service.db, "peer", secret=_secret(service), networks=_networks(service)
        )
        assert (withdrawn.pages, withdrawn.removed) == (1, 1)
        assert not _entries(service, "peer")[values[0]].enabled


def test_a_page_whose_signature_fails_writes_nothing(service: Service) -> None:
    with feed_server() as server:
        server.add("pdq", pdq(), "ncii")
        server.tamper = True
        _feed_exchange(service, server, "tampered")
        result = fetch_exchange(
            service.db, "tampered", secret=_secret(service), networks=_networks(service)
        )
        assert (result.status, result.error) == ("failed", "bad_signature")
        assert _entries(service, "tampered") == {}


def test_a_failing_exchange_does_not_stop_another(service: Service) -> None:
    with hash_list_server() as broken, hash_list_server() as good:
        broken.failures = [(500, {})] * 50
        value = pdq()
        good.body = csv_list([("pdq", value, "csam", "1", "")])
        _add_list(service, "broken", "b1", broken.url)
        _add_list(service, "good", "b2", good.url)
        stop = threading.Event()
        runner = threading.Thread(
            target=fetch_until,
            args=(service.db, _secret(service), stop),
            kwargs={"poll_s": 0.05, "networks": _networks(service)},
        )
        runner.start()
        try:
            wait_for(
                lambda: service.get("/v1/exchanges/good").json()["last_success_at"] is not None,
                20,
                "the good exchange to be fetched",
            )
            wait_for(
                lambda: service.get("/v1/exchanges/broken").json()["last_error"] != "",
                20,
                "the broken exchange to fail",
            )
        finally:
            stop.set()
            runner.join(timeout=30)
        assert service.get("/v1/exchanges/broken").json()["state"] == "backoff"
        wait_for(lambda: _matches(service, value) == ["b2"], 10, "the good entries to match")
        assert service.get("/healthz").status_code == 200


def test_api_refusals_and_remove(service: Service) -> None:
    with hash_list_server() as server:
        bad = [
            ({"name": "x", "kind": "carrier-pigeon", "bank": "b"}, 422, "unknown_exchange_kind"),
            ({"name": "x", "kind": "hash_list", "bank": "b"}, 422, "invalid_field"),
            (
                {"name": "x", "kind": "hash_list", "bank": "b", "options": {"url": "ftp://a/b"}},
                422,
                "invalid_field",
            ),
            (
                {
                    "name": "x",
                    "kind": "takedown",
                    "bank": "b",
                    "options": {"url": server.url, "public_key": "bm90IGEga2V5"},
                },
                422,
                "invalid_field",
            ),
            (
                {
                    "name": "x",
                    "kind": "hash_list",
                    "bank": "b",
                    "options": {"url": server.url},
                    "credentials": {"password": "p"},
                },
                422,
                "invalid_field",
            ),
        ]
        for body, status, code in bad:
            answer = service.post("/v1/exchanges", json=body)
            assert (answer.status_code, answer.json()["code"]) == (status, code), body
        assert service.get("/v1/banks/b").status_code == 404  # nothing half-made

        server.body = csv_list([("pdq", pdq(), "x", "1", "")])
        _add_list(service, "one", "shared", server.url)
        again = service.post(
            "/v1/exchanges",
            json={"name": "one", "kind": "hash_list", "bank": "o", "options": {"url": server.url}},
        )
        assert (again.status_code, again.json()["code"]) == (409, "exchange_exists")
        taken = service.post(
            "/v1/exchanges",
            json={
                "name": "two",
                "kind": "hash_list",
                "bank": "shared",
                "options": {"url": server.url},
            },
        )
        assert (taken.status_code, taken.json()["code"]) == (409, "bank_in_use")
        _fetch(service, "one")

        reader = service.key(Scope.BANKS_WRITE)
        assert (
            service.client.get("/v1/exchanges", headers=service.headers(reader)).status_code == 403
        )

        removed = service.client.delete("/v1/exchanges/one", headers=service.headers())
        assert removed.status_code == 200 and removed.json() == {"name": "one", "entries_kept": 1}
        assert service.get("/v1/exchanges/one").json()["code"] == "exchange_not_found"
        assert service.get("/v1/banks/shared").json()["entries"] == 1
        assert service.post("/v1/exchanges/one/fetch").status_code == 404


def test_plain_list_needs_its_signal_type(service: Service) -> None:
    with hash_list_server("/list.txt") as server:
        md5 = secrets.token_hex(16)
        server.body = f"# md5 list\n{md5}\nnot-a-hash\n"
        refused = service.post(
            "/v1/exchanges",
            json={"name": "p", "kind": "hash_list", "bank": "p", "options": {"url": server.url}},
        )
        assert refused.json()["code"] == "invalid_field"
        _add_list(service, "p", "p", server.url, format="plain", signal_type="md5")
        done = _fetch(service, "p")
        assert (done["status"], done["added"]) == ("done", 1)  # the bad line is skipped
        assert [e.value for e in _entries(service, "p").values()] == [md5]


def _cli(db_url: str, home: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    return subprocess.run(
        [sys.executable, "-m", "takedown", "exchange", *args],
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "TAKEDOWN_DATABASE_URL": db_url,
            "TAKEDOWN_HOME": str(home),
            "TAKEDOWN_WEBHOOK_ALLOW_NETWORKS": '["127.0.0.0/8"]',  # the stand-in's address
            **(env or {}),
        },
        timeout=300,
        check=False,
    )


def test_cli_add_list_fetch_remove(db_url: str, tmp_path: Path) -> None:
    token = "cli-token-" + secrets.token_hex(8)
    with hash_list_server() as server:
        server.token = token
        server.body = csv_list([("pdq", pdq(), "csam", str(i), "") for i in range(12)])
        added = _cli(
            db_url,
            tmp_path,
            "add",
            "cli-list",
            "--kind",
            "hash_list",
            "--bank",
            "cli-bank",
            "--action",
            "hold",
            "--option",
            f"url={server.url}",
            "--option",
            "page_size=5",
            "--credential",
            "token",
            env={"TAKEDOWN_EXCHANGE_TOKEN": token},
        )
        assert added.returncode == 0, added.stderr
        assert "next: takedown exchange fetch cli-list" in added.stderr

        fetched = _cli(db_url, tmp_path, "fetch", "cli-list")
        assert fetched.returncode == 0, fetched.stderr
        assert "cli-list: done: 3 pages, 12 added, 0 removed" in fetched.stdout
        assert "12 entries, 3 pages" in fetched.stderr  # the progress bar's last state

        listed = _cli(db_url, tmp_path, "list")
        assert listed.returncode == 0 and "cli-list" in listed.stdout
        assert "12/12" in listed.stdout
        for answer in (added, fetched, listed):
            assert token not in answer.stdout + answer.stderr

        server.token = "rotated"
        refused = _cli(db_url, tmp_path, "fetch", "cli-list")
        assert refused.returncode == 1 and "exchange_auth" in refused.stderr
        assert "set new ones" in refused.stderr
        unknown = _cli(db_url, tmp_path, "fetch", "nope")
        assert unknown.returncode == 1 and "takedown exchange list" in unknown.stderr

        removed = _cli(db_url, tmp_path, "remove", "cli-list")
        assert removed.returncode == 0 and "12 entries stay" in removed.stdout


def test_an_exchange_without_credentials_uses_its_kinds(service: Service) -> None:
    """Credentials set on a kind (HMA's per-API credentials) serve its exchanges that have
    none of their own; they are sealed at rest, and cleared they serve no more."""
    value = pdq()
    with hash_list_server() as server:
        server.token = "kind-token-" + secrets.token_hex(8)
        server.body = csv_list([("pdq", value, "x", "1", "")])
        given = {"credential_json": {"token": server.token}}
        answer = service.post("/hma/c/exchanges/api/hash_list", json=given)
        assert answer.json() == {
            "supports_authentification": True,
            "has_set_authentification": True,
        }
        _add_list(service, "shared", "shared-bank", server.url)
        assert _fetch(service, "shared")["status"] == "done"
        wait_for(lambda: _matches(service, value) == ["shared-bank"], 10, "the fed hash")
        with service.db.read() as session:
            stored = str(
                session.execute(select(ExchangeApiCredentials)).scalars().all()[0].credentials
            )
        assert stored and server.token not in stored

        service.post("/hma/c/exchanges/api/hash_list", json={"credential_json": {}})
        refused = _fetch(service, "shared")
        assert (refused["status"], refused["error"]) == ("stopped", "exchange_auth")
