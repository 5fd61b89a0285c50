"""weak fingerprints: a content item keeps how far its fingerprints can find its copies

``content.fingerprint`` holds ``{"strength": "strong"|"weak"|"exact_only", "reason": ...}``
(see ``takedown.signals.strength``), assessed when the item is registered, so that the verdict
given again, the case page and the statement of reasons say the same. Rows registered before
have none (NULL): nothing is claimed for them either way.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29 21:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("content", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fingerprint", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("content", schema=None) as batch_op:
        batch_op.drop_column("fingerprint")
