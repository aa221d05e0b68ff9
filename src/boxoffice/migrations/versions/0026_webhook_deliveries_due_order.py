"""The webhook sender's due index: the pending deliveries only, in the claim's whole order ``(next_attempt_at,
seq)``; was ``(status, next_attempt_at)`` over every delivery.

The claim reads the due deliveries ``ORDER BY next_attempt_at, seq LIMIT n``: this index gives that order, so the
scan stops after ``n`` (a batch of deliveries queued at once shares its ``next_attempt_at``; without ``seq`` each
claim sorted the backlog). And no index leads with ``status`` any more: after a burst of deliveries into a table
whose statistics predate it, PostgreSQL's planner took ``status = 'pending'`` for a handful of rows and, for each
candidate, scanned every pending delivery through such an index to check that no earlier one of its order was
pending (``benchmarks/README.md``); the check now goes through ``ix_webhook_deliveries_sequence``.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

NAME = "ix_webhook_deliveries_due"
PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    op.drop_index(NAME, table_name="webhook_deliveries")
    op.create_index(
        NAME, "webhook_deliveries", ["next_attempt_at", "seq"], postgresql_where=PENDING, sqlite_where=PENDING
    )


def downgrade() -> None:
    op.drop_index(NAME, table_name="webhook_deliveries")
    op.create_index(NAME, "webhook_deliveries", ["status", "next_attempt_at"])
