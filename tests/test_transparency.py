"""The transparency report on SQLite and PostgreSQL: figures recomputed here from the raw rows,
and the CLI's JSON, CSV and HTML."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from takedown.auth.scopes import Scope
from takedown.service.transparency import transparency
from takedown.store.models import Case, CaseClock, Content, Decision
from tests.service_support import Service

MD5 = "e" * 32


def _report(service: Service, content_id: str, **fields: object) -> str:
    body = {
        "content": [{"content_id": content_id}],
        "category": "other",
        "minor_depicted": "no",
        "relationship": "other_user",
    }
    body.update(fields)
    answer = service.client.post("/v1/reports", json=body)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["case_id"])


def test_figures_match_the_raw_rows(service: Service, tmp_path: Path) -> None:
    t0 = datetime.now(UTC) - timedelta(hours=3)
    service.set_now(t0)
    for content_id in ("a", "b", "c"):
        service.post(
            "/v1/content",
            json={"content_id": content_id, "signals": [{"type": "md5", "value": content_id * 32}]},
        )
    p0 = _report(
        service,
        "a",
        category="child_sexual_abuse",
        minor_depicted="yes",
        relationship="parent_or_guardian",
    )
    p2 = _report(service, "b")
    _report(service, "c", relationship="ngo")
    # the platform fetches the restriction at once: that meets the restrict clock
    service.as_(service.key(Scope.ACTIONS_READ), "GET", "/v1/actions")
    specialist = service.staff("child_safety_specialist")
    reviewer = service.staff("reviewer")
    other = service.staff("senior_reviewer")
    service.set_now(t0 + timedelta(minutes=30))
    service.as_(specialist, "POST", f"/v1/cases/{p0}/decisions", json={"outcome": "violation"})
    service.set_now(t0 + timedelta(hours=2))
    service.as_(reviewer, "POST", f"/v1/cases/{p2}/decisions", json={"outcome": "no_violation"})
    platform = service.key(Scope.APPEALS_WRITE)
    service.as_(platform, "POST", f"/v1/cases/{p0}/appeals", json={"reason": "mine"})
    service.as_(other, "POST", f"/v1/cases/{p0}/appeal-decision", json={"outcome": "upheld"})

    start, end = t0 - timedelta(days=1), t0 + timedelta(days=1)
    report = transparency(service.db, start, end)

    with service.db.read() as session:
        categories = [c.category for c in session.execute(select(Case)).scalars()]
        outcomes = [
            d.outcome for d in session.execute(select(Decision)).scalars() if not d.recommendation
        ]
        clocks = list(session.execute(select(CaseClock)).scalars())
        verdicts = [c.verdict for c in session.execute(select(Content)).scalars()]
    assert report.cases_by_category == {c: categories.count(c) for c in set(categories)}
    assert report.decisions_by_outcome == {o: outcomes.count(o) for o in set(outcomes)}
    assert report.reports_by_source == {"parent_or_guardian": 1, "other_user": 1, "ngo": 1}
    for kind in ("restrict", "first_review", "removal"):
        durations = [
            (c.met_at - c.started_at).total_seconds() for c in clocks if c.kind == kind and c.met_at
        ]
        assert report.timings[kind].count == len(durations)
        assert report.timings[kind].median_s == (
            statistics.median(durations) if durations else None
        )
    assert report.timings["restrict"].median_s == 0.0
    assert report.timings["first_review"].within_deadline == 1.0
    assert report.appeals == 1 and report.appeal_reversal_rate == 0.0
    assert report.upload_verdicts == {v: verdicts.count(v) for v in set(verdicts)}
    assert report.bank_sizes["confirmed-child_sexual_abuse"] >= 1

    env = {
        **os.environ,
        "TAKEDOWN_DATABASE_URL": service.settings.db_url,
        "TAKEDOWN_HOME": str(tmp_path),
    }
    day = t0.date()
    out = tmp_path / "out"
    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "takedown",
            "report",
            "transparency",
            "--from",
            (day - timedelta(days=1)).isoformat(),
            "--to",
            (day + timedelta(days=1)).isoformat(),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert cli.returncode == 0, cli.stderr
    printed = json.loads(cli.stdout)
    assert printed["cases_by_category"] == report.cases_by_category
    assert (out / "transparency.csv").read_text().startswith("section,name,value")
    assert "<table>" in (out / "transparency.html").read_text()
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "takedown",
            "report",
            "transparency",
            "--from",
            "yesterday",
            "--to",
            "2026-01-01",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert bad.returncode == 2 and "--from takes a date" in bad.stderr
