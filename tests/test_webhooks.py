"""Webhook delivery against a real HTTP receiver, on SQLite and PostgreSQL: signed, with an
idempotency key, retried with back-off, logged; and a worker process killed again and again
loses no action and never sends one action under two keys."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from takedown.actions.kinds import ActionKind
from takedown.actions.outbox import emit
from takedown.actions.signing import sign, verify
from takedown.config import LOOPBACK_NETWORKS
from takedown.service import content as content_service
from takedown.service.content import ContentInfo, MatchInfo
from takedown.store.db import Database
from takedown.store.models import Action, Content, Delivery, Webhook
from tests.service_support import Receiver, make_settings, running_service, wait_for

BLOCKING = MatchInfo("b", "1", "", "md5", 0)


def test_signature_round_trip_and_refusals() -> None:
    body = b'{"action":"remove"}'
    header = sign("s3cret", body)
    assert verify("s3cret", header, body)
    assert not verify("other", header, body)
    assert not verify("s3cret", header, body + b" ")
    old = sign("s3cret", body, timestamp=int(time.time()) - 3600)
    assert not verify("s3cret", old, body)
    assert not verify("s3cret", "garbage", body)


def test_block_verdict_reaches_the_receiver_signed(db_url: str, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, db_url, background_worker=True)
    with Receiver(fail_first=2).running() as receiver, running_service(settings) as service:
        hook = service.post("/v1/webhooks", json={"url": receiver.url})
        assert hook.status_code == 201
        secret = hook.json()["secret"]
        service.post("/v1/banks", json={"name": "known"})
        service.post(
            "/v1/banks/known/entries",
            json={"entries": [{"signal_type": "md5", "value": "d" * 32}]},
        )
        wait_for(
            lambda: (
                service.post(
                    "/v1/lookup", json={"signals": [{"type": "md5", "value": "d" * 32}]}
                ).json()["verdict"]
                == "block"
            ),
            2,
            "bank entry",
        )
        answer = service.post(
            "/v1/content",
            json={"content_id": "w-1", "signals": [{"type": "md5", "value": "d" * 32}]},
        )
        assert answer.json()["verdict"] == "block"
        wait_for(lambda: len(receiver.received) == 1, 10, "the webhook")
        got = receiver.received[0]
        assert verify(secret, got.headers["Takedown-Signature"], got.body)
        assert got.json["action"] == "remove"
        assert got.json["content_id"] == "w-1"
        assert got.headers["Idempotency-Key"] == got.json["idempotency_key"]
        assert receiver.refused == 2  # two 500s, then accepted: retried with back-off
        log = f"/v1/webhooks/{hook.json()['id']}/deliveries"
        # recorded just after the receiver answered
        wait_for(lambda: service.get(log).json()[0]["status"] == "delivered", 5, "the log")
        deliveries = service.get(log).json()
        assert deliveries[0]["attempts"] == 3
        pulled = service.get("/v1/actions", params={"after": 0}).json()
        assert pulled["actions"][0]["idempotency_key"] == got.json["idempotency_key"]
        assert (
            service.get("/v1/actions", params={"after": pulled["next_cursor"]}).json()["actions"]
            == []
        )


def test_action_rolls_back_with_its_cause(db_url: str) -> None:
    """The outbox: a failure after the action is written leaves neither content nor action."""
    db = Database(db_url)
    with pytest.raises(RuntimeError), db.write() as session:
        content_service.register(session, ContentInfo("rb-1"), [], [BLOCKING])
        raise RuntimeError("crash before commit")
    with db.read() as session:
        assert session.execute(select(func.count()).select_from(Action)).scalar_one() == 0
        assert session.execute(select(func.count()).select_from(Content)).scalar_one() == 0
    db.dispose()


def _worker(db_url: str, tmp_path: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "TAKEDOWN_DATABASE_URL": db_url,
        "TAKEDOWN_HOME": str(tmp_path),
        "TAKEDOWN_WORKER_POLL_S": "0.02",
        "TAKEDOWN_WEBHOOK_TIMEOUT_S": "0.5",
        "TAKEDOWN_WEBHOOK_RETRY_BASE_S": "0.1",
        "TAKEDOWN_WEBHOOK_ALLOW_NETWORKS": json.dumps(list(LOOPBACK_NETWORKS)),
        "TAKEDOWN_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "takedown", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_killed_worker_loses_nothing_and_keeps_keys(db_url: str, tmp_path: Path) -> None:
    db = Database(db_url)
    with Receiver(delay_s=0.025).running() as receiver:
        with db.write() as session:
            session.add(Webhook(url=receiver.url, secret="kill-test-secret"))
        keys = []
        with db.write() as session:
            for i in range(60):
                keys.append(emit(session, ActionKind.REMOVE, content_id=f"k-{i}").key)
        rng = random.Random(7)
        kills = 0
        seen: list[int] = []  # received so far at each kill
        while kills < 6:
            process = _worker(db_url, tmp_path)
            time.sleep(rng.uniform(0.8, 2.0))  # start-up takes ~1 s; then 25 ms per request
            process.send_signal(signal.SIGKILL)
            process.wait()
            kills += 1
            seen.append(len(receiver.received))
        process = _worker(db_url, tmp_path)
        try:

            def all_delivered() -> bool:
                with db.read() as session:
                    pending = session.execute(
                        select(func.count())
                        .select_from(Delivery)
                        .where(Delivery.status != "delivered")
                    ).scalar_one()
                return pending == 0

            wait_for(all_delivered, 60, "every delivery")
        finally:
            process.terminate()
            process.wait(timeout=20)
        by_key: dict[str, set[bytes]] = {}
        for got in receiver.received:
            assert verify("kill-test-secret", got.headers["Takedown-Signature"], got.body)
            assert got.json["idempotency_key"] == got.headers["Idempotency-Key"]
            by_key.setdefault(got.headers["Idempotency-Key"], set()).add(got.body)
        assert set(by_key) == set(keys)  # nothing lost, no key the outbox did not write
        assert all(len(bodies) == 1 for bodies in by_key.values())  # one body per key
        print(f"{len(receiver.received)} requests for {len(keys)} actions; at the kills: {seen}")
    db.dispose()
