"""A reviewer's question belongs to one report (issue 13, item 2), on SQLite and PostgreSQL.

Two reporters, A and B, report the same URL and so join one case. A ``need_more_info``
decision asks one of them (the case's first report by default, or the ``report_id`` named):
only that reporter's status (API and page) shows the question and only they can answer it;
the other sees the case under review, no question, and an answer from them is refused (409
``no_question``) without changing the case. The console's decision form names the reporter.
The migration moves a question stored on the case onto the case's first report."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command

from takedown.auth.accounts import create_user
from takedown.auth.scopes import Role
from takedown.store.migrate import alembic_config, upgrade
from takedown.store.models import UTCDateTime
from takedown.web.session import FORM_COOKIE
from tests.service_support import PG_SERVER, REQUIRE_PG, Service, postgres_available

QUESTION = "Which account posted it first?"
PASSWORD = "a long enough password"


@dataclass(frozen=True)
class Filed:
    report_id: str
    token: str
    case_id: str


def _content(service: Service) -> None:
    answer = service.post(
        "/v1/content",
        json={
            "content_id": "post-1",
            "uploader_id": "u-1",
            "url": "https://photos.example/p/post-1",
            "signals": [{"type": "md5", "value": "5d41402abc4b2a76b9719d911017c592"}],
        },
    )
    assert answer.status_code == 201, answer.text


def _report(service: Service, description: str, email: str) -> Filed:
    answer = service.client.post(
        "/v1/reports",
        json={
            "content": [{"url": "https://photos.example/p/post-1"}],
            "category": "other",
            "minor_depicted": "no",
            "relationship": "other_user",
            "description": description,
            "contact": {"email": email},
        },
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    return Filed(body["report_id"], body["status_token"], body["case_id"])


def _two_reporters(service: Service) -> tuple[Filed, Filed]:
    _content(service)
    first = _report(service, "reporter A's own words", "a@example.org")
    second = _report(service, "reporter B's own words", "b@example.org")
    assert first.case_id == second.case_id  # the same URL: one case
    return first, second


def _ask(service: Service, reviewer: str, case_id: str, **fields: Any) -> Any:
    body = {"outcome": "need_more_info", "note": QUESTION, **fields}
    return service.as_(reviewer, "POST", f"/v1/cases/{case_id}/decisions", json=body)


def _status(service: Service, filed: Filed) -> dict[str, Any]:
    answer = service.client.get(f"/v1/reports/status/{filed.token}")
    assert answer.status_code == 200, answer.text
    status: dict[str, Any] = answer.json()
    return status


def _reply(service: Service, filed: Filed, message: str) -> Any:
    return service.client.post(f"/v1/reports/status/{filed.token}/reply", json={"message": message})


def _case(service: Service, staff: str, case_id: str) -> dict[str, Any]:
    answer = service.as_(staff, "GET", f"/v1/cases/{case_id}")
    assert answer.status_code == 200, answer.text
    case: dict[str, Any] = answer.json()
    return case


def _page(service: Service, filed: Filed) -> str:
    page = service.client.get(f"/status/{filed.token}")
    assert page.status_code == 200
    return page.text


def _page_reply(service: Service, filed: Filed, message: str) -> None:
    """Post an answer through the status page's form, as a browser would (a reporter asked
    nothing has no form to fill in, but may still post one)."""
    _page(service, filed)  # sets the form's double-submit cookie
    csrf = service.client.cookies.get(FORM_COOKIE)
    assert csrf
    sent = service.client.post(
        f"/status/{filed.token}",
        data={"csrf_token": csrf, "action": "reply", "message": message},
        follow_redirects=False,
    )
    assert sent.status_code == 303


def _asked_nothing(service: Service, filed: Filed) -> None:
    """What a reporter who was not asked sees: the case under review, no question, no form."""
    status = _status(service, filed)
    assert status["status"] == "under_review"
    assert status["question"] == ""
    page = _page(service, filed)
    assert QUESTION not in page
    assert 'name="action" value="reply"' not in page


def _asked(service: Service, filed: Filed) -> None:
    status = _status(service, filed)
    assert status["status"] == "need_more_information"
    assert status["question"] == QUESTION
    page = _page(service, filed)
    assert QUESTION in page and 'name="action" value="reply"' in page


def test_default_question_goes_to_the_first_reporter_only(service: Service) -> None:
    a, b = _two_reporters(service)
    reviewer = service.staff("reviewer")
    asked = _ask(service, reviewer, a.case_id)
    assert asked.status_code == 201, asked.text
    assert asked.json()["state"] == "awaiting_info"

    _asked(service, a)
    _asked_nothing(service, b)
    # B can neither answer through the API nor through the page; the case keeps waiting for A
    refused = _reply(service, b, "I know who posted it")
    assert refused.status_code == 409
    assert refused.json()["code"] == "no_question"
    _page_reply(service, b, "I know who posted it (page)")
    assert _case(service, reviewer, a.case_id)["state"] == "awaiting_info"
    _asked(service, a)
    # nothing of A's reaches B's status, nor of B's reaches A's
    for filed, other in ((a, b), (b, a)):
        text = service.client.get(f"/v1/reports/status/{filed.token}").text
        text += _page(service, filed)
        assert other.report_id not in text
        assert other.token not in text
        assert "@example.org" not in text
        assert "own words" not in text

    answered = _reply(service, a, "user @x posted it")
    assert answered.status_code == 200, answered.text
    assert answered.json()["status"] == "under_review"
    assert answered.json()["question"] == ""
    assert _reply(service, a, "again").status_code == 409  # answered once; nothing open now

    case = _case(service, reviewer, a.case_id)
    assert case["state"] == "in_review"
    assert case["question"] == ""
    by_report = {r["report_id"]: r for r in case["reports"]}
    assert by_report[a.report_id]["reply"] == "user @x posted it"
    assert [q["question"] for q in by_report[a.report_id]["questions"]] == [QUESTION]
    assert by_report[b.report_id]["reply"] == ""
    assert by_report[b.report_id]["questions"] == []


def test_a_question_to_a_named_reporter(service: Service) -> None:
    a, b = _two_reporters(service)
    reviewer = service.staff("reviewer")
    asked = _ask(service, reviewer, a.case_id, report_id=b.report_id)
    assert asked.status_code == 201, asked.text
    case = _case(service, reviewer, a.case_id)
    assert case["question"] == QUESTION and case["question_report_id"] == b.report_id

    _asked(service, b)
    _asked_nothing(service, a)
    refused = _reply(service, a, "me first")
    assert refused.status_code == 409 and refused.json()["code"] == "no_question"
    _page_reply(service, b, "B answers on the page")
    assert _case(service, reviewer, a.case_id)["state"] == "in_review"
    _asked_nothing(service, b)

    # naming the first report explicitly is the same as the default
    again = _ask(service, reviewer, a.case_id, report_id=a.report_id)
    assert again.status_code == 201, again.text
    _asked(service, a)
    _asked_nothing(service, b)


def test_a_new_question_withdraws_the_open_one(service: Service) -> None:
    a, b = _two_reporters(service)
    reviewer = service.staff("reviewer")
    assert _ask(service, reviewer, a.case_id).status_code == 201
    assert _ask(service, reviewer, a.case_id, report_id=b.report_id).status_code == 201
    _asked_nothing(service, a)
    assert _reply(service, a, "late answer").status_code == 409
    _asked(service, b)
    assert _reply(service, b, "B's answer").status_code == 200
    case = _case(service, reviewer, a.case_id)
    assert case["state"] == "in_review"
    questions = {r["report_id"]: r["questions"] for r in case["reports"]}
    assert questions[a.report_id][0]["withdrawn_at"] is not None
    assert questions[b.report_id][0]["answer"] == "B's answer"


def test_unknown_report_ids_are_refused(service: Service) -> None:
    a, _b = _two_reporters(service)
    reviewer = service.staff("reviewer")
    unknown = _ask(service, reviewer, a.case_id, report_id="rep_0000000000000000")
    assert unknown.status_code == 422
    assert unknown.json()["code"] == "report_not_in_case"
    # a real report of another case is not part of this one
    other = service.client.post(
        "/v1/reports",
        json={
            "content": [{"url": "https://photos.example/p/elsewhere"}],
            "category": "other",
            "minor_depicted": "no",
            "relationship": "other_user",
        },
    ).json()
    assert other["case_id"] != a.case_id
    foreign = _ask(service, reviewer, a.case_id, report_id=other["report_id"])
    assert foreign.status_code == 422 and foreign.json()["code"] == "report_not_in_case"
    not_asking = service.as_(
        reviewer,
        "POST",
        f"/v1/cases/{a.case_id}/decisions",
        json={"outcome": "escalate", "report_id": a.report_id},
    )
    assert not_asking.status_code == 422
    assert not_asking.json()["code"] == "report_id_without_question"
    empty = _ask(service, reviewer, a.case_id, note="  ")
    assert empty.status_code == 422 and empty.json()["code"] == "question_required"
    case = _case(service, reviewer, a.case_id)
    assert case["state"] != "awaiting_info" and not case["decisions"]  # nothing was decided
    assert _status(service, a)["question"] == ""


def _console_login(service: Service) -> None:
    email = f"console-{uuid.uuid4().hex[:8]}@example.org"
    with service.db.write() as session:
        create_user(session, email, Role.REVIEWER, PASSWORD, actor="test")
    page = service.client.get("/console/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf is not None
    signed_in = service.client.post(
        "/console/login",
        data={"csrf_token": csrf.group(1), "email": email, "password": PASSWORD},
        follow_redirects=False,
    )
    assert signed_in.status_code == 303


def test_the_console_asks_the_reporter_chosen(service: Service) -> None:
    a, b = _two_reporters(service)
    reviewer = service.staff("reviewer")
    _console_login(service)
    page = service.client.get(f"/console/cases/{a.case_id}")
    assert page.status_code == 200
    select = re.search(r'<select id="ask-report" name="report_id">(.*?)</select>', page.text)
    assert select is not None  # two reports: the form asks which reporter
    assert re.findall(r'<option value="([^"]+)"', select.group(1)) == [a.report_id, b.report_id]
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf is not None

    def decide(report_id: str) -> Any:
        return service.client.post(
            f"/console/cases/{a.case_id}/decide",
            data={
                "csrf_token": csrf.group(1),
                "outcome": "need_more_info",
                "report_id": report_id,
                "note": QUESTION,
            },
            follow_redirects=False,
        )

    refused = decide("rep_0000000000000000")
    assert refused.status_code == 303
    assert refused.headers["location"].endswith("error=report_not_in_case")
    assert _case(service, reviewer, a.case_id)["state"] != "awaiting_info"

    asked = decide(b.report_id)
    assert asked.status_code == 303 and "error" not in asked.headers["location"]
    _asked(service, b)
    _asked_nothing(service, a)
    shown = service.client.get(f"/console/cases/{a.case_id}").text
    assert "waiting for the answer" in shown

    # one report: no choice to make, the reporter of that report is asked
    other = service.client.post(
        "/v1/reports",
        json={
            "content": [{"url": "https://photos.example/p/alone"}],
            "category": "other",
            "minor_depicted": "no",
            "relationship": "other_user",
        },
    ).json()
    alone = service.client.get(f"/console/cases/{other['case_id']}").text
    assert 'name="report_id"' not in alone


# --- the migration: a question stored on the case moves to the case's first report ---------


@contextmanager
def _bare_database(kind: str, tmp_path: Path) -> Iterator[str]:
    """An empty database of ``kind`` with no migration run yet."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    if not postgres_available():
        if REQUIRE_PG:
            pytest.fail("PostgreSQL does not answer and TAKEDOWN_REQUIRE_POSTGRES=1")
        pytest.skip("PostgreSQL does not answer")
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = sa.create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{PG_SERVER}?options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


