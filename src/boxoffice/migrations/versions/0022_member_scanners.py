"""Door team members' scanners: a device token the console mints for a signed-in member (``Open the scanner``) is
tied to that member's user and console session and expires; it stops working when the session ends (sign-out,
expiry, a new password), when the member leaves the team, or at ``expires_at``.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from boxoffice.db import UTCDateTime

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("checkin_devices") as batch:
        batch.add_column(sa.Column("user_id", sa.String(32), nullable=True))
        batch.add_column(sa.Column("session_id", sa.String(32), nullable=True))
        batch.add_column(sa.Column("expires_at", UTCDateTime(), nullable=True))
        batch.create_foreign_key("fk_checkin_devices_user_id_users", "users", ["user_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("checkin_devices") as batch:
        batch.drop_constraint("fk_checkin_devices_user_id_users", type_="foreignkey")
        batch.drop_column("expires_at")
        batch.drop_column("session_id")
        batch.drop_column("user_id")
