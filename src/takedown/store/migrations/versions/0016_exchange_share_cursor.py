"""exchange share cursor: how far each exchange has been sent the hashes shared with it

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-29 23:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("exchanges", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("share_cursor", sa.String(length=20), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("shared_total", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("share_error", sa.String(length=60), server_default="", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("exchanges", schema=None) as batch_op:
        batch_op.drop_column("share_error")
        batch_op.drop_column("shared_total")
        batch_op.drop_column("share_cursor")