AT = datetime(2026, 1, 5, 12, tzinfo=UTC)
ASKED = datetime(2026, 1, 5, 10, tzinfo=UTC)
WHEN = UTCDateTime(timezone=True)

_cases = sa.table(
    "cases",
    *(sa.column(n) for n in ("id", "state", "priority", "queue", "category", "question")),
    *(sa.column(n, sa.Boolean()) for n in ("minor_alleged", "restricted", "unresolved")),
    *(sa.column(n, sa.Boolean()) for n in ("takedown_request", "escalated")),
    sa.column("created_at", WHEN),
    sa.column("updated_at", WHEN),
)
_reports = sa.table(
    "reports",
    *(sa.column(n) for n in ("id", "public_id", "case_id", "status_token_hash", "category")),
    *(sa.column(n) for n in ("minor_depicted", "relationship", "description", "reply")),
    *(sa.column(n) for n in ("contact_email", "contact_phone", "signature")),
    sa.column("good_faith_statement", sa.Boolean()),
    sa.column("trusted_flagger", sa.Boolean()),
    sa.column("references", sa.JSON()),
    sa.column("created_at", WHEN),
)
_users = sa.table(
    "users",
    *(sa.column(n) for n in ("id", "email", "password_hash", "role")),
    sa.column("disabled", sa.Boolean()),
    sa.column("created_at", WHEN),
)
_decisions = sa.table(
    "decisions",
    *(sa.column(n) for n in ("id", "case_id", "reviewer_id", "role", "outcome", "category")),
    sa.column("recommendation", sa.Boolean()),
    sa.column("appeal", sa.Boolean()),
    sa.column("statement", sa.JSON()),
    sa.column("note"),
    sa.column("created_at", WHEN),
)
_questions = sa.table(
    "report_questions",
    *(sa.column(n) for n in ("report_id", "case_id", "decision_id", "question", "answer")),
    *(sa.column(n, WHEN) for n in ("asked_at", "answered_at", "withdrawn_at")),
)


