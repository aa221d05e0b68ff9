"""An index of an event's orders by payment time: the console dashboard's first payment (the start of its sales
chart) is then one index probe instead of a pass over the event's orders.

Revision ID: 0024
Revises: 0022
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0024"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_orders_event_confirmed", "orders", ["event_id", "confirmed_at"])


def downgrade() -> None:
    op.drop_index("ix_orders_event_confirmed", table_name="orders")
