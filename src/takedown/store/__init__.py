"""Storage: SQLAlchemy models, Alembic migrations, engine and sessions (SQLite or PostgreSQL)."""
