"""A client written the way the tools built on HMA call it (ROOST Coop's HMA adapter,
hma-matrix's bot): plain HTTP to HMA's root paths, hash by URL, raw lookup, add to a bank,
no authentication header. Run against takedown served by uvicorn on loopback, through the
"HMA client" key flag (and, for a tool that can send one, an API key)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from takedown.api.app import create_app
from takedown.auth.accounts import create_key, revoke_key
from takedown.auth.scopes import Scope
from takedown.config import LOOPBACK_NETWORKS
from takedown.service.hma_content import set_hma_client
from takedown.store.db import Database
from takedown.store.models import AuditEvent
from takedown.store.models import HmaClient as ClientFlag
from tests.browser_support import live_server
from tests.hma_support import AAA_ORIG, PDQ, REFERENCE, media_server
from tests.service_support import make_settings, wait_for


class HmaClient:
    """What an HMA integration does, in its own words (no takedown-specific calls)."""

    def __init__(self, base_url: str, api_key: str | None = None) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.http = httpx.Client(base_url=base_url, headers=headers, timeout=30)

    def _json(self, answer: httpx.Response) -> Any:
        if answer.status_code >= 400:
            raise RuntimeError(f"HMA said {answer.status_code}: {answer.json()['message']}")
        return answer.json()

    def create_bank(self, name: str) -> None:
        self._json(self.http.post("/c/banks", json={"name": name}))

    def hash_url(self, url: str) -> dict[str, str]:
        result: dict[str, str] = self._json(self.http.get("/h/hash", params={"url": url}))
        return result

    def raw_lookup(self, signal_type: str, signal: str) -> list[int]:
        answer = self.http.get(
            "/m/raw_lookup", params={"signal_type": signal_type, "signal": signal}
        )
        matches: list[int] = self._json(answer)["matches"]
        return matches

    def lookup(self, signal_type: str, signal: str) -> dict[str, list[dict[str, Any]]]:
        answer = self.http.get("/m/lookup", params={"signal_type": signal_type, "signal": signal})
        result: dict[str, list[dict[str, Any]]] = self._json(answer)
        return result

    def add_url_to_bank(self, bank: str, url: str, note: str) -> int:
        answer = self.http.post(
            f"/c/bank/{bank}/content",
            params={"url": url, "content_type": "photo"},
            json={"metadata": {"content_uri": url}, "note": note},
        )
        content_id: int = self._json(answer)["id"]
        return content_id

    def add_hash_to_bank(self, bank: str, signal_type: str, signal: str) -> int:
        content_id: int = self._json(
            self.http.post(f"/c/bank/{bank}/signal", json={signal_type: signal})
        )["id"]
        return content_id


@pytest.fixture
def served(db_url: str, tmp_path: Path) -> Iterator[tuple[str, Database, int, str]]:
    """takedown on loopback (uvicorn), keyless HMA calls allowed from loopback; yields the
    base URL, the database, and the flagged key's id and secret."""
    if not REFERENCE.is_dir():
        pytest.skip("the shared reference images are absent (CI always has them)")
    settings = make_settings(
        tmp_path,
        db_url,
        hma_compat_root=True,
        hma_fetch_allow_networks=list(LOOPBACK_NETWORKS),
        hma_client_networks=["127.0.0.1/32"],
    )
    db = Database(settings.db_url)
    try:
        with db.write() as session:
            row, secret = create_key(
                session, "moderation bot", frozenset({Scope.LOOKUP, Scope.BANKS_WRITE}), "test"
            )
            key_id = row.id
        with live_server(create_app(settings, db=db)) as base:
            yield base, db, key_id, secret
    finally:
        db.dispose()


def test_a_moderation_bot_switches_from_hma(served: tuple[str, Database, int, str]) -> None:
    base, db, key_id, secret = served
    bot = HmaClient(base)
    # no key flagged yet: a keyless call is refused as any other
    with pytest.raises(RuntimeError, match="401"):
        bot.raw_lookup("pdq", PDQ[AAA_ORIG])
    with db.write() as session:
        set_hma_client(session, key_id, True, "test")

    with media_server() as media:
        url = f"{media}/img/{AAA_ORIG}"
        bot.create_bank("MATRIX_BANNED")
        assert bot.hash_url(url) == {"pdq": PDQ[AAA_ORIG]}
        assert bot.raw_lookup("pdq", PDQ[AAA_ORIG]) == []
        content_id = bot.add_url_to_bank("MATRIX_BANNED", url, note="room !abc: spam wave")
        assert content_id == 1
    wait_for(lambda: bot.raw_lookup("pdq", PDQ[AAA_ORIG]) == [1], 10, "the banked photo matches")
    assert bot.lookup("pdq", PDQ[AAA_ORIG]) == {
        "MATRIX_BANNED": [{"bank_content_id": 1, "distance": "0"}]
    }
    assert bot.add_hash_to_bank("MATRIX_BANNED", "pdq", "f" * 64) == 2

    # the flagged key's scopes still apply: it may not read hash lists (banks:export)
    export = bot.http.get("/c/bank/MATRIX_BANNED/content/1", params={"include_signals": "true"})
    assert export.status_code == 403
    # a tool that sends its key (Coop) gets the same answers, under /hma as at the root
    coop = HmaClient(f"{base}/hma", api_key=secret)
    assert coop.raw_lookup("pdq", PDQ[AAA_ORIG]) == [1]

    # the flag goes with the key: revoked, keyless calls are refused again
    with db.write() as session:
        revoke_key(session, key_id, "test")
    with pytest.raises(RuntimeError, match="401"):
        bot.raw_lookup("pdq", PDQ[AAA_ORIG])


def test_hma_client_flag_from_the_cli(db_url: str, tmp_path: Path) -> None:
    """``takedown keys hma-client`` flags one platform key (flagging another moves the flag),
    refuses a revoked key, and ``--off`` clears it; each is in the audit log."""
    env = {**os.environ, "TAKEDOWN_DATABASE_URL": db_url, "TAKEDOWN_HOME": str(tmp_path)}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "takedown", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    db = Database(db_url)
    try:
        with db.write() as session:
            first = create_key(session, "bot", frozenset({Scope.LOOKUP}), "test")[0].id
            second = create_key(session, "bot 2", frozenset({Scope.LOOKUP}), "test")[0].id
            revoked = create_key(session, "old", frozenset({Scope.LOOKUP}), "test")[0].id
            revoke_key(session, revoked, "test")

        def flagged() -> list[int]:
            with db.read() as session:
                return list(session.execute(select(ClientFlag.key_id)).scalars())

        assert cli("keys", "hma-client", str(first)).returncode == 0
        assert flagged() == [first]
        assert cli("keys", "hma-client", str(second)).returncode == 0
        assert flagged() == [second]
        refused = cli("keys", "hma-client", str(revoked))
        assert refused.returncode == 1
        assert "only an active platform key" in refused.stderr
        assert cli("keys", "hma-client", "999999").returncode == 1
        assert cli("keys", "hma-client", str(second), "--off").returncode == 0
        assert flagged() == []
        with db.read() as session:
            actions = session.execute(
                select(AuditEvent.action).where(AuditEvent.action == "key.hma_client")
            ).all()
        assert len(actions) == 3
    finally:
        db.dispose()
