"""webhook delivery: per-endpoint state, acknowledged actions

Webhooks get their circuit breaker's state (consecutive failures, open until), shared by every
worker. Actions get the moment the platform first had them (a 2xx delivery or a fetch from
``GET /v1/actions``) and by which way: the restrict clock is met by that, not by the write.
Existing actions that a webhook delivered are marked acknowledged at their first delivery (the
old schema kept no fetches). ``actions.content_id`` gets an index: an acknowledgement looks up
the other actions on the same content; so do deliveries by webhook, status and due time: one
webhook's claims must not scan a dead webhook's backlog.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 20:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import takedown.store.models

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_BACKFILL = """
    UPDATE actions
    SET acknowledged_at = (
            SELECT MIN(d.delivered_at) FROM deliveries d
            WHERE d.action_id = actions.id AND d.delivered_at IS NOT NULL
        ),
        acknowledged_via = 'webhook'
    WHERE EXISTS (
        SELECT 1 FROM deliveries d
        WHERE d.action_id = actions.id AND d.delivered_at IS NOT NULL
    )
"""


def upgrade() -> None:
    with op.batch_alter_table("webhooks", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("consecutive_failures", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "circuit_open_until",
                takedown.store.models.UTCDateTime(timezone=True),
                nullable=True,
            )
        )
    with op.batch_alter_table("actions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "acknowledged_at", takedown.store.models.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch_op.add_column(
            sa.Column("acknowledged_via", sa.String(length=60), server_default="", nullable=False)
        )
        batch_op.create_index(batch_op.f("ix_actions_content_id"), ["content_id"], unique=False)
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_deliveries_lane", ["webhook_id", "status", "next_attempt_at"], unique=False
        )
    op.execute(_BACKFILL)


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_lane")
    with op.batch_alter_table("actions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_actions_content_id"))
        batch_op.drop_column("acknowledged_via")
        batch_op.drop_column("acknowledged_at")
    with op.batch_alter_table("webhooks", schema=None) as batch_op:
        batch_op.drop_column("circuit_open_until")
        batch_op.drop_column("consecutive_failures")
