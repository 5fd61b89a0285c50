"""The audit chain on SQLite and PostgreSQL: edits, deletions and reorderings made directly in
the database are found, and ``takedown audit verify`` names the first bad sequence."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text

from takedown.audit.log import record, verify
from takedown.store.db import Database


def _seed(db: Database, count: int = 6) -> None:
    for i in range(count):
        with db.write() as session:
            record(session, "user:1", "bank.add", f"bank:b{i}", {"entries": i, "note": "é"})


def _sql(db: Database, statement: str) -> None:
    with db.engine.begin() as connection:
        connection.execute(text(statement))


def test_intact_chain_verifies(db_url: str) -> None:
    db = Database(db_url)
    assert verify(db).ok and verify(db).events == 0
    _seed(db)
    result = verify(db)
    assert result.ok
    assert result.events == 6
    db.dispose()


TAMPERS: dict[str, tuple[str, int]] = {
    "edit data": ("UPDATE audit_events SET data = 'tampered' WHERE seq = 3", 3),
    "edit actor": ("UPDATE audit_events SET actor = 'user:2' WHERE seq = 2", 2),
    "delete middle": ("DELETE FROM audit_events WHERE seq = 4", 4),
    "delete last": ("DELETE FROM audit_events WHERE seq = 6", 6),
    "delete first": ("DELETE FROM audit_events WHERE seq = 1", 1),
}


@pytest.mark.parametrize("tamper", sorted(TAMPERS))
def test_tampering_is_detected(db_url: str, tamper: str) -> None:
    db = Database(db_url)
    _seed(db)
    statement, first_bad = TAMPERS[tamper]
    _sql(db, statement)
    result = verify(db)
    assert not result.ok
    assert result.problem is not None
    assert result.problem.seq == first_bad
    db.dispose()


def test_reordering_is_detected(db_url: str) -> None:
    """Swap two events' positions (their sequence numbers) without touching their content."""
    db = Database(db_url)
    _seed(db)
    _sql(db, "UPDATE audit_events SET seq = 100 WHERE seq = 2")
    _sql(db, "UPDATE audit_events SET seq = 2 WHERE seq = 5")
    _sql(db, "UPDATE audit_events SET seq = 5 WHERE seq = 100")
    result = verify(db)
    assert result.problem is not None and result.problem.seq == 2
    db.dispose()


def _cli(db_url: str, tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    env = {**os.environ, "TAKEDOWN_DATABASE_URL": db_url, "TAKEDOWN_HOME": str(tmp_path)}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "takedown", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )

    return run


def test_cli_verify_reports_first_bad_sequence(db_url: str, tmp_path: Path) -> None:
    db = Database(db_url)
    _seed(db)
    run = _cli(db_url, tmp_path)
    ok = run("audit", "verify")
    assert ok.returncode == 0, ok.stderr
    assert "6 events" in ok.stderr
    _sql(db, "UPDATE audit_events SET subject = 'bank:other' WHERE seq = 5")
    bad = run("audit", "verify")
    assert bad.returncode == 1
    assert "sequence 5" in bad.stderr
    db.dispose()
