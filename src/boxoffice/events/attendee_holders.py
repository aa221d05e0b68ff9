"""Attendees as event participants: the person a ticket is for is a ``ticket_holder`` of the event for that ticket
(``metadata.ticket_ids``), beside the orders they bought (``metadata.order_ids``, ``service.add_ticket_holder``).
Functions take the caller's session and join its transaction."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.clock import utcnow
from boxoffice.db import insert_for
from boxoffice.errors import NotFound
from boxoffice.events.models import Event, EventParticipant
from boxoffice.ids import new_id


async def add_attendee_holder(
    session: AsyncSession, event_id: str, person_id: str, *, ticket_id: str
) -> EventParticipant | None:
    """Make the attendee of a ticket (``person_id``) a ``ticket_holder`` of the event, within the caller's
    transaction: the ticket joins the participant's ``ticket_ids`` (the orders they bought stay in ``order_ids``).
    Idempotent per ticket; one row per person; never the event's organizer (``None``)."""
    organizer_id = await session.scalar(select(Event.organizer_id).where(Event.id == event_id))
    if organizer_id is None:
        raise NotFound(f"event {event_id} not found")
    if organizer_id == person_id:
        return None
    now = utcnow()
    created = (
        await session.scalars(
            insert_for(session, EventParticipant)
            .values(
                id=new_id("par"),
                event_id=event_id,
                person_id=person_id,
                role="ticket_holder",
                status="confirmed_with_order",
                source="attendee",
                meta={"ticket_ids": [ticket_id]},
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=["event_id", "person_id"])
            .returning(EventParticipant)
        )
    ).one_or_none()
    if created is not None:
        return created
    participant = (
        await session.scalars(
            select(EventParticipant)
            .where(EventParticipant.event_id == event_id, EventParticipant.person_id == person_id)
            .with_for_update()
        )
    ).one()
    meta = dict(participant.meta or {})
    ticket_ids = list(meta.get("ticket_ids", []))
    if ticket_id not in ticket_ids:
        ticket_ids.append(ticket_id)
    meta["ticket_ids"] = ticket_ids
    if participant.role != "ticket_holder" and "previous_role" not in meta:
        meta["previous_role"] = participant.role
        meta["previous_status"] = participant.status
    participant.meta = meta
    participant.role = "ticket_holder"
    participant.status = "confirmed_with_order"
    participant.updated_at = now
    return participant


async def remove_attendee_holder(session: AsyncSession, event_id: str, person_id: str, *, ticket_id: str) -> None:
    """The person no longer holds the ticket (handed on, refunded, canceled): forget it, and when they hold no other
    ticket and bought no other order of the event, their participation becomes ``cancelled``."""
    participant = (
        await session.scalars(
            select(EventParticipant)
            .where(EventParticipant.event_id == event_id, EventParticipant.person_id == person_id)
            .with_for_update()
        )
    ).one_or_none()
    if participant is None:
        return
    meta = dict(participant.meta or {})
    meta["ticket_ids"] = [t for t in meta.get("ticket_ids", []) if t != ticket_id]
    participant.meta = meta
    if not meta["ticket_ids"] and not meta.get("order_ids") and participant.role == "ticket_holder":
        participant.status = "cancelled"
    participant.updated_at = utcnow()
