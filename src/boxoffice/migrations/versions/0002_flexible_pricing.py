"""Flexible pricing: pricing models, tips, pricing snapshots; existing tickets become ``fixed`` at their price.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

from boxoffice.db import JSONType

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ticket_types") as batch:
        batch.add_column(sa.Column("pricing_model", sa.String(16), nullable=False, server_default="fixed"))
        batch.add_column(sa.Column("base_price_cents", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("minimum_price_cents", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("suggested_price_cents", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("price_tiers", JSONType, nullable=True))
        batch.add_column(sa.Column("tippable", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("position", sa.Integer(), nullable=False, server_default="0"))
    # Every existing ticket keeps selling at its old price, as a fixed-price ticket.
    op.execute("UPDATE ticket_types SET pricing_model = 'fixed', base_price_cents = price_cents")
    with op.batch_alter_table("ticket_types") as batch:
        batch.drop_column("price_cents")

    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("subtotal_cents", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("tip_cents", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("pricing_snapshot", JSONType, nullable=True))
    op.execute("UPDATE orders SET subtotal_cents = total_cents")

    with op.batch_alter_table("order_lines") as batch:
        batch.add_column(sa.Column("position", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("title", sa.String(200), nullable=True))
        batch.add_column(sa.Column("unit_prices", JSONType, nullable=True))

    # Backfill what the buyers of existing orders saw: a fixed price per unit.
    conn = op.get_bind()
    lines = conn.execute(
        sa.text(
            "SELECT ol.id, ol.order_id, ol.ticket_type_id, ol.quantity, ol.unit_price_cents, tt.title "
            "FROM order_lines ol JOIN ticket_types tt ON tt.id = ol.ticket_type_id ORDER BY ol.order_id, ol.id"
        )
    ).all()
    snapshots: dict[str, list[dict[str, object]]] = {}
    for line_id, order_id, tt_id, quantity, unit, title in lines:
        conn.execute(
            sa.text("UPDATE order_lines SET title = :title, unit_prices = :prices WHERE id = :id"),
            {"title": title, "prices": json.dumps([unit] * quantity), "id": line_id},
        )
        snapshots.setdefault(order_id, []).append(
            {
                "ticket_type_id": tt_id,
                "title": title,
                "pricing_model": "fixed",
                "base_price_cents": unit,
                "quantity": quantity,
                "unit_prices": [unit] * quantity,
            }
        )
    orders = conn.execute(sa.text("SELECT id, currency, total_cents FROM orders")).all()
    for order_id, currency, total in orders:
        snapshot = {
            "legacy": True,
            "currency": currency,
            "lines": snapshots.get(order_id, []),
            "tip_cents": 0,
            "subtotal_cents": total,
            "total_cents": total,
        }
        conn.execute(
            sa.text("UPDATE orders SET pricing_snapshot = :s WHERE id = :id"),
            {"s": json.dumps(snapshot), "id": order_id},
        )
    conn.execute(sa.text("UPDATE order_lines SET title = '' WHERE title IS NULL"))
    conn.execute(sa.text("UPDATE order_lines SET unit_prices = '[]' WHERE unit_prices IS NULL"))

    with op.batch_alter_table("orders") as batch:
        batch.alter_column("subtotal_cents", existing_type=sa.Integer(), nullable=False)
        batch.alter_column("pricing_snapshot", existing_type=JSONType, nullable=False)
    with op.batch_alter_table("order_lines") as batch:
        batch.alter_column("title", existing_type=sa.String(200), nullable=False)
        batch.alter_column("unit_prices", existing_type=JSONType, nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("order_lines") as batch:
        batch.drop_column("unit_prices")
        batch.drop_column("title")
        batch.drop_column("position")
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("pricing_snapshot")
        batch.drop_column("tip_cents")
        batch.drop_column("subtotal_cents")
    with op.batch_alter_table("ticket_types") as batch:
        batch.add_column(sa.Column("price_cents", sa.Integer(), nullable=False, server_default="0"))
    op.execute("UPDATE ticket_types SET price_cents = COALESCE(base_price_cents, minimum_price_cents, 0)")
    with op.batch_alter_table("ticket_types") as batch:
        batch.drop_column("position")
        batch.drop_column("tippable")
        batch.drop_column("price_tiers")
        batch.drop_column("suggested_price_cents")
        batch.drop_column("minimum_price_cents")
        batch.drop_column("base_price_cents")
        batch.drop_column("pricing_model")
