"""Email messages queued by the outbox, unique per order event.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from boxoffice.db import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "email_messages",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("dedupe_key", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("order_id", sa.String(32), nullable=False),
        sa.Column("event_id", sa.String(32), nullable=False),
        sa.Column("to_email", sa.String(320), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("locked_until", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_email_messages"),
        sa.UniqueConstraint("dedupe_key", name="uq_email_messages_dedupe_key"),
    )
    op.create_index("ix_email_messages_due", "email_messages", ["status", "next_attempt_at"])
    op.create_index("ix_email_messages_order_id", "email_messages", ["order_id"])
    op.create_index("ix_email_messages_event_id", "email_messages", ["event_id"])


def downgrade() -> None:
    op.drop_index("ix_email_messages_event_id", table_name="email_messages")
    op.drop_index("ix_email_messages_order_id", table_name="email_messages")
    op.drop_index("ix_email_messages_due", table_name="email_messages")
    op.drop_table("email_messages")
