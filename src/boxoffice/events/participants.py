"""Event participants: how a person takes part in an event (ticket holder, invitee, ...), one row per event and
person."""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.clock import utcnow
from boxoffice.db import Database, insert_for
from boxoffice.errors import ErrorCode, InvalidInput, NotFound
from boxoffice.events.models import PARTICIPANT_ROLES, PARTICIPANT_STATUSES, Event, EventParticipant, Person
from boxoffice.events.people import get_or_create_person
from boxoffice.ids import new_id


class OrderLike(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def event_id(self) -> str: ...
    @property
    def person_id(self) -> str: ...


async def add_ticket_holder(session: AsyncSession, order: OrderLike) -> EventParticipant | None:
    """Make the order's buyer a ``ticket_holder`` of its event, within the caller's transaction.

    Creates the participant, or upgrades an existing one (an invitee who buys becomes a ticket holder with
    ``confirmed_with_order``; metadata merged; still one row). Idempotent per order. The event's own organizer is
    never made a participant by an order: ``None`` is returned for them.
    """
    organizer_id = await session.scalar(select(Event.organizer_id).where(Event.id == order.event_id))
    if organizer_id is None:
        raise NotFound(f"event {order.event_id} not found")
    if organizer_id == order.person_id:
        return None
    now = utcnow()
    created = (
        await session.scalars(
            insert_for(session, EventParticipant)
            .values(
                id=new_id("par"),
                event_id=order.event_id,
                person_id=order.person_id,
                role="ticket_holder",
                status="confirmed_with_order",
                source="order",
                meta={"order_ids": [order.id]},
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=["event_id", "person_id"])
            .returning(EventParticipant)
        )
    ).one_or_none()
    if created is not None:
        return created  # a new participant (the usual case): nothing to merge
    participant = (
        await session.scalars(
            select(EventParticipant)
            .where(EventParticipant.event_id == order.event_id, EventParticipant.person_id == order.person_id)
            .with_for_update()
        )
    ).one()
    meta = dict(participant.meta or {})
    order_ids = list(meta.get("order_ids", []))
    if order.id not in order_ids:
        order_ids.append(order.id)
    meta["order_ids"] = order_ids
    if participant.role != "ticket_holder" and "previous_role" not in meta:
        meta["previous_role"] = participant.role
        meta["previous_status"] = participant.status
    participant.meta = meta
    participant.role = "ticket_holder"
    participant.status = "confirmed_with_order"
    participant.updated_at = now
    return participant


async def remove_ticket_holder_order(session: AsyncSession, order: OrderLike) -> None:
    """The order no longer holds tickets (refunded or canceled): forget it, and when the buyer has no other order
    for the event, their participation becomes ``cancelled``."""
    participant = (
        await session.scalars(
            select(EventParticipant)
            .where(EventParticipant.event_id == order.event_id, EventParticipant.person_id == order.person_id)
            .with_for_update()
        )
    ).one_or_none()
    if participant is None:
        return
    meta = dict(participant.meta or {})
    order_ids = [oid for oid in meta.get("order_ids", []) if oid != order.id]
    meta["order_ids"] = order_ids
    participant.meta = meta
    if not order_ids and not meta.get("ticket_ids") and participant.role == "ticket_holder":
        participant.status = "cancelled"
    participant.updated_at = utcnow()


async def add_participant(
    db: Database,
    event_id: str,
    email: str,
    *,
    role: str,
    status: str,
    name: str = "",
    source: str = "manual",
    meta: dict[str, Any] | None = None,
) -> EventParticipant:
    """Invite or register a person for an event (one row per event and person)."""
    if role not in PARTICIPANT_ROLES:
        raise InvalidInput.one("role", f"must be one of {', '.join(PARTICIPANT_ROLES)}", code=ErrorCode.INVALID_CHOICE)
    if status not in PARTICIPANT_STATUSES:
        raise InvalidInput.one(
            "status", f"must be one of {', '.join(PARTICIPANT_STATUSES)}", code=ErrorCode.INVALID_CHOICE
        )
    async with db.transaction() as session:
        if await session.get(Event, event_id) is None:
            raise NotFound(f"event {event_id} not found")
        person = await get_or_create_person(session, email, name)
        participant = (
            await session.scalars(
                select(EventParticipant).where(
                    EventParticipant.event_id == event_id, EventParticipant.person_id == person.id
                )
            )
        ).one_or_none()
        if participant is None:
            participant = EventParticipant(
                id=new_id("par"),
                event_id=event_id,
                person_id=person.id,
                role=role,
                status=status,
                source=source,
                meta=meta or {},
            )
            session.add(participant)
        else:
            participant.role, participant.status = role, status
            participant.meta = {**(participant.meta or {}), **(meta or {})}
    return participant


async def list_participants(
    db: Database, event_id: str, role: str | None = None
) -> list[tuple[EventParticipant, Person]]:
    async with db.read() as session:
        stmt = (
            select(EventParticipant, Person)
            .join(Person, Person.id == EventParticipant.person_id)
            .where(EventParticipant.event_id == event_id)
            .order_by(EventParticipant.created_at, EventParticipant.id)
        )
        if role is not None:
            stmt = stmt.where(EventParticipant.role == role)
        return [(p, person) for p, person in (await session.execute(stmt))]
