"""A revision counter on events and ticket types, raised by every organizer edit.

A process may keep what it read of an event and a ticket type (the flash-sale reservation does) as long as the
revision it read is still the row's: the reservation statement checks it.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("revision", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("ticket_types") as batch:
        batch.add_column(sa.Column("revision", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("ticket_types") as batch:
        batch.drop_column("revision")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("revision")
