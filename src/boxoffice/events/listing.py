"""An organizer's events, one page at a time: filtered by status and by whether they are over, newest first or by
their start, with a cursor (keyset pagination: a page costs the same however deep it is, and an event created
meanwhile never shifts the pages that follow)."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import ColumnElement, and_, or_, select

from boxoffice.clock import utcnow
from boxoffice.db import Database
from boxoffice.errors import ErrorCode, InvalidInput
from boxoffice.events.models import EVENT_STATUSES, Event

Sort = Literal["newest", "start", "start_desc"]
When = Literal["upcoming", "past"]
SORTS: tuple[Sort, ...] = ("newest", "start", "start_desc")
MAX_LIMIT = 100


@dataclass(frozen=True)
class EventPage:
    events: list[Event]
    next_cursor: str | None  # None on the last page


def _key(event: Event, sort: Sort) -> datetime:
    return event.created_at if sort == "newest" else event.starts_at


def encode_cursor(sort: Sort, event: Event) -> str:
    """Where the next page starts: after ``event`` in the ``sort`` order (opaque to clients)."""
    raw = json.dumps([sort, _key(event, sort).isoformat(), event.id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str, sort: Sort) -> tuple[datetime, str]:
    """The (key, id) a cursor of this ``sort`` names; a field error for anything else (another sort's cursor too)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        sort_of, key, event_id = json.loads(raw)
        when = datetime.fromisoformat(key)
        if sort_of != sort or not isinstance(event_id, str) or when.tzinfo is None:
            raise ValueError(cursor)
        return when, event_id
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput.one(
            "cursor", "is not a cursor of this listing: use the `next` link as given", code=ErrorCode.INVALID_FORMAT
        ) from None


def _after(sort: Sort, key: datetime, event_id: str) -> ColumnElement[bool]:
    column = Event.created_at if sort == "newest" else Event.starts_at
    if sort == "start":
        return or_(column > key, and_(column == key, Event.id > event_id))
    return or_(column < key, and_(column == key, Event.id < event_id))


async def list_events(
    db: Database,
    organizer_id: str,
    *,
    status: str | None = None,
    when: When | None = None,
    sort: Sort = "newest",
    limit: int = 20,
    cursor: str | None = None,
    now: datetime | None = None,
) -> EventPage:
    """One page of the organizer's events. ``when``: ``upcoming`` (not over yet) or ``past`` (over). ``sort``:
    ``newest`` (created last first), ``start`` (starting soonest first) or ``start_desc`` (latest start first)."""
    if status is not None and status not in EVENT_STATUSES:
        raise InvalidInput.one("status", f"must be one of {', '.join(EVENT_STATUSES)}", code=ErrorCode.INVALID_CHOICE)
    if sort not in SORTS:
        raise InvalidInput.one("sort", f"must be one of {', '.join(SORTS)}", code=ErrorCode.INVALID_CHOICE)
    if limit < 1:
        raise InvalidInput.one("limit", "must be at least 1", (("minimum", 1),), code=ErrorCode.BELOW_MINIMUM)
    if limit > MAX_LIMIT:
        raise InvalidInput.one(
            "limit", f"must be at most {MAX_LIMIT}", (("maximum", MAX_LIMIT),), code=ErrorCode.ABOVE_MAXIMUM
        )
    stmt = select(Event).where(Event.organizer_id == organizer_id)
    if status is not None:
        stmt = stmt.where(Event.status == status)
    if when is not None:
        moment = now or utcnow()
        stmt = stmt.where(Event.ends_at > moment if when == "upcoming" else Event.ends_at <= moment)
    if cursor:
        stmt = stmt.where(_after(sort, *decode_cursor(cursor, sort)))
    column = Event.created_at if sort == "newest" else Event.starts_at
    ordered = (column.asc(), Event.id.asc()) if sort == "start" else (column.desc(), Event.id.desc())
    async with db.read() as session:
        found = list((await session.scalars(stmt.order_by(*ordered).limit(limit + 1))).all())
    page = found[:limit]
    return EventPage(page, encode_cursor(sort, page[-1]) if len(found) > limit else None)
