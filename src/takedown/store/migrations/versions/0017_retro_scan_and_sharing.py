"""retro-scan and sharing back: which bank entries were searched for in the content already on
the platform, what each scan found, and the confirmed hashes shared in takedown's own feed

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-29 22:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import takedown.store.models

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

UTC_DATETIME = takedown.store.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("bank_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("retro_scanned_at", UTC_DATETIME, nullable=True))
        batch_op.create_index(
            batch_op.f("ix_bank_entries_retro_scanned_at"), ["retro_scanned_at"], unique=False
        )
    op.create_table(
        "retro_scans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bank_id", sa.Integer(), nullable=False),
        sa.Column("exchange_id", sa.Integer(), nullable=True),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("signals_checked", sa.Integer(), nullable=False),
        sa.Column("matched", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("entries_added_at", UTC_DATETIME, nullable=False),
        sa.Column("started_at", UTC_DATETIME, nullable=False),
        sa.Column("finished_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["bank_id"], ["banks.id"], name=op.f("fk_retro_scans_bank_id_banks")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retro_scans")),
    )
    with op.batch_alter_table("retro_scans", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_retro_scans_bank_id"), ["bank_id"], unique=False)
    op.create_table(
        "retro_hits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("content_pk", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("scan_id", sa.Integer(), nullable=False),
        sa.Column("signal_type", sa.String(length=20), nullable=False),
        sa.Column("distance", sa.Double(), nullable=False),
        sa.Column("at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["content_pk"], ["content.id"], name=op.f("fk_retro_hits_content_pk_content")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_retro_hits_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["bank_entries.id"], name=op.f("fk_retro_hits_entry_id_bank_entries")
        ),
        sa.ForeignKeyConstraint(
            ["scan_id"], ["retro_scans.id"], name=op.f("fk_retro_hits_scan_id_retro_scans")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retro_hits")),
        sa.UniqueConstraint("content_pk", name=op.f("uq_retro_hits_content_pk")),
    )
    with op.batch_alter_table("retro_hits", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_retro_hits_scan_id"), ["scan_id"], unique=False)
    op.create_table(
        "share_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("target", sa.String(length=100), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_share_rules")),
    )
    with op.batch_alter_table("share_rules", schema=None) as batch_op:
        batch_op.create_index("ix_share_rules_pair", ["target", "category"], unique=True)
    op.create_table(
        "feed_events",
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("target", sa.String(length=100), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("signal_type", sa.String(length=20), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("removed", sa.Boolean(), nullable=False),
        sa.Column("at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_feed_events")),
    )
    with op.batch_alter_table("feed_events", schema=None) as batch_op:
        batch_op.create_index("ix_feed_events_key", ["target", "key"], unique=False)
        batch_op.create_index("ix_feed_events_target", ["target", "seq"], unique=False)
    op.create_table(
        "feed_cursors",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("entry_cursor", sa.Integer(), nullable=False),
        sa.Column("change_cursor", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_cursors")),
    )


def downgrade() -> None:
    op.drop_table("feed_cursors")
    with op.batch_alter_table("feed_events", schema=None) as batch_op:
        batch_op.drop_index("ix_feed_events_target")
        batch_op.drop_index("ix_feed_events_key")
    op.drop_table("feed_events")
    with op.batch_alter_table("share_rules", schema=None) as batch_op:
        batch_op.drop_index("ix_share_rules_pair")
    op.drop_table("share_rules")
    with op.batch_alter_table("retro_hits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_retro_hits_scan_id"))
    op.drop_table("retro_hits")
    with op.batch_alter_table("retro_scans", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_retro_scans_bank_id"))
    op.drop_table("retro_scans")
    with op.batch_alter_table("bank_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bank_entries_retro_scanned_at"))
        batch_op.drop_column("retro_scanned_at")
