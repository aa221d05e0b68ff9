"""Events context: an organizer's events (create, change, read), and what buyers may see of them.

Functions that take an ``AsyncSession`` join the caller's transaction; functions that take a ``Database`` own theirs.
People and participants live in ``people.py`` and ``participants.py``, the rules of an event's fields in
``rules.py``, the listing of an organizer's events in ``listing.py``; their public functions are named here too,
so that callers keep one door (``from boxoffice.events import service as events``).
"""

from __future__ import annotations

from sqlalchemy import bindparam, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.clock import utcnow
from boxoffice.db import Database
from boxoffice.errors import ErrorCode, InvalidInput, InvalidTransition, NotFound
from boxoffice.events.models import PUBLIC_STATUSES, Event
from boxoffice.events.participants import (
    OrderLike,
    add_participant,
    add_ticket_holder,
    list_participants,
    remove_ticket_holder_order,
)
from boxoffice.events.people import clean_name, find_person, get_or_create_person, get_person, normalize_email
from boxoffice.events.rules import MAX_DESCRIPTION, MAX_TITLE, STATUS_ACTIONS, EventInput, event_values
from boxoffice.ids import new_id

__all__ = [
    "MAX_DESCRIPTION",
    "MAX_TITLE",
    "EventInput",
    "OrderLike",
    "add_participant",
    "add_ticket_holder",
    "change_status",
    "clean_name",
    "create_event",
    "find_person",
    "get_event",
    "get_or_create_person",
    "get_person",
    "get_public_event",
    "is_public",
    "list_participants",
    "load_event",
    "normalize_email",
    "remove_ticket_holder_order",
    "update_event",
]


async def create_event(db: Database, organizer_email: str, data: EventInput, organizer_name: str = "") -> Event:
    """A new event of the organizer with this email (created when new). Without a ``status`` it is ``published``
    (``NEW_EVENT_STATUS``), as the API has always made them; send ``draft`` to prepare it unseen."""
    values = event_values(data, None)
    async with db.transaction() as session:
        organizer = await get_or_create_person(session, organizer_email, organizer_name, own_name=True)
        event = Event(id=new_id("ev"), organizer_id=organizer.id, **values)
        session.add(event)
    return event


async def update_event(db: Database, event_id: str, data: EventInput, organizer_id: str | None = None) -> Event:
    async with db.transaction() as session:
        event = await load_event(session, event_id, organizer_id=organizer_id, for_update=True)
        values = event_values(data, event)
        if values.get("currency", event.currency) != event.currency and event.currency is not None:
            # its ticket types are priced in the current one (the table belongs to ticketing; only its rows are counted)
            priced = await session.scalar(
                text("SELECT count(*) FROM ticket_types WHERE event_id = :id"), {"id": event.id}
            )
            if priced:
                raise InvalidInput.one(
                    "currency",
                    f"cannot change: the event's ticket types are priced in {event.currency.upper()}",
                    code=ErrorCode.CONFLICT_WITH,
                )
        for key, value in values.items():
            setattr(event, key, value)
        event.revision += 1  # the row is locked (FOR UPDATE): no concurrent edit can read the same revision
    return event


async def change_status(db: Database, event_id: str, action: str, *, organizer_id: str) -> Event:
    """Publish a draft, pause a published event's sales or resume them (``rules.STATUS_ACTIONS``): one conditional
    UPDATE decides, so a stale button (the event changed since the page was shown) changes nothing and raises
    ``InvalidTransition``. The revision is raised like any edit's (a kept copy of the event must not sell)."""
    if action not in STATUS_ACTIONS:
        raise InvalidInput.one("action", "must be publish, pause or resume", code=ErrorCode.INVALID_CHOICE)
    sources, target = STATUS_ACTIONS[action]
    async with db.transaction() as session:
        result = await session.execute(
            update(Event)
            .where(Event.id == event_id, Event.organizer_id == organizer_id, Event.status.in_(sources))
            .values(status=target, revision=Event.revision + 1, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        event = await load_event(session, event_id, organizer_id=organizer_id)
        if getattr(result, "rowcount", 0) != 1:
            raise InvalidTransition(f"cannot {action} an event that is {event.status}")
    return event


_EVENT = select(Event).where(Event.id == bindparam("event_id"))


async def load_event(
    session: AsyncSession, event_id: str, *, organizer_id: str | None = None, for_update: bool = False
) -> Event:
    stmt = _EVENT  # built once: every buyer's page and ticket list reads its event
    if organizer_id is not None:
        stmt = stmt.where(Event.organizer_id == organizer_id)
    if for_update:
        stmt = stmt.with_for_update()
    event = (await session.scalars(stmt, {"event_id": event_id})).one_or_none()
    if event is None:
        raise NotFound(f"event {event_id} not found")
    return event


async def get_event(db: Database, event_id: str, *, organizer_id: str | None = None) -> Event:
    async with db.read() as session:
        return await load_event(session, event_id, organizer_id=organizer_id)


def is_public(event: Event) -> bool:
    """Whether buyers may see the event at all (a draft they may not)."""
    return event.status in PUBLIC_STATUSES


async def get_public_event(db: Database, event_id: str) -> Event:
    """An event as the public sees it: a draft is as absent as an unknown id, with the same words (no id)."""
    try:
        event = await get_event(db, event_id)
    except NotFound:
        event = None
    return as_public(event)


def as_public(event: Event | None) -> Event:
    """``event`` (None: not found) if the public may see it; else the answer to an unknown id, without the id."""
    if event is None or not is_public(event):
        raise NotFound("event not found")
    return event
