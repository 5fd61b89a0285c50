"""exchanges: hash-sharing feeds that fill banks; bank entries remember their exchange

Revision ID: 0015
Revises: 0013
Create Date: 2026-11-29 22:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import takedown.store.models

revision = "0015"
down_revision = "0013"
branch_labels = None
depends_on = None

UTC_DATETIME = takedown.store.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "exchanges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("bank_id", sa.Integer(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("credentials", sa.Text(), nullable=False),
        sa.Column("schedule_s", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("checkpoint", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("last_attempt_at", UTC_DATETIME, nullable=True),
        sa.Column("last_success_at", UTC_DATETIME, nullable=True),
        sa.Column("last_error", sa.String(length=60), nullable=False),
        sa.Column("last_error_at", UTC_DATETIME, nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("errors_total", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTC_DATETIME, nullable=True),
        sa.Column("lease_until", UTC_DATETIME, nullable=True),
        sa.Column("entries_added", sa.Integer(), nullable=False),
        sa.Column("entries_removed", sa.Integer(), nullable=False),
        sa.Column("run_started_at", UTC_DATETIME, nullable=True),
        sa.Column("run_entries", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["bank_id"], ["banks.id"], name=op.f("fk_exchanges_bank_id_banks")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchanges")),
        sa.UniqueConstraint("name", name=op.f("uq_exchanges_name")),
    )
    with op.batch_alter_table("exchanges", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_exchanges_bank_id"), ["bank_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_exchanges_next_attempt_at"), ["next_attempt_at"], unique=False
        )
    with op.batch_alter_table("bank_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("exchange_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("feed_removed", sa.Boolean(), server_default="0", nullable=False)
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_bank_entries_exchange_id_exchanges"),
            "exchanges",
            ["exchange_id"],
            ["id"],
        )
        batch_op.create_index(
            "ix_bank_entries_feed_key", ["exchange_id", "external_id", "signal_type"], unique=True
        )


def downgrade() -> None:
    with op.batch_alter_table("bank_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_bank_entries_feed_key")
        batch_op.drop_constraint(
            batch_op.f("fk_bank_entries_exchange_id_exchanges"), type_="foreignkey"
        )
        batch_op.drop_column("feed_removed")
        batch_op.drop_column("exchange_id")
    with op.batch_alter_table("exchanges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exchanges_next_attempt_at"))
        batch_op.drop_index(batch_op.f("ix_exchanges_bank_id"))
    op.drop_table("exchanges")
