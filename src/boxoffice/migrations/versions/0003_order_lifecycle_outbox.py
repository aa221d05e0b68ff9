"""Order lifecycle (failed, refunds, checkout bookkeeping), issued tickets, and the transactional outbox.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from boxoffice.db import JSONType, UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("refunded_cents", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("failed_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("refunded_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("failure_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("checkout_url", sa.Text(), nullable=True))
        batch.add_column(sa.Column("checkout_attempt", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "tickets",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("order_id", sa.String(32), nullable=False),
        sa.Column("order_line_id", sa.String(32), nullable=False),
        sa.Column("ticket_type_id", sa.String(32), nullable=False),
        sa.Column("unit_price_cents", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tickets"),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name="fk_tickets_order_id_orders"),
        sa.ForeignKeyConstraint(["order_line_id"], ["order_lines.id"], name="fk_tickets_order_line_id_order_lines"),
        sa.ForeignKeyConstraint(["ticket_type_id"], ["ticket_types.id"], name="fk_tickets_ticket_type_id_ticket_types"),
    )
    op.create_index("ix_tickets_order_id", "tickets", ["order_id"])
    # Orders confirmed before this revision get their tickets issued now.
    conn = op.get_bind()
    rows = conn.execute(
        sa.text(
            "SELECT ol.id, ol.order_id, ol.ticket_type_id, ol.quantity, ol.unit_price_cents, o.created_at "
            "FROM order_lines ol JOIN orders o ON o.id = ol.order_id WHERE o.status = 'confirmed' ORDER BY ol.id"
        )
    ).all()
    for line_id, order_id, tt_id, quantity, unit, created in rows:
        for n in range(quantity):
            conn.execute(
                sa.text(
                    "INSERT INTO tickets (id, order_id, order_line_id, ticket_type_id, unit_price_cents, status, "
                    "created_at) VALUES (:id, :order_id, :line_id, :tt_id, :unit, 'valid', :created)"
                ),
                {
                    "id": f"tkt_{line_id[-16:]}{n:04d}",
                    "order_id": order_id,
                    "line_id": line_id,
                    "tt_id": tt_id,
                    "unit": unit,
                    "created": created,
                },
            )
    op.create_table(
        "outbox_messages",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("topics", JSONType, nullable=False),
        sa.Column("payload", JSONType, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("published_at", UTCDateTime(), nullable=True),
        sa.Column("locked_until", UTCDateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_outbox_messages"),
    )
    op.create_index("ix_outbox_messages_unpublished", "outbox_messages", ["published_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_messages_unpublished", table_name="outbox_messages")
    op.drop_table("outbox_messages")
    op.drop_index("ix_tickets_order_id", table_name="tickets")
    op.drop_table("tickets")
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("checkout_attempt")
        batch.drop_column("checkout_url")
        batch.drop_column("failure_reason")
        batch.drop_column("refunded_at")
        batch.drop_column("failed_at")
        batch.drop_column("refunded_cents")
