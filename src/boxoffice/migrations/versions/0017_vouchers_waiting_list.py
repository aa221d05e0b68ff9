"""Vouchers and access codes, their uses per order line, the waiting list, and shorter holds.

Ticket types get ``reserved_count`` (tickets set aside for vouchers and held back for the waiting list, out of
public availability; ``waitlist_count`` of them not offered yet), ``hidden`` and a ``waiting_list`` switch (on), and
the oversell check counts what is set aside. Events get ``hold_minutes`` (none: the server's setting, as before) and
``waiting_list_offer_minutes`` (24 hours). Emails may be about a waiting-list entry instead of an order. Checkout
Sessions that outlive a short hold are listed to be closed at Stripe.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03
"""

from __future__ import annotations

from typing import Literal

import sqlalchemy as sa
from alembic import op

from boxoffice.db import JSONType, UTCDateTime

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

OLD_NO_OVERSELL = "sold_count + held_count <= quantity"
NEW_NO_OVERSELL = "sold_count + held_count + reserved_count <= quantity"
RESERVED = "reserved_count >= 0 AND waitlist_count >= 0 AND waitlist_count <= reserved_count"


def _recreate() -> Literal["auto", "always"]:
    return "always" if op.get_bind().dialect.name == "sqlite" else "auto"


