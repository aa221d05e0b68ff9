"""Events get where they take place (venue name and address), an optional image URL, and the indexes that list an
organizer's events newest first or by their start. The new ``sales_paused`` status needs no schema change (the
status column is free text checked by the service).

Revision ID: 0015
Revises: 0018
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("venue_name", sa.String(200), nullable=False, server_default=""))
        batch.add_column(sa.Column("venue_address", sa.String(1000), nullable=False, server_default=""))
        batch.add_column(sa.Column("image_url", sa.String(2000), nullable=True))
    op.create_index("ix_events_organizer_created", "events", ["organizer_id", "created_at"])
    op.create_index("ix_events_organizer_starts", "events", ["organizer_id", "starts_at"])


def downgrade() -> None:
    op.drop_index("ix_events_organizer_starts", table_name="events")
    op.drop_index("ix_events_organizer_created", table_name="events")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("image_url")
        batch.drop_column("venue_address")
        batch.drop_column("venue_name")
