"""Attendees in the sale: an order's details checked before its reservation and written with it, tickets issued to
their attendees (who become ``ticket_holder`` participants of the event), and released with the order.

The event row says whether it asks anything (``attendee_details``, ``question_count``): an order to an event that
asks nothing, carrying nothing, costs no query here (and may take the one-statement reservation).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.attendees import details as stored
from boxoffice.attendees import questions, rules
from boxoffice.attendees.models import Attendee
from boxoffice.db import Database
from boxoffice.events import attendee_holders
from boxoffice.events import service as events
from boxoffice.events.models import Event
from boxoffice.ticketing.models import Order
from boxoffice.ticketing.plan import OrderRequest


def carries_details(request: OrderRequest) -> bool:
    return rules.carries_details(request.answers, request.lines)


def asks_anything(event: Event) -> bool:
    return event.attendee_details != "off" or event.question_count > 0


async def check_details(db: Database, request: OrderRequest, event: Event) -> rules.Details | None:
    """The order's attendees and answers, checked against what the event asks (``InvalidInput`` naming each field
    at fault); None when the event asks nothing and the order gives nothing."""
    if not asks_anything(event) and not carries_details(request):
        return None
    asked = await questions.asked_by(db, event)
    return rules.check_details(
        asked,
        request.answers,
        [rules.LineInput(line.ticket_type_id, line.quantity, line.attendees) for line in request.lines],
    )


def store_details(session: AsyncSession, order: Order, details: rules.Details, now: datetime) -> None:
    """Write the order's checked details in its reservation's transaction (after the order itself is flushed)."""
    stored.add_order_details(
        session,
        order_id=order.id,
        event_id=order.event_id,
        line_ids=[line.id for line in order.lines],
        details=details,
        now=now,
    )


async def hold(session: AsyncSession, attendee: Attendee, ticket_id: str) -> None:
    """The attendee (with an email) becomes a person and a ``ticket_holder`` of the event for this ticket."""
    if not attendee.email:
        return
    person = await events.get_or_create_person(session, attendee.email, attendee.name)
    attendee.person_id = person.id
    await attendee_holders.add_attendee_holder(session, attendee.event_id, person.id, ticket_id=ticket_id)


async def issue_to_attendees(
    session: AsyncSession, order: Order, issued: Mapping[tuple[str, int], str], now: datetime
) -> None:
    """Tickets just issued (by (line id, unit)) go to the order's attendees, who become ticket holders."""
    for attendee in await stored.link_tickets(session, order.id, issued, now):
        assert attendee.ticket_id is not None
        await hold(session, attendee, attendee.ticket_id)


async def release_attendees(session: AsyncSession, order: Order) -> None:
    """The order's tickets are void (canceled, refunded): their attendees hold them no longer."""
    for attendee in (await stored.read_order_details(session, order.id)).attendees.values():
        if attendee.person_id is not None and attendee.ticket_id is not None:
            await attendee_holders.remove_attendee_holder(
                session, order.event_id, attendee.person_id, ticket_id=attendee.ticket_id
            )


async def order_details(db: Database, order_id: str) -> stored.OrderDetails:
    async with db.read() as session:
        return await stored.read_order_details(session, order_id)


async def details_of_orders(db: Database, order_ids: list[str]) -> dict[str, stored.OrderDetails]:
    async with db.read() as session:
        return await stored.read_details_of(session, order_ids)
