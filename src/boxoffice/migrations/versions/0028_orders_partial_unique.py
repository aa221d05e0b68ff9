"""Orders' unique and payment-time indexes leave out the orders that have no value there yet.

An order is written with no Checkout Session, no PaymentIntent, no payment time and, unless its request carried an
Idempotency-Key, no key; its Checkout Session is stored right after (an update that writes every index of the row
again). The unique constraints on those three columns and the payment-time index still took an entry for every
NULL: seven of the twenty index entries an order's two writes made. They become partial indexes (``WHERE ... IS NOT
NULL``) of the same names: uniqueness is unchanged (NULLs never collided), the lookups by session, PaymentIntent, key
and the dashboard's first payment use them as before, and an order's writes log 7.7 % less
(``benchmarks/README.md``, "Round two, 2026-12-04 night"). On a large ``orders`` table the upgrade builds four
indexes with the table locked: seconds per million orders.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None

UNIQUE = (
    ("uq_orders_idempotency_key", "idempotency_key"),
    ("uq_orders_stripe_checkout_session_id", "stripe_checkout_session_id"),
    ("uq_orders_stripe_payment_intent_id", "stripe_payment_intent_id"),
)
CONFIRMED = "ix_orders_event_confirmed"


def _set(column: str) -> sa.TextClause:
    return sa.text(f"{column} IS NOT NULL")


def upgrade() -> None:
    # One transaction on PostgreSQL (the table locked throughout): no order can slip in between a constraint's drop
    # and its index's creation. SQLite rebuilds the table without the constraints.
    with op.batch_alter_table("orders") as batch:
        for name, _ in UNIQUE:
            batch.drop_constraint(name, type_="unique")
    for name, column in UNIQUE:
        op.create_index(name, "orders", [column], unique=True, postgresql_where=_set(column), sqlite_where=_set(column))
    op.drop_index(CONFIRMED, table_name="orders")
    op.create_index(
        CONFIRMED,
        "orders",
        ["event_id", "confirmed_at"],
        postgresql_where=_set("confirmed_at"),
        sqlite_where=_set("confirmed_at"),
    )


def downgrade() -> None:
    op.drop_index(CONFIRMED, table_name="orders")
    op.create_index(CONFIRMED, "orders", ["event_id", "confirmed_at"])
    for name, _ in UNIQUE:
        op.drop_index(name, table_name="orders")
    with op.batch_alter_table("orders") as batch:
        for name, column in UNIQUE:
            batch.create_unique_constraint(name, [column])
