"""Orders keep a keyed hash of the buyer's network address, for the held-tickets cap per address, with a partial
index on pending orders that makes the count one index lookup.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("client_key", sa.String(length=64), nullable=True))
    op.create_index(
        "ix_orders_pending_client",
        "orders",
        ["client_key", "event_id"],
        postgresql_where=sa.text("status = 'pending'"),
        sqlite_where=sa.text("status = 'pending'"),
    )


def downgrade() -> None:
    op.drop_index("ix_orders_pending_client", table_name="orders")
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("client_key")
