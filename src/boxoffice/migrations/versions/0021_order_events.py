"""Order status history: one row per status change of an order, written with the change; and an index of an
event's orders newest first (the console's orders pages and dashboard).

Revision ID: 0021
Revises: 0017
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from boxoffice.db import UTCDateTime

revision = "0021"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "order_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("order_id", sa.String(32), nullable=False),
        sa.Column("from_status", sa.String(24), nullable=False),
        sa.Column("to_status", sa.String(24), nullable=False),
        sa.Column("refunded_cents", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_order_events"),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name="fk_order_events_order_id_orders"),
    )
    op.create_index("ix_order_events_order", "order_events", ["order_id", "id"])
    op.create_index("ix_orders_event_created", "orders", ["event_id", "created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_orders_event_created", table_name="orders")
    op.drop_index("ix_order_events_order", table_name="order_events")
    op.drop_table("order_events")
