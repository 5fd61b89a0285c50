"""Schemathesis over the OpenAPI, with an admin key, on SQLite and PostgreSQL: no generated
request (valid or not) may make the service answer 5xx.

Two passes: every operation on its own, then sequences that follow the schema's OpenAPI links
(a bank created, then entries added to it; a report filed, then its status page read and
answered; content registered, then read and patched), which reach the code behind real ids
rather than a 404 for a made-up one."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Flaky
from schemathesis.checks import not_a_server_error
from schemathesis.hooks import HookContext

from takedown.api.app import create_app
from takedown.auth.accounts import create_key
from takedown.auth.scopes import Scope
from takedown.store.db import Database
from tests.service_support import database_url, make_settings, wait_for

EXAMPLES_PER_OPERATION = {"sqlite": 12, "postgresql": 30}
"""Examples per operation: PostgreSQL is where a generated value (a NUL byte, a 64-bit
integer) can fail the storage; SQLite takes what it is given."""
SCENARIOS = 15
ROUNDS = 2
STEPS_PER_SCENARIO = 6

VALID_REPORT = {
    "category": "non_consensual_intimate_image",
    "minor_depicted": "no",
    "relationship": "self",
    "description": "a photo of me posted without my consent",
    "contact": {"email": "reporter@example.org"},
    "good_faith_statement": True,
    "signature": "A. Reporter",
}


def _report(n: int) -> dict[str, Any]:
    return {**VALID_REPORT, "content": [{"url": f"https://photos.example/p/{n}"}]}


def _content(n: int) -> dict[str, Any]:
    return {"content_id": f"fuzz-{n}", "signals": [{"type": "md5", "value": f"{n:032x}"}]}


def _bank(n: int) -> dict[str, Any]:
    return {"name": f"fuzz-{n}"}


# A generated body is seldom acceptable (a report needs a link and a category, a bank a name
# of its own): half of these operations' bodies are replaced by a real one, whose answer then
# feeds the linked calls.
REAL_BODIES = {
    "POST /v1/reports": _report,
    "POST /v1/content": _content,
    "POST /v1/banks": _bank,
}

# Each family gets its own state machine, so that its creating call is a root of the sequences
# and a scenario follows its links more often than it starts afresh (the single-operation
# pass covers every operation). What a family must reach with an id from an earlier answer:
FAMILIES = {
    r"^/v1/reports": {
        "GET /v1/reports/status/{token}",
        "POST /v1/reports/status/{token}/reply",
        "POST /v1/reports/status/{token}/appeal",
    },
    r"^/v1/content": {"GET /v1/content/{content_id}", "PATCH /v1/content/{content_id}"},
    r"^/v1/banks": {
        "GET /v1/banks/{name}",
        "GET /v1/banks/{name}/entries",
        "POST /v1/banks/{name}/entries",
        "POST /v1/banks/{name}/import",
    },
}

# the links the schema must carry for the stateful pass to reach what matters
REQUIRED_LINKS = {
    ("/v1/reports", "post"): {"ReportStatus", "ReportReply", "ReportCase"},
    ("/v1/content", "post"): {"Content", "ContentPatch"},
    ("/v1/banks", "post"): {"Bank", "BankEntries", "BankImport"},
}


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


def test_no_server_errors(running_app: tuple[FastAPI, str], request: pytest.FixtureRequest) -> None:
    app, key = running_app
    examples = EXAMPLES_PER_OPERATION[request.node.callspec.params["running_app"]]
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=examples,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def check(case: schemathesis.Case) -> None:
            response = case.call(headers={"Authorization": f"Bearer {key}"})
            case.validate_response(response, checks=(not_a_server_error,))

        check()


def test_openapi_declares_links(running_app: tuple[FastAPI, str]) -> None:
    app, _ = running_app
    paths = app.openapi()["paths"]
    for (path, method), names in REQUIRED_LINKS.items():
        responses = paths[path][method]["responses"]
        declared = {name for response in responses.values() for name in response.get("links", {})}
        assert names <= declared, (path, method, names - declared)
        for response in responses.values():
            for link in response.get("links", {}).values():
                target = link["operationRef"].removeprefix("#/paths/").rsplit("/", 1)
                target_path = target[0].replace("~1", "/").replace("~0", "~")
                assert target[1] in paths[target_path], link


def test_linked_sequences_no_server_errors(running_app: tuple[FastAPI, str]) -> None:
    """Each 5xx is written down rather than raised: a raised one makes Hypothesis replay the
    scenario to shrink it, and a replay against a database the first run changed (the bank
    name now taken) draws differently, which Hypothesis reports as flaky and so hides the
    answer that mattered. For the same reason a flaky round ends that round, not the test."""
    app, key = running_app
    server_errors: list[str] = []
    for family, linked in FAMILIES.items():
        reached = _run_sequences(app, key, family, server_errors)
        assert reached & linked, (family, sorted(reached))
    assert not server_errors, "\n".join(server_errors)


def _run_sequences(app: FastAPI, key: str, family: str, server_errors: list[str]) -> set[str]:
    """Run the state machine of one family of operations; the operations that answered
    below 400 (so with an id that exists)."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app).include(path_regex=family)

    @schema.hook("flatmap_body")
    def real_bodies(context: HookContext, body: Any) -> st.SearchStrategy[Any]:
        make = REAL_BODIES.get(context.operation.label) if context.operation else None
        if make is None:
            return st.just(body)
        return st.one_of(st.just(body), st.builds(make, st.integers(0, 5)))

    auth = {"Authorization": f"Bearer {key}"}
    reached: set[str] = set()

    class Sequences(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"headers": auth}

        def validate_response(
            self,
            response: Any,
            case: schemathesis.Case,
            additional_checks: Any = None,
            **kwargs: Any,
        ) -> None:
            if response.status_code < 400:
                reached.add(f"{case.method} {case.operation.path}")
            if response.status_code >= 500:
                server_errors.append(
                    f"{case.method} {case.formatted_path} -> {response.status_code}: "
                    f"{response.text[:300]}"
                )

    for _ in range(ROUNDS):
        with contextlib.suppress(Flaky):
            Sequences.run(
                settings=settings(
                    max_examples=SCENARIOS,
                    stateful_step_count=STEPS_PER_SCENARIO,
                    deadline=None,
                    suppress_health_check=list(HealthCheck),
                    database=None,
                )
            )
    return reached
