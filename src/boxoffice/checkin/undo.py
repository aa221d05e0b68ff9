"""Undoing a check-in: the ticket may enter again. One conditional UPDATE (``undone_at IS NULL``) decides a race
between two undos; the admission's unique index then lets the next scan in. The record is kept, with ``undone_at``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from boxoffice import outbox
from boxoffice.checkin.models import Checkin, CheckinList
from boxoffice.checkin.rules import Scanner
from boxoffice.clock import utcnow
from boxoffice.db import Database
from boxoffice.errors import Conflict, Forbidden, NotFound
from boxoffice.events.models import Event
from boxoffice.topics import checkin_list_topic


@dataclass(frozen=True)
class Undone:
    id: str
    list_id: str
    ticket_id: str
    undone_at: datetime


async def undo_checkin(db: Database, checkin_id: str, scanner: Scanner, *, now: datetime | None = None) -> Undone:
    """Take a check-in back (the ticket may enter again). ``NotFound`` if the scanner does not reach it,
    ``Forbidden`` for a scanner without the right, ``Conflict`` if it was undone already."""
    now = now or utcnow()
    async with db.transaction() as session:
        found = (
            await session.execute(
                select(Checkin, CheckinList.event_id, Event.organizer_id)
                .join(CheckinList, CheckinList.id == Checkin.list_id)
                .join(Event, Event.id == CheckinList.event_id)
                .where(Checkin.id == checkin_id)
            )
        ).one_or_none()
        if found is None:
            raise NotFound("check-in not found")
        row, event_id, organizer_id = found
        if not scanner.reaches(organizer_id=organizer_id, event_id=event_id, list_id=row.list_id):
            raise NotFound("check-in not found")
        if not scanner.can_undo:
            raise Forbidden("only the organizer (an owner or manager) may undo a check-in")
        result = await session.execute(
            update(Checkin)
            .where(Checkin.id == row.id, Checkin.undone_at.is_(None))
            .values(undone_at=now)
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) != 1:
            raise Conflict(f"check-in {row.id} was undone already")
        outbox.record(
            session,
            "checkin.undone",
            [checkin_list_topic(row.list_id)],
            {
                "checkin_id": row.id,
                "list_id": row.list_id,
                "event_id": event_id,
                "ticket_id": row.ticket_id,
                "ticket_type_id": row.ticket_type_id,
                "duplicate": row.duplicate,
                "undone_at": now.isoformat(),
            },
        )
    return Undone(row.id, row.list_id, row.ticket_id, now)
