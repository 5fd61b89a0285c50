"""reference variants: a bank entry names the turn or crop of the reference it was taken of

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29 21:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("bank_entries", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("transform", sa.String(length=40), server_default="", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("bank_entries", schema=None) as batch_op:
        batch_op.drop_column("transform")
