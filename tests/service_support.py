"""Running the real service in tests: a migrated database (SQLite file or a fresh PostgreSQL
schema), the FastAPI app with its lifespan (index follower) through Starlette's TestClient,
and a real HTTP receiver for webhooks."""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from takedown.api.app import create_app
from takedown.auth.accounts import create_key, create_user, create_user_token
from takedown.auth.scopes import Role, Scope
from takedown.config import LOOPBACK_NETWORKS, Settings
from takedown.store.db import Database
from takedown.store.migrate import alembic_config, upgrade
from takedown.store.models import Base
from takedown.store.private import private_sqlite
from tests.http_servers import QuietHandler, serving

PG_SERVER = os.environ.get(
    "TAKEDOWN_TEST_POSTGRES", "postgresql+psycopg://root@localhost:5432/test"
)
REQUIRE_PG = os.environ.get("TAKEDOWN_REQUIRE_POSTGRES") == "1"

_pg_state: dict[str, bool] = {}


def postgres_available() -> bool:
    if "ok" not in _pg_state:
        engine = create_engine(PG_SERVER, connect_args={"connect_timeout": 3})
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            _pg_state["ok"] = True
        except Exception:
            _pg_state["ok"] = False
        finally:
            engine.dispose()
    return _pg_state["ok"]


_sqlite_template: list[Path] = []


def _migrated_sqlite_file() -> Path:
    """One SQLite file migrated to the newest schema per test process, copied for each test
    (0.75 s of Alembic a test, saved: the migrations themselves are checked against the
    models on both databases by ``test_migrations_match_the_models``)."""
    if not _sqlite_template:
        folder = Path(tempfile.mkdtemp(prefix="takedown-schema-"))
        upgrade(f"sqlite:///{folder / 'template.db'}")
        _sqlite_template.append(folder / "template.db")
    return _sqlite_template[0]


@contextmanager
def database_url(kind: str, tmp_path: Path, *, migrate: bool = False) -> Iterator[str]:
    """An empty database of ``kind`` (sqlite or postgresql) at the newest schema, dropped
    afterwards. ``migrate``: built by the migrations themselves; otherwise a copy of a migrated
    SQLite file, or PostgreSQL tables made from the models and stamped with the newest
    revision (the same schema: ``test_migrations_match_the_models``)."""
    if kind == "sqlite":
        file = tmp_path / "takedown.db"
        url = f"sqlite:///{file}"
        if migrate or file.exists():
            upgrade(url)
        else:
            private_sqlite(file)  # 0600 before any byte is written, as the service makes it
            shutil.copyfile(_migrated_sqlite_file(), file)
        yield url
        return
    if not postgres_available():
        message = f"PostgreSQL at {PG_SERVER} does not answer"
        if REQUIRE_PG:
            pytest.fail(f"{message}, and TAKEDOWN_REQUIRE_POSTGRES=1 makes it mandatory")
        pytest.skip(f"{message}; set TAKEDOWN_TEST_POSTGRES to run the PostgreSQL half")
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    url = f"{PG_SERVER}?options=-csearch_path%3D{schema}"
    try:
        if migrate:
            upgrade(url)
        else:
            engine = create_engine(url)
            Base.metadata.create_all(engine)
            engine.dispose()
            command.stamp(alembic_config(url), "head")
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def make_settings(tmp_path: Path, url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "home": tmp_path,
        "database_url": url,
        "background_worker": False,
        "index_poll_s": 0.05,
        "key_cache_s": 0.0,
        "worker_poll_s": 0.05,
        "webhook_retry_base_s": 0.2,
        "webhook_timeout_s": 3.0,
        # the tests' receivers listen on loopback, which webhooks may not reach by default
        "webhook_allow_networks": list(LOOPBACK_NETWORKS),
    }
    values.update(overrides)
    return Settings(**values)


