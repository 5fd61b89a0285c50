"""HMA-compatible API: integer content ids, bank ratios and deletions, the HMA-client key flag

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-29 23:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import takedown.store.models

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

UTC_DATETIME = takedown.store.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "hma_contents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bank_id", sa.Integer(), nullable=False),
        sa.Column("disable_until_ts", sa.Integer(), nullable=False),
        sa.Column("signals", sa.JSON(), nullable=False),
        sa.Column("meta", sa.JSON(), nullable=True),
        sa.Column("note", sa.String(length=255), nullable=True),
        sa.Column("original_media_uri", sa.Text(), nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["bank_id"], ["banks.id"], name=op.f("fk_hma_contents_bank_id_banks")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hma_contents")),
    )
    op.create_index(op.f("ix_hma_contents_bank_id"), "hma_contents", ["bank_id"])
    op.create_table(
        "hma_content_entries",
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("content_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["bank_entries.id"],
            name=op.f("fk_hma_content_entries_entry_id_bank_entries"),
        ),
        sa.ForeignKeyConstraint(
            ["content_id"],
            ["hma_contents.id"],
            name=op.f("fk_hma_content_entries_content_id_hma_contents"),
        ),
        sa.PrimaryKeyConstraint("entry_id", name=op.f("pk_hma_content_entries")),
    )
    op.create_index(
        op.f("ix_hma_content_entries_content_id"), "hma_content_entries", ["content_id"]
    )
    op.create_table(
        "hma_banks",
        sa.Column("bank_id", sa.Integer(), nullable=False),
        sa.Column("matching_enabled_ratio", sa.Double(), nullable=False),
        sa.Column("deleted_at", UTC_DATETIME, nullable=True),
        sa.ForeignKeyConstraint(["bank_id"], ["banks.id"], name=op.f("fk_hma_banks_bank_id_banks")),
        sa.PrimaryKeyConstraint("bank_id", name=op.f("pk_hma_banks")),
    )
    op.create_table(
        "hma_clients",
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["key_id"], ["api_keys.id"], name=op.f("fk_hma_clients_key_id_api_keys")
        ),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_hma_clients")),
    )


def downgrade() -> None:
    op.drop_table("hma_clients")
    op.drop_table("hma_banks")
    op.drop_index(op.f("ix_hma_content_entries_content_id"), table_name="hma_content_entries")
    op.drop_table("hma_content_entries")
    op.drop_index(op.f("ix_hma_contents_bank_id"), table_name="hma_contents")
    op.drop_table("hma_contents")
