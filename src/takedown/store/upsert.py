"""``INSERT ... ON CONFLICT DO NOTHING`` on both databases: the race-free way to create a row
that another worker may be creating at the same moment."""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase, Session


def insert_or_ignore(
    session: Session, model: type[DeclarativeBase], values: dict[str, Any]
) -> bool:
    """Insert a row unless one with the same key exists; whether this call inserted it
    (told by ``RETURNING``: the drivers' row counts of this statement are not reliable)."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    key = inspect(model).primary_key[0]
    statement = insert(model).values(values).on_conflict_do_nothing().returning(key)
    return session.execute(statement).first() is not None
