"""Engine and sessions for SQLite (the embedded default) and PostgreSQL.

Writers that append to ordered logs (audit chain, bank changes, actions) call :func:`serialize`
first, so that commit order equals id order and a reader following ``id > cursor`` never skips a
row that commits late. On SQLite every writing transaction starts with ``BEGIN IMMEDIATE``
(one writer at a time, no stale-snapshot upgrade failures); on PostgreSQL a transaction-scoped
advisory lock does the same for those logs only.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from takedown.store.private import private_sqlite

_LOG_LOCK = 0x7A4B3D01  # the advisory lock id guarding the ordered logs

MIGRATIONS = Path(__file__).parent / "migrations"


class Database:
    def __init__(self, url: str, *, pool_size: int = 5) -> None:
        self.url = url
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        if self.is_sqlite:
            file = sqlite_file(url)
            if file is not None:
                private_sqlite(file)
            self.engine = create_engine(url, connect_args={"timeout": 30})
            _sqlite_pragmas(self.engine)
        else:
            self.engine = create_engine(url, pool_size=pool_size, pool_pre_ping=True)
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(
            self.engine.execution_options(takedown_write=True), expire_on_commit=False
        )

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._read() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A unit of work: committed at the end of the block, rolled back on any exception."""
        with self._write() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()

    def ping(self) -> None:
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL (None for other databases and in-memory ones)."""
    parsed = make_url(url)
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or database in ("", ":memory:"):
        return None
    return Path(database)


def serialize(session: Session) -> None:
    """Take the log lock for the rest of this transaction (see the module docstring)."""
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _LOG_LOCK})


def _sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # transactions are begun below, explicitly
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        write = connection.get_execution_options().get("takedown_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
