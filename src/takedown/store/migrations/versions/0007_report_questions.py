"""questions and answers belong to one report

A reviewer's question was stored on the case (``cases.question``) and any reporter of the case
could read and answer it (``reports.reply``). Questions move to ``report_questions``, one row
per question to one report. Existing data is kept: an open question (the case awaiting
information) goes to the case's first report, as the new default does; every stored reply
becomes an answered question of the report that sent it; a question nobody answered on a case
no longer waiting is kept as withdrawn. When a question was asked is taken from the case's
latest ``need_more_info`` decision (else the case's last change), when it was answered or
withdrawn from the case's last change: the old schema kept no better times.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 20:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import takedown.store.models

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# Each statement joins the case's latest "need more information" decision (its id and time).

_ANSWERED = """
    INSERT INTO report_questions
        (report_id, case_id, decision_id, question, asked_at, answer, answered_at, withdrawn_at)
    SELECT r.id, c.id, d.id, c.question, COALESCE(d.created_at, c.updated_at),
           r.reply, c.updated_at, NULL
    FROM reports r
    JOIN cases c ON c.id = r.case_id
    LEFT JOIN (
        SELECT case_id, MAX(id) AS id FROM decisions
        WHERE outcome = 'need_more_info' GROUP BY case_id
    ) latest ON latest.case_id = c.id
    LEFT JOIN decisions d ON d.id = latest.id
    WHERE r.reply <> ''
    ORDER BY r.id
"""

_OPEN = """
    INSERT INTO report_questions
        (report_id, case_id, decision_id, question, asked_at, answer, answered_at, withdrawn_at)
    SELECT earliest.id, c.id, d.id, c.question, COALESCE(d.created_at, c.updated_at),
           '', NULL, NULL
    FROM cases c
    JOIN (SELECT case_id, MIN(id) AS id FROM reports GROUP BY case_id) earliest
      ON earliest.case_id = c.id
    LEFT JOIN (
        SELECT case_id, MAX(id) AS id FROM decisions
        WHERE outcome = 'need_more_info' GROUP BY case_id
    ) latest ON latest.case_id = c.id
    LEFT JOIN decisions d ON d.id = latest.id
    WHERE c.state = 'awaiting_info'
    ORDER BY c.id
"""

_WITHDRAWN = """
    INSERT INTO report_questions
        (report_id, case_id, decision_id, question, asked_at, answer, answered_at, withdrawn_at)
    SELECT earliest.id, c.id, d.id, c.question, COALESCE(d.created_at, c.updated_at),
           '', NULL, c.updated_at
    FROM cases c
    JOIN (SELECT case_id, MIN(id) AS id FROM reports GROUP BY case_id) earliest
      ON earliest.case_id = c.id
    LEFT JOIN (
        SELECT case_id, MAX(id) AS id FROM decisions
        WHERE outcome = 'need_more_info' GROUP BY case_id
    ) latest ON latest.case_id = c.id
    LEFT JOIN decisions d ON d.id = latest.id
    WHERE c.state <> 'awaiting_info' AND c.question <> ''
      AND NOT EXISTS (SELECT 1 FROM reports o WHERE o.case_id = c.id AND o.reply <> '')
    ORDER BY c.id
"""


def upgrade() -> None:
    op.create_table(
        "report_questions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("decision_id", sa.Integer(), nullable=True),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("asked_at", takedown.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("answered_at", takedown.store.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_at", takedown.store.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_report_questions_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["decision_id"],
            ["decisions.id"],
            name=op.f("fk_report_questions_decision_id_decisions"),
        ),
        sa.ForeignKeyConstraint(
            ["report_id"], ["reports.id"], name=op.f("fk_report_questions_report_id_reports")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_questions")),
    )
    with op.batch_alter_table("report_questions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_report_questions_case_id"), ["case_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_report_questions_report_id"), ["report_id"], unique=False
        )

    for statement in (_ANSWERED, _OPEN, _WITHDRAWN):
        op.execute(statement)

    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_column("reply")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("question")


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("question", sa.Text(), server_default="", nullable=False))
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reply", sa.Text(), server_default="", nullable=False))

    # the newest question of each case and the newest answer of each report
    op.execute(
        """
        UPDATE cases SET question = (
            SELECT q.question FROM report_questions q
            WHERE q.case_id = cases.id ORDER BY q.id DESC LIMIT 1
        )
        WHERE EXISTS (SELECT 1 FROM report_questions q WHERE q.case_id = cases.id)
        """
    )
    op.execute(
        """
        UPDATE reports SET reply = (
            SELECT q.answer FROM report_questions q
            WHERE q.report_id = reports.id AND q.answered_at IS NOT NULL
            ORDER BY q.id DESC LIMIT 1
        )
        WHERE EXISTS (
            SELECT 1 FROM report_questions q
            WHERE q.report_id = reports.id AND q.answered_at IS NOT NULL
        )
        """
    )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.alter_column("question", server_default=None)
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.alter_column("reply", server_default=None)

    with op.batch_alter_table("report_questions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_report_questions_report_id"))
        batch_op.drop_index(batch_op.f("ix_report_questions_case_id"))
    op.drop_table("report_questions")
