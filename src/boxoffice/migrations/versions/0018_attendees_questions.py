"""Attendees and questions: per event, whether each ticket needs its attendee's name and email, a cut-off for
self-service changes and a count of its questions; the questions; each ticket's attendee with its answers; each
order's answers; and the tickets handed to someone else.

Existing events ask nothing (``attendee_details`` off, no questions) and sell exactly as before.

Revision ID: 0018
Revises: 0014
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from boxoffice.db import JSONType, UTCDateTime

revision = "0018"
down_revision = "0014"
branch_labels = None
depends_on = None


def _stamps() -> list[sa.Column[object]]:
    return [
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    ]


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("attendee_details", sa.String(16), nullable=False, server_default="off"))
        batch.add_column(sa.Column("changes_until", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("question_count", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "questions",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("event_id", sa.String(32), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("help_text", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("scope", sa.String(8), nullable=False),
        sa.Column("options", JSONType, nullable=False),
        sa.Column("ticket_type_ids", JSONType, nullable=False),
        sa.Column("condition", JSONType, nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("deleted_at", UTCDateTime(), nullable=True),
        *_stamps(),
        sa.PrimaryKeyConstraint("id", name="pk_questions"),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], name="fk_questions_event_id_events"),
    )
    op.create_index("ix_questions_event_position", "questions", ["event_id", "position"])
    op.create_table(
        "attendees",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("event_id", sa.String(32), nullable=False),
        sa.Column("order_id", sa.String(32), nullable=False),
        sa.Column("order_line_id", sa.String(32), nullable=False),
        sa.Column("unit", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.String(32), nullable=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("person_id", sa.String(32), nullable=True),
        sa.Column("answers", JSONType, nullable=False),
        *_stamps(),
        sa.PrimaryKeyConstraint("id", name="pk_attendees"),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], name="fk_attendees_event_id_events"),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name="fk_attendees_order_id_orders"),
        sa.ForeignKeyConstraint(["order_line_id"], ["order_lines.id"], name="fk_attendees_order_line_id_order_lines"),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name="fk_attendees_ticket_id_tickets"),
        sa.ForeignKeyConstraint(["person_id"], ["persons.id"], name="fk_attendees_person_id_persons"),
        sa.UniqueConstraint("order_line_id", "unit", name="uq_attendees_line_unit"),
        sa.UniqueConstraint("ticket_id", name="uq_attendees_ticket_id"),
    )
    op.create_index("ix_attendees_event_id", "attendees", ["event_id"])
    op.create_index("ix_attendees_order_id", "attendees", ["order_id"])
    op.create_table(
        "order_answers",
        sa.Column("order_id", sa.String(32), nullable=False),
        sa.Column("event_id", sa.String(32), nullable=False),
        sa.Column("answers", JSONType, nullable=False),
        *_stamps(),
        sa.PrimaryKeyConstraint("order_id", name="pk_order_answers"),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name="fk_order_answers_order_id_orders"),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], name="fk_order_answers_event_id_events"),
    )
    op.create_index("ix_order_answers_event_id", "order_answers", ["event_id"])
    op.create_table(
        "ticket_transfers",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("ticket_id", sa.String(32), nullable=False),
        sa.Column("order_id", sa.String(32), nullable=False),
        sa.Column("event_id", sa.String(32), nullable=False),
        sa.Column("code_version", sa.Integer(), nullable=False),
        sa.Column("from_name", sa.String(200), nullable=False),
        sa.Column("from_email", sa.String(320), nullable=False),
        sa.Column("to_name", sa.String(200), nullable=False),
        sa.Column("to_email", sa.String(320), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ticket_transfers"),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name="fk_ticket_transfers_ticket_id_tickets"),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name="fk_ticket_transfers_order_id_orders"),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], name="fk_ticket_transfers_event_id_events"),
    )
    op.create_index("ix_ticket_transfers_ticket_id", "ticket_transfers", ["ticket_id"])
    op.create_index("ix_ticket_transfers_order_id", "ticket_transfers", ["order_id"])
    op.create_index("ix_ticket_transfers_event_id", "ticket_transfers", ["event_id"])


def downgrade() -> None:
    for table, columns in (
        ("ticket_transfers", ("ticket_id", "order_id", "event_id")),
        ("order_answers", ("event_id",)),
        ("attendees", ("event_id", "order_id")),
    ):
        for column in columns:
            op.drop_index(f"ix_{table}_{column}", table_name=table)
        op.drop_table(table)
    op.drop_index("ix_questions_event_position", table_name="questions")
    op.drop_table("questions")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("question_count")
        batch.drop_column("changes_until")
        batch.drop_column("attendee_details")
