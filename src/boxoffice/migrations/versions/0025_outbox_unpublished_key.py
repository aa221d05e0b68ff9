"""PostgreSQL: an index of the unpublished outbox messages by their order's (else ticket's) key, so that the
webhook sender's look-up of the keys it is about to send (an earlier event of the order still unhandled?) is a few
index probes instead of a pass over the dispatcher's whole backlog. Partial: a message leaves it once published.
SQLite (one process, small backlogs) needs none.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

NAME = "ix_outbox_messages_unpublished_key"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.create_index(
        NAME,
        "outbox_messages",
        [sa.text("coalesce(payload ->> 'order_id', payload ->> 'ticket_id')"), "id"],
        postgresql_where=sa.text("published_at IS NULL"),
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index(NAME, table_name="outbox_messages")
