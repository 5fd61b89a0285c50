"""Schemathesis over the OpenAPI, with an admin key, on SQLite and PostgreSQL: no generated
request (valid or not) may make the service answer 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from takedown.api.app import create_app
from takedown.auth.accounts import create_key
from takedown.auth.scopes import Scope
from takedown.store.db import Database
from tests.service_support import database_url, make_settings, wait_for

EXAMPLES_PER_OPERATION = 30


@pytest.fixture(params=["sqlite", "postgresql"])
def running_app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[FastAPI, str]]:
    with database_url(request.param, tmp_path) as url:
        db = Database(url)
        with db.write() as session:
            key = create_key(session, "fuzz", frozenset({Scope.ADMIN}), actor="t")[1]
        app = create_app(make_settings(tmp_path, url, max_upload_bytes=1_000_000), db=db)
        with TestClient(app) as client:  # runs the lifespan: indexes load, follower runs
            wait_for(lambda: client.get("/readyz").status_code == 200, 20, "readiness")
            admin = {"Authorization": f"Bearer {key}"}
            client.post("/v1/banks", json={"name": "fuzz"}, headers=admin)
            yield app, key
        db.dispose()


def test_no_server_errors(running_app: tuple[FastAPI, str]) -> None:
    app, key = running_app
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def check(case: schemathesis.Case) -> None:
            response = case.call(headers={"Authorization": f"Bearer {key}"})
            case.validate_response(response, checks=(not_a_server_error,))

        check()
