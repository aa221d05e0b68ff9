"""An event's one currency.

Ticket types are priced in their event's currency from now on (an order can never mix currencies). Each existing
event takes the currency of its ticket types; an event whose ticket types mixed currencies takes the one most of
them use, and is reported (logged by the migration, with its ticket types in other currencies): those keep their
prices and can still be sold alone, but no new ticket type in another currency can be added to it. An event
without ticket types gets its currency from its first one.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")
_events = sa.table("events", sa.column("id", sa.String), sa.column("currency", sa.String))
_ticket_types = sa.table("ticket_types", sa.column("event_id", sa.String), sa.column("currency", sa.String))


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("currency", sa.String(3), nullable=True))
    bind = op.get_bind()
    used: dict[str, Counter[str]] = defaultdict(Counter)
    for event_id, currency in bind.execute(sa.select(_ticket_types.c.event_id, _ticket_types.c.currency)).all():
        used[event_id][str(currency).lower()] += 1
    for event_id, counts in sorted(used.items()):
        # the most used currency; a tie goes to the first in alphabetical order, so the result never depends on luck
        chosen = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[0][0]
        if len(counts) > 1:
            others = ", ".join(f"{code} ({n})" for code, n in sorted(counts.items()) if code != chosen)
            log.warning(
                "event %s had ticket types in several currencies: it sells in %s now; ticket types in %s keep "
                "their prices but cannot be sold with the others",
                event_id,
                chosen,
                others,
            )
        bind.execute(sa.update(_events).where(_events.c.id == event_id).values(currency=chosen))


def downgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.drop_column("currency")
