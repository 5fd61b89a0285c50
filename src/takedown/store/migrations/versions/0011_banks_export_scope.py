"""banks:export: platform keys that could list bank entries keep that right

Reading a bank's hash list became its own scope (``banks:export``) so that staff roles with
``banks:read`` no longer download hash lists. Platform keys (no user) that held ``banks:read``
are given ``banks:export`` too, so that an integration syncing lists keeps working.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29 20:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

KEYS = sa.table(
    "api_keys",
    sa.column("id", sa.Integer),
    sa.column("scopes", sa.Text),
    sa.column("user_id", sa.Integer),
)


def _rewrite(add: bool) -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.select(KEYS.c.id, KEYS.c.scopes).where(KEYS.c.user_id.is_(None)))
    for key_id, scopes in rows.all():
        held = set(scopes.split())
        if add and "banks:read" in held:
            held.add("banks:export")
        elif not add:
            held.discard("banks:export")
        else:
            continue
        connection.execute(
            sa.update(KEYS).where(KEYS.c.id == key_id).values(scopes=" ".join(sorted(held)))
        )


def upgrade() -> None:
    _rewrite(add=True)


def downgrade() -> None:
    _rewrite(add=False)
