"""`takedown keys`, `users` and `db` from a real child process, on SQLite and PostgreSQL: keys
are printed once and stored hashed; staff tokens carry their role's scopes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from takedown.api.app import create_app
from takedown.auth.accounts import create_user_token
from takedown.store.db import Database
from takedown.store.migrate import alembic_config
from takedown.store.models import Base
from tests.service_support import Service, database_url, make_settings


def _run(db_url: str, home: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TAKEDOWN_DATABASE_URL": db_url, "TAKEDOWN_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "takedown", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_migrations_match_the_models(kind: str, tmp_path: Path) -> None:
    """The schema the migrations build is the models' (the other tests' databases are made
    from a migrated copy, or on PostgreSQL from the models: the same schema, by this test)."""
    with database_url(kind, tmp_path, migrate=True) as url:
        engine = create_engine(url)
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
            revision = MigrationContext.configure(connection).get_current_revision()
        engine.dispose()
    assert diff == []
    assert revision == ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def test_keys_users_tokens(db_url: str, tmp_path: Path) -> None:
    created = _run(db_url, tmp_path, "keys", "create", "platform-a", "--scope", "lookup,banks:read")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert key.startswith("td_") and len(key) > 40
    bad_scope = _run(db_url, tmp_path, "keys", "create", "x", "--scope", "everything")
    assert bad_scope.returncode == 2
    assert "valid scopes" in bad_scope.stderr

    engine = create_engine(db_url)
    with engine.connect() as connection:
        stored = " ".join(
            str(v) for row in connection.execute(text("SELECT * FROM api_keys")) for v in row
        )
    engine.dispose()
    assert key not in stored  # only the hash is kept

    user = _run(
        db_url,
        tmp_path,
        "users",
        "create",
        "Rev@Example.org",
        "--role",
        "reviewer",
        "--password-stdin",
        stdin="a long enough password\n",
    )
    assert user.returncode == 0, user.stderr
    again = _run(db_url, tmp_path, "users", "create", "rev@example.org", "--role", "admin")
    assert again.returncode == 1 and "already exists" in again.stderr
    token = _run(db_url, tmp_path, "users", "token", "rev@example.org")
    assert token.returncode == 0, token.stderr
    staff = token.stdout.strip()
    missing = _run(db_url, tmp_path, "users", "token", "nobody@example.org")
    assert missing.returncode == 1 and "takedown users create" in missing.stderr

    db = Database(db_url)
    with TestClient(create_app(make_settings(tmp_path, db_url), db=db)) as client:
        platform = {"Authorization": f"Bearer {key}"}
        assert client.get("/v1/banks", headers=platform).status_code == 200
        assert client.post("/v1/banks", json={"name": "a"}, headers=platform).status_code == 403
        reviewer = {"Authorization": f"Bearer {staff}"}
        assert client.get("/v1/banks", headers=reviewer).status_code == 200
        refused = client.post("/v1/banks", json={"name": "b"}, headers=reviewer)
        assert refused.status_code == 403  # a reviewer's token cannot change banks
        listed = _run(db_url, tmp_path, "keys", "list")
        key_id = listed.stdout.split("\t")[0]
        assert _run(db_url, tmp_path, "keys", "revoke", key_id).returncode == 0
        assert client.get("/v1/banks", headers=platform).status_code == 401
    db.dispose()
    verified = _run(db_url, tmp_path, "audit", "verify")
    assert verified.returncode == 0
    assert "events" in verified.stderr


def test_keys_and_users_through_the_api(service: Service) -> None:
    created = service.post("/v1/keys", json={"name": "partner", "scopes": ["lookup"]})
    assert created.status_code == 201
    secret = created.json()["key"]
    partner = service.headers(secret)
    assert service.client.get("/v1/banks", headers=partner).status_code == 403
    listed = service.get("/v1/keys").json()
    assert all(k["key"] is None for k in listed)  # never shown again
    # a platform key makes no people (a person account opens cases, which no key does)
    by_key = service.post("/v1/users", json={"email": "cs@example.org", "role": "reviewer"})
    assert by_key.status_code == 403 and by_key.json()["code"] == "people_are_made_by_people"
    admin_token = service.staff("admin")
    user = service.as_(
        admin_token, "POST", "/v1/users", json={"email": "cs@example.org", "role": "reviewer"}
    )
    assert user.status_code == 201
    assert len(user.json()["password"]) >= 12
    again = {"email": "cs@example.org", "role": "reviewer"}
    assert service.as_(admin_token, "POST", "/v1/users", json=again).status_code == 422
    # no route mints a token for a person: they sign in (the hole: an admin key minted
    # staff tokens and so reached evidence and reporters' contacts)
    minted = service.post(f"/v1/users/{user.json()['id']}/tokens")
    assert minted.status_code in (404, 405), minted.text
    # a key cannot create an account in a role that reads evidence or contacts either
    for role in ("legal", "child_safety_specialist"):
        body = {"email": f"{role}@example.org", "role": role}
        refused = service.as_(admin_token, "POST", "/v1/users", json=body)
        assert refused.status_code == 403, refused.text
        assert refused.json()["code"] == "role_granted_by_operator"
    with service.db.write() as session:
        token = create_user_token(session, "cs@example.org", actor="test")[1]
    assert service.client.get("/v1/banks", headers=service.headers(token)).status_code == 200
    assert service.client.get("/v1/keys", headers=service.headers(token)).status_code == 403
    revoked = service.client.delete(f"/v1/keys/{created.json()['id']}", headers=service.headers())
    assert revoked.json()["revoked_at"] is not None
    assert (
        service.client.post("/v1/lookup", json={"signals": []}, headers=partner).status_code == 401
    )
    assert service.client.delete("/v1/keys/999999", headers=service.headers()).status_code == 404


def test_admin_changes_a_role_never_their_own(service: Service) -> None:
    """PATCH /v1/users/{id}: the new role applies to the user's existing token at once;
    an admin cannot change their own role; every change is audited."""
    from takedown.auth.accounts import create_user, create_user_token
    from takedown.auth.scopes import Role

    with service.db.write() as session:
        user = create_user(session, "mover@example.org", Role.REVIEWER, "a long password!!", "t")[0]
        token = create_user_token(session, "mover@example.org", actor="t")[1]
        admin = create_user(session, "boss@example.org", Role.ADMIN, "a long password!!", "t")[0]
        admin_token = create_user_token(session, "boss@example.org", actor="t")[1]
    assert service.as_(token, "GET", "/v1/cases?queue=senior").status_code == 200
    changed = service.as_(
        admin_token, "PATCH", f"/v1/users/{user.id}", json={"role": "senior_reviewer"}
    )
    assert changed.status_code == 200 and changed.json()["role"] == "senior_reviewer", changed.text
    # the API never moves an account into a role that reads evidence (the console does)
    legal = service.as_(admin_token, "PATCH", f"/v1/users/{user.id}", json={"role": "legal"})
    assert legal.status_code == 403 and legal.json()["code"] == "role_granted_by_operator"
    with service.db.write() as session:
        from takedown.auth.accounts import set_role

        set_role(session, user.id, Role.LEGAL, "cli")  # as the operator CLI does
    assert service.as_(token, "GET", "/v1/cybertipline").status_code == 200  # at once
    own = service.as_(admin_token, "PATCH", f"/v1/users/{admin.id}", json={"role": "reviewer"})
    assert own.status_code == 422 and "own role" in own.json()["message"]
    missing = service.as_(admin_token, "PATCH", "/v1/users/9999", json={"role": "reviewer"})
    assert missing.status_code == 404 and missing.json()["code"] == "user_not_found"
    roles = [e for e in service.get("/v1/audit").json() if e["action"] == "user.role"]
    assert [(e["subject"], e["data"]) for e in roles] == [
        (f"user:{user.id}", {"from": "reviewer", "to": "senior_reviewer"}),
        (f"user:{user.id}", {"from": "senior_reviewer", "to": "legal"}),
    ]