@dataclass
class Service:
    client: TestClient
    db: Database
    settings: Settings
    admin_key: str

    def headers(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.admin_key}"}

    def key(self, *scopes: Scope) -> str:
        with self.db.write() as session:
            return create_key(session, "test", frozenset(scopes), actor="test")[1]

    def staff(self, role: str, email: str | None = None) -> str:
        """A staff member's API token (a new user with ``role``)."""
        address = email or f"{role}-{uuid.uuid4().hex[:8]}@example.org"
        with self.db.write() as session:
            create_user(session, address, Role(role), "a long test password", actor="test")
            return create_user_token(session, address, actor="test")[1]

    def sign_in(self, email: str, password: str) -> str:
        """Sign the test client in to the console, as a browser does (the login form's
        double-submit token, then the session); returns the session's CSRF token."""
        self.client.cookies.clear()
        page = self.client.get("/console/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token is not None
        answer = self.client.post(
            "/console/login",
            data={"csrf_token": token.group(1), "email": email, "password": password},
            follow_redirects=False,
        )
        assert answer.status_code == 303, answer.text
        found = re.search(r'name="csrf_token" value="([^"]+)"', self.client.get("/console").text)
        assert found is not None
        return found.group(1)

    def set_now(self, moment: datetime) -> None:
        """Move the service's clock (deadline tests never sleep)."""
        self.client.app.state.takedown.now = lambda: moment  # type: ignore[attr-defined]

    def as_(self, token: str, method: str, path: str, **kwargs: Any) -> Any:
        return self.client.request(method, path, headers=self.headers(token), **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        headers = {**self.headers(), **kwargs.pop("headers", {})}
        return self.client.post(path, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> Any:
        headers = {**self.headers(), **kwargs.pop("headers", {})}
        return self.client.get(path, headers=headers, **kwargs)

    def confirm_report(self, content_id: str) -> dict[str, Any]:
        """Report ``content_id`` anonymously and have a specialist confirm it (every copy
        removed); the case as a reviewer then reads it."""
        reported = self.client.post(
            "/v1/reports",
            json={
                "content": [{"content_id": content_id}],
                "category": "other",
                "minor_depicted": "no",
                "relationship": "other_user",
            },
        )
        assert reported.status_code == 201, reported.text
        case_id = reported.json()["case_id"]
        decided = self.as_(
            self.staff("child_safety_specialist"),
            "POST",
            f"/v1/cases/{case_id}/decisions",
            json={"outcome": "violation"},
        )
        assert decided.status_code == 201, decided.text
        case: dict[str, Any] = self.as_(
            self.staff("reviewer"), "GET", f"/v1/cases/{case_id}"
        ).json()
        return case

    def wait_ready(self, timeout: float = 20) -> None:
        wait_for(lambda: self.client.get("/readyz").status_code == 200, timeout, "readyz")


@contextmanager
def running_service(settings: Settings) -> Iterator[Service]:
    db = Database(settings.db_url)
    app = create_app(settings, db=db)
    with db.write() as session:
        _, admin_key = create_key(session, "admin", frozenset({Scope.ADMIN}), actor="test")
    try:
        with TestClient(app) as client:
            service = Service(client, db, settings, admin_key)
            service.wait_ready()
            yield service
    finally:
        db.dispose()


def judge_latencies(took: list[float], goal: float, stall: float = 3.0) -> None:
    """A latency claim judged as a platform would see it on a shared 2-core machine: the median
    of several samples within ``goal`` and none as long as ``stall``. One sample slowed by a
    neighbouring test's load is noise; a broken path (every sample slow, or one stuck behind
    something it must not wait for) still fails."""
    shown = [f"{t * 1000:.0f} ms" for t in took]
    assert len(took) >= 3, f"too few samples to judge: {shown}"
    assert statistics.median(took) <= goal, f"median over {goal} s: {shown}"
    assert max(took) < stall, f"one as long as the {stall} s stall bound: {shown}"


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll until ``condition``; returns the seconds it took (fails the test on timeout)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if condition():
            return time.monotonic() - started
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A real HTTP server that records webhook requests; ``fail_first`` answers 500 that many
    times before accepting."""

    fail_first: int = 0
    delay_s: float = 0.0
    received: list[Received] = field(default_factory=list)
    refused: int = 0
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @contextmanager
    def running(self) -> Iterator[Receiver]:
        receiver = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                time.sleep(receiver.delay_s)
                with receiver._lock:
                    if receiver.refused < receiver.fail_first:
                        receiver.refused += 1
                        status = 500
                    else:
                        receiver.received.append(Received(dict(self.headers.items()), body))
                        status = 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        with serving(Handler) as base:
            self.url = base + "/hook"
            yield self