def upgrade() -> None:
    with op.batch_alter_table("ticket_types", recreate=_recreate()) as batch:
        batch.add_column(sa.Column("reserved_count", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("waitlist_count", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("hidden", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("waiting_list", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch.drop_constraint(op.f("ck_ticket_types_no_oversell"), type_="check")
        batch.create_check_constraint(op.f("ck_ticket_types_no_oversell"), NEW_NO_OVERSELL)
        batch.create_check_constraint(op.f("ck_ticket_types_reserved_counters"), RESERVED)
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("hold_minutes", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("waiting_list_offer_minutes", sa.Integer(), nullable=False, server_default="1440"))
    with op.batch_alter_table("email_messages") as batch:
        batch.alter_column("order_id", existing_type=sa.String(32), nullable=True)
        batch.add_column(sa.Column("waiting_list_entry_id", sa.String(32), nullable=True))
        batch.create_index(op.f("ix_email_messages_waiting_list_entry_id"), ["waiting_list_entry_id"])

    op.create_table(
        "vouchers",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("event_id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("code_normalized", sa.String(64), nullable=False),
        sa.Column("batch_id", sa.String(32), nullable=True),
        sa.Column("discount", JSONType, nullable=True),
        sa.Column("ticket_type_ids", JSONType, nullable=True),
        sa.Column("unlocks", JSONType, nullable=False),
        sa.Column("max_uses", sa.Integer(), nullable=True),
        sa.Column("uses_taken", sa.Integer(), nullable=False),
        sa.Column("max_per_order", sa.Integer(), nullable=True),
        sa.Column("valid_from", UTCDateTime(), nullable=True),
        sa.Column("valid_until", UTCDateTime(), nullable=True),
        sa.Column("reserve", sa.Integer(), nullable=False),
        sa.Column("reserved_ticket_type_id", sa.String(32), nullable=True),
        sa.Column("reserved_left", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("deleted_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "uses_taken >= 0 AND reserved_left >= 0 AND reserve >= 0", name=op.f("ck_vouchers_counters_non_negative")
        ),
        sa.CheckConstraint("max_uses IS NULL OR uses_taken <= max_uses", name=op.f("ck_vouchers_within_max_uses")),
        sa.CheckConstraint("reserved_left <= reserve", name=op.f("ck_vouchers_reserved_within_reserve")),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], name=op.f("fk_vouchers_event_id_events")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vouchers")),
    )
    op.create_index(op.f("ix_vouchers_event_id"), "vouchers", ["event_id"])
    op.create_index(op.f("ix_vouchers_batch_id"), "vouchers", ["batch_id"])
    op.create_index(
        "uq_vouchers_event_code",
        "vouchers",
        ["event_id", "code_normalized"],
        unique=True,
        postgresql_where=sa.text("deleted_at IS NULL"),
        sqlite_where=sa.text("deleted_at IS NULL"),
    )

    op.create_table(
        "voucher_uses",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("voucher_id", sa.String(32), nullable=False),
        sa.Column("order_id", sa.String(32), nullable=False),
        sa.Column("order_line_id", sa.String(32), nullable=False),
        sa.Column("ticket_type_id", sa.String(32), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("reserved", sa.Integer(), nullable=False),
        sa.Column("discount_cents", sa.Integer(), nullable=False),
        sa.Column("released_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "quantity >= 1 AND reserved >= 0 AND reserved <= quantity", name=op.f("ck_voucher_uses_quantities")
        ),
        sa.ForeignKeyConstraint(["voucher_id"], ["vouchers.id"], name=op.f("fk_voucher_uses_voucher_id_vouchers")),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_voucher_uses_order_id_orders")),
        sa.ForeignKeyConstraint(
            ["order_line_id"], ["order_lines.id"], name=op.f("fk_voucher_uses_order_line_id_order_lines")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voucher_uses")),
    )
    op.create_index(op.f("ix_voucher_uses_voucher_id"), "voucher_uses", ["voucher_id"])
    op.create_index(op.f("ix_voucher_uses_order_id"), "voucher_uses", ["order_id"])

    op.create_table(
        "waiting_list_entries",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("event_id", sa.String(32), nullable=False),
        sa.Column("ticket_type_id", sa.String(32), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("email_normalized", sa.String(320), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("voucher_id", sa.String(32), nullable=True),
        sa.Column("offered_at", UTCDateTime(), nullable=True),
        sa.Column("offer_expires_at", UTCDateTime(), nullable=True),
        sa.Column("order_id", sa.String(32), nullable=True),
        sa.Column("left_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("quantity >= 1", name=op.f("ck_waiting_list_entries_quantity_positive")),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], name=op.f("fk_waiting_list_entries_event_id_events")),
        sa.ForeignKeyConstraint(
            ["ticket_type_id"], ["ticket_types.id"], name=op.f("fk_waiting_list_entries_ticket_type_id_ticket_types")
        ),
        sa.ForeignKeyConstraint(
            ["voucher_id"], ["vouchers.id"], name=op.f("fk_waiting_list_entries_voucher_id_vouchers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waiting_list_entries")),
    )
    op.create_index(op.f("ix_waiting_list_entries_event_id"), "waiting_list_entries", ["event_id"])
    op.create_index("ix_waiting_list_entries_queue", "waiting_list_entries", ["ticket_type_id", "status", "created_at"])
    op.create_index("ix_waiting_list_entries_offers", "waiting_list_entries", ["status", "offer_expires_at"])
    op.create_index(
        "uq_waiting_list_entries_active_email",
        "waiting_list_entries",
        ["ticket_type_id", "email_normalized"],
        unique=True,
        postgresql_where=sa.text("status IN ('waiting', 'offered')"),
        sqlite_where=sa.text("status IN ('waiting', 'offered')"),
    )

    op.create_table(
        "checkout_closures",
        sa.Column("order_id", sa.String(32), nullable=False),
        sa.Column("session_id", sa.String(255), nullable=False),
        sa.Column("close_at", UTCDateTime(), nullable=False),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("outcome", sa.String(64), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_checkout_closures_order_id_orders")),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_checkout_closures")),
    )
    op.create_index(
        "ix_checkout_closures_due",
        "checkout_closures",
        ["close_at"],
        postgresql_where=sa.text("closed_at IS NULL"),
        sqlite_where=sa.text("closed_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_table("checkout_closures")
    op.drop_table("waiting_list_entries")
    op.drop_table("voucher_uses")
    op.drop_table("vouchers")
    # emails about waiting-list entries have no order: the older schema cannot hold them
    op.execute("DELETE FROM email_messages WHERE order_id IS NULL")
    with op.batch_alter_table("email_messages") as batch:
        batch.drop_index(op.f("ix_email_messages_waiting_list_entry_id"))
        batch.drop_column("waiting_list_entry_id")
        batch.alter_column("order_id", existing_type=sa.String(32), nullable=False)
    with op.batch_alter_table("events") as batch:
        batch.drop_column("waiting_list_offer_minutes")
        batch.drop_column("hold_minutes")
    # tickets set aside go back on sale
    with op.batch_alter_table("ticket_types", recreate=_recreate()) as batch:
        batch.drop_constraint(op.f("ck_ticket_types_reserved_counters"), type_="check")
        batch.drop_constraint(op.f("ck_ticket_types_no_oversell"), type_="check")
        batch.create_check_constraint(op.f("ck_ticket_types_no_oversell"), OLD_NO_OVERSELL)
        batch.drop_column("waiting_list")
        batch.drop_column("hidden")
        batch.drop_column("waitlist_count")
        batch.drop_column("reserved_count")
