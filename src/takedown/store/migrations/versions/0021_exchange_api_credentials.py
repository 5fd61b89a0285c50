"""per-kind exchange credentials (HMA's per-API credentials)

``exchange_api_credentials``: sealed credentials used by every exchange of a kind that has
none of its own.

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-30 02:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import takedown.store.models

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

UTC_DATETIME = takedown.store.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "exchange_api_credentials",
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("credentials", sa.Text(), nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("kind", name=op.f("pk_exchange_api_credentials")),
    )


def downgrade() -> None:
    op.drop_table("exchange_api_credentials")
