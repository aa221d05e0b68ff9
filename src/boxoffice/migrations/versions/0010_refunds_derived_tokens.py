"""Refunds as rows of their own; order tokens derived instead of stored; the order as its own idempotency record.

- ``refunds``: every refund an organizer asks for, written before the Stripe call (its id is Stripe's idempotency
  key), so two partial refunds are two refunds and a retried request is the same one.
- ``orders.access_token`` (plaintext) becomes ``orders.token_hash`` (SHA-256 of it) for the orders that exist; new
  orders' tokens are derived from the order id and the secret key and stored nowhere.
- ``orders.idempotency_key`` / ``request_fingerprint``: the Idempotency-Key that created the order, unique, written
  in the reservation's own statement. ``idempotency_records`` goes: nothing uses it any more.

Downgrade gives the orders new random tokens (links sent before it stop working) and recreates the empty
idempotency table.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from __future__ import annotations

import hashlib
import secrets

import sqlalchemy as sa
from alembic import op

from boxoffice.db import JSONType, UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_orders = sa.table(
    "orders",
    sa.column("id", sa.String),
    sa.column("access_token", sa.String),
    sa.column("token_hash", sa.String),
)


def upgrade() -> None:
    op.create_table(
        "refunds",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("order_id", sa.String(32), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("stripe_refund_id", sa.String(255), nullable=True),
        sa.Column("idempotency_key", sa.String(64), nullable=True),
        sa.Column("request_fingerprint", sa.String(64), nullable=True),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_refunds"),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name="fk_refunds_order_id_orders"),
        sa.UniqueConstraint("stripe_refund_id", name="uq_refunds_stripe_refund_id"),
        sa.UniqueConstraint("idempotency_key", name="uq_refunds_idempotency_key"),
        sa.CheckConstraint("amount_cents > 0", name="ck_refunds_amount_positive"),
    )
    op.create_index("ix_refunds_order_id", "refunds", ["order_id"])
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("token_hash", sa.String(64), nullable=True))
        batch.add_column(sa.Column("idempotency_key", sa.String(64), nullable=True))
        batch.add_column(sa.Column("request_fingerprint", sa.String(64), nullable=True))
        batch.create_unique_constraint("uq_orders_idempotency_key", ["idempotency_key"])
    bind = op.get_bind()
    rows = bind.execute(sa.select(_orders.c.id, _orders.c.access_token)).all()
    for order_id, token in rows:
        digest = hashlib.sha256(str(token).encode()).hexdigest()
        bind.execute(sa.update(_orders).where(_orders.c.id == order_id).values(token_hash=digest))
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("access_token")
    op.drop_index("ix_idempotency_records_created_at", table_name="idempotency_records")
    op.drop_table("idempotency_records")


def downgrade() -> None:
    op.create_table(
        "idempotency_records",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("scope", sa.String(64), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("response", JSONType, nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_idempotency_records"),
        sa.UniqueConstraint("scope", "key", name="uq_idempotency_records_scope_key"),
    )
    op.create_index("ix_idempotency_records_created_at", "idempotency_records", ["created_at"])
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("access_token", sa.String(64), nullable=True))
    bind = op.get_bind()
    for (order_id,) in bind.execute(sa.select(_orders.c.id)).all():
        bind.execute(sa.update(_orders).where(_orders.c.id == order_id).values(access_token=secrets.token_urlsafe(32)))
    with op.batch_alter_table("orders") as batch:
        batch.alter_column("access_token", existing_type=sa.String(64), nullable=False)
        batch.drop_constraint("uq_orders_idempotency_key", type_="unique")
        batch.drop_column("request_fingerprint")
        batch.drop_column("idempotency_key")
        batch.drop_column("token_hash")
    op.drop_index("ix_refunds_order_id", table_name="refunds")
    op.drop_table("refunds")
