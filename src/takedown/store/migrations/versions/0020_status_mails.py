"""reporters' optional status e-mails

``status_mails``: a reporter's wish to be told of status changes, the address sealed;
``mail_outbox``: the e-mails to send (subscription and status only, never the address).

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-29 23:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import takedown.store.models

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

UTC_DATETIME = takedown.store.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "status_mails",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("sealed_address", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=10), nullable=False),
        sa.Column("last_status", sa.String(length=40), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("stopped_at", UTC_DATETIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["report_id"], ["reports.id"], name=op.f("fk_status_mails_report_id_reports")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_mails")),
        sa.UniqueConstraint("report_id", name=op.f("uq_status_mails_report_id")),
    )
    with op.batch_alter_table("status_mails", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_status_mails_stopped_at"), ["stopped_at"])
    op.create_table(
        "mail_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("status_mail_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("next_attempt_at", UTC_DATETIME, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("sent_at", UTC_DATETIME, nullable=True),
        sa.Column("gave_up_at", UTC_DATETIME, nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["status_mail_id"],
            ["status_mails.id"],
            name=op.f("fk_mail_outbox_status_mail_id_status_mails"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_outbox")),
    )
    with op.batch_alter_table("mail_outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mail_outbox_status_mail_id"), ["status_mail_id"])
        batch_op.create_index(batch_op.f("ix_mail_outbox_next_attempt_at"), ["next_attempt_at"])


def downgrade() -> None:
    with op.batch_alter_table("mail_outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mail_outbox_next_attempt_at"))
        batch_op.drop_index(batch_op.f("ix_mail_outbox_status_mail_id"))
    op.drop_table("mail_outbox")
    with op.batch_alter_table("status_mails", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_status_mails_stopped_at"))
    op.drop_table("status_mails")
