"""An organizer's events, for the console's first page: upcoming first (soonest first), then past (latest first)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from boxoffice.clock import utcnow
from boxoffice.db import Database
from boxoffice.events.models import Event


@dataclass(frozen=True)
class OrganizerEvents:
    upcoming: list[Event]
    past: list[Event]


async def organizer_events(db: Database, organizer_id: str, *, limit: int = 200) -> OrganizerEvents:
    now = utcnow()
    async with db.read() as session:
        upcoming = (
            await session.scalars(
                select(Event)
                .where(Event.organizer_id == organizer_id, Event.ends_at >= now)
                .order_by(Event.starts_at, Event.id)
                .limit(limit)
            )
        ).all()
        past = (
            await session.scalars(
                select(Event)
                .where(Event.organizer_id == organizer_id, Event.ends_at < now)
                .order_by(Event.starts_at.desc(), Event.id)
                .limit(limit)
            )
        ).all()
    return OrganizerEvents(list(upcoming), list(past))
