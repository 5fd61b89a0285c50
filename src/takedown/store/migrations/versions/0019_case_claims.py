"""case claims: a reviewer holds a case for a while, and the others see who does

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-29 22:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import takedown.store.models

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_by", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "claimed_until",
                takedown.store.models.UTCDateTime(timezone=True),
                nullable=True,
            )
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_cases_claimed_by_users"), "users", ["claimed_by"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_cases_claimed_by_users"), type_="foreignkey")
        batch_op.drop_column("claimed_until")
        batch_op.drop_column("claimed_by")