def _old_case(case_id: int, state: str, question: str) -> dict[str, Any]:
    flags = ("minor_alleged", "restricted", "unresolved", "takedown_request", "escalated")
    return {
        "id": case_id,
        "state": state,
        "priority": "P2",
        "queue": "general",
        "category": "other",
        "question": question,
        **dict.fromkeys(flags, False),
        "created_at": AT,
        "updated_at": AT,
    }


def _old_report(report_id: int, case_id: int, reply: str = "") -> dict[str, Any]:
    return {
        "id": report_id,
        "public_id": f"rep_{report_id}",
        "case_id": case_id,
        "status_token_hash": f"{report_id:064d}",
        "category": "other",
        "minor_depicted": "no",
        "relationship": "other_user",
        "description": "",
        "reply": reply,
        "contact_email": "",
        "contact_phone": "",
        "signature": "",
        "good_faith_statement": False,
        "trusted_flagger": False,
        "references": {},
        "created_at": AT,
    }


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_the_migration_moves_case_questions_to_reports(kind: str, tmp_path: Path) -> None:
    with _bare_database(kind, tmp_path) as url:
        upgrade(url, "0006")
        engine = sa.create_engine(url)
        with engine.begin() as connection:
            connection.execute(
                sa.insert(_cases),
                [
                    _old_case(1, "awaiting_info", "Q1: still waiting"),  # open, to report 10
                    _old_case(2, "in_review", "Q2: answered"),  # answered by report 21
                    _old_case(3, "in_review", "Q3: never answered"),  # withdrawn
                    _old_case(4, "new", ""),  # never asked
                ],
            )
            connection.execute(
                sa.insert(_reports),
                [
                    _old_report(10, 1),
                    _old_report(11, 1),
                    _old_report(20, 2),
                    _old_report(21, 2, reply="B answered A's question"),
                    _old_report(30, 3),
                    _old_report(40, 4),
                ],
            )
            connection.execute(
                sa.insert(_users),
                [
                    {"id": 1, "email": "r@x", "password_hash": "x", "role": "reviewer"}
                    | {"disabled": False, "created_at": AT}
                ],
            )
            connection.execute(
                sa.insert(_decisions),
                [
                    {
                        "id": 5,
                        "case_id": 1,
                        "reviewer_id": 1,
                        "role": "reviewer",
                        "outcome": "need_more_info",
                        "category": "other",
                        "recommendation": False,
                        "appeal": False,
                        "statement": {},
                        "note": "Q1: still waiting",
                        "created_at": ASKED,
                    }
                ],
            )
        upgrade(url, "0007")
        with engine.connect() as connection:
            rows = connection.execute(
                sa.select(_questions).order_by(_questions.c.case_id, _questions.c.report_id)
            ).all()
        moved = [
            (r.case_id, r.report_id, r.question, r.answer, r.answered_at, r.withdrawn_at)
            for r in rows
        ]
        assert moved == [
            (1, 10, "Q1: still waiting", "", None, None),
            (2, 21, "Q2: answered", "B answered A's question", AT, None),
            (3, 30, "Q3: never answered", "", None, AT),
        ]
        assert rows[0].decision_id == 5 and rows[0].asked_at == ASKED
        assert rows[1].decision_id is None and rows[1].asked_at == AT

        command.downgrade(alembic_config(url), "0006")
        with engine.connect() as connection:
            questions = dict(connection.execute(sa.select(_cases.c.id, _cases.c.question)).all())
            replies = dict(connection.execute(sa.select(_reports.c.id, _reports.c.reply)).all())
        engine.dispose()
        assert questions == {
            1: "Q1: still waiting",
            2: "Q2: answered",
            3: "Q3: never answered",
            4: "",
        }
        assert replies == {10: "", 11: "", 20: "", 21: "B answered A's question", 30: "", 40: ""}
