"""Run Alembic migrations from code (`takedown db upgrade`, and `serve` on start)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from takedown.store.db import MIGRATIONS, sqlite_file
from takedown.store.private import private_sqlite


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["url"] = url
    return config


def upgrade(url: str, revision: str = "head") -> None:
    file = sqlite_file(url)
    if file is not None:
        private_sqlite(file)  # 0600 before Alembic's connection creates it
    command.upgrade(alembic_config(url), revision)


def current(url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import create_engine

    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
