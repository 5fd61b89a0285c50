"""the version of a whole-list feed that last listed a bank entry

``bank_entries.feed_seen``: a hash list file is the whole list, so an entry that a new version
no longer lists is withdrawn once that version has been read to its end.

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-30 05:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("bank_entries") as batch:
        batch.add_column(sa.Column("feed_seen", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("bank_entries") as batch:
        batch.drop_column("feed_seen")
