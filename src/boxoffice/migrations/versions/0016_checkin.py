"""Check-in at the door: check-in lists, door devices and check-ins; every existing event gets its default list.

``uq_checkins_admitted`` (one admitted row per ticket and list: neither undone nor a flagged duplicate) decides the
one ``ok``; ``uq_checkins_nonce`` makes a retried scan find its first row.

Revision ID: 0016
Revises: 0019
Create Date: 2026-12-03
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from boxoffice.db import JSONType, UTCDateTime

revision = "0016"
down_revision = "0019"
branch_labels = None
depends_on = None

DEFAULT_LIST_NAME = "Entrance"
_events = sa.table("events", sa.column("id", sa.String))


def upgrade() -> None:
    lists = op.create_table(
        "checkin_lists",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "event_id",
            sa.String(32),
            sa.ForeignKey("events.id", name="fk_checkin_lists_event_id_events"),
            nullable=False,
        ),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("all_ticket_types", sa.Boolean(), nullable=False),
        sa.Column("ticket_type_ids", JSONType, nullable=False),
        sa.Column("starts_at", UTCDateTime(), nullable=True),
        sa.Column("ends_at", UTCDateTime(), nullable=True),
        sa.Column("default_for_event", sa.String(32), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("deleted_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_checkin_lists"),
        sa.UniqueConstraint("default_for_event", name="uq_checkin_lists_default_for_event"),
    )
    op.create_index("ix_checkin_lists_event_id", "checkin_lists", ["event_id"])
    op.create_table(
        "checkin_devices",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "event_id",
            sa.String(32),
            sa.ForeignKey("events.id", name="fk_checkin_devices_event_id_events"),
            nullable=False,
        ),
        sa.Column(
            "list_id",
            sa.String(32),
            sa.ForeignKey("checkin_lists.id", name="fk_checkin_devices_list_id_checkin_lists"),
            nullable=False,
        ),
        sa.Column("label", sa.String(100), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_used_at", UTCDateTime(), nullable=True),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_checkin_devices"),
        sa.UniqueConstraint("token_hash", name="uq_checkin_devices_token_hash"),
    )
    op.create_index("ix_checkin_devices_event_id", "checkin_devices", ["event_id"])
    op.create_table(
        "checkins",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "list_id",
            sa.String(32),
            sa.ForeignKey("checkin_lists.id", name="fk_checkins_list_id_checkin_lists"),
            nullable=False,
        ),
        sa.Column(
            "ticket_id",
            sa.String(32),
            sa.ForeignKey("tickets.id", name="fk_checkins_ticket_id_tickets"),
            nullable=False,
        ),
        sa.Column("ticket_type_id", sa.String(32), nullable=False),
        sa.Column("scanned_at", UTCDateTime(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column(
            "device_id",
            sa.String(32),
            sa.ForeignKey("checkin_devices.id", name="fk_checkins_device_id_checkin_devices"),
            nullable=True,
        ),
        sa.Column("device_label", sa.String(100), nullable=False),
        sa.Column("nonce", sa.String(100), nullable=True),
        sa.Column("manual", sa.Boolean(), nullable=False),
        sa.Column("duplicate", sa.Boolean(), nullable=False),
        sa.Column("undone_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_checkins"),
    )
    op.create_index(
        "uq_checkins_admitted",
        "checkins",
        ["list_id", "ticket_id"],
        unique=True,
        postgresql_where=sa.text("undone_at IS NULL AND NOT duplicate"),
        sqlite_where=sa.text("undone_at IS NULL AND duplicate = 0"),
    )
    op.create_index(
        "uq_checkins_nonce",
        "checkins",
        ["list_id", "nonce"],
        unique=True,
        postgresql_where=sa.text("nonce IS NOT NULL"),
        sqlite_where=sa.text("nonce IS NOT NULL"),
    )
    op.create_index("ix_checkins_ticket_id", "checkins", ["ticket_id"])
    op.create_index("ix_checkins_list_received", "checkins", ["list_id", "received_at"])

    # Every existing event gets the default list a new event gets when it is created.
    bind = op.get_bind()
    now = datetime.now(UTC)
    rows = [
        {
            "id": f"cl_{secrets.token_hex(10)}",
            "event_id": event_id,
            "name": DEFAULT_LIST_NAME,
            "all_ticket_types": True,
            "ticket_type_ids": [],
            "default_for_event": event_id,
            "revision": 0,
            "created_at": now,
            "updated_at": now,
        }
        for (event_id,) in bind.execute(sa.select(_events.c.id).order_by(_events.c.id)).all()
    ]
    if rows:
        op.bulk_insert(lists, rows)


def downgrade() -> None:
    op.drop_index("ix_checkins_list_received", table_name="checkins")
    op.drop_index("ix_checkins_ticket_id", table_name="checkins")
    op.drop_index("uq_checkins_nonce", table_name="checkins")
    op.drop_index("uq_checkins_admitted", table_name="checkins")
    op.drop_table("checkins")
    op.drop_index("ix_checkin_devices_event_id", table_name="checkin_devices")
    op.drop_table("checkin_devices")
    op.drop_index("ix_checkin_lists_event_id", table_name="checkin_lists")
    op.drop_table("checkin_lists")
