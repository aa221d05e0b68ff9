"""Check-in fixtures: a sold event (confirmed orders with their tickets), its codes, and scanners."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import update

from boxoffice.checkin import lists
from boxoffice.checkin.models import CheckinList
from boxoffice.checkin.rules import Scanner
from boxoffice.checkin.scan import ScanOutcome, ScanRequest, scan
from boxoffice.clock import utcnow
from boxoffice.db import Database
from boxoffice.events.models import Event
from boxoffice.notifications.codes import ticket_code
from boxoffice.outbox.models import OutboxMessage
from boxoffice.ticketing.models import Order, Ticket, TicketType
from boxoffice.ticketing.orders import confirm_order, get_order, list_tickets
from boxoffice.ticketing.reserve import reserve
from tests.helpers import make_event, make_ticket, order_request, unique_email

SECRET = b"checkin-test-secret"
KEYS = (SECRET,)


@dataclass
class Sold:
    """An event with a ticket type and one confirmed order of ``n`` tickets; its default list; its organizer."""

    db: Database
    event: Event
    ticket_type: TicketType
    order: Order
    tickets: list[Ticket]
    default_list: CheckinList
    organizer: Scanner

    def code(self, i: int = 0) -> str:
        ticket = self.tickets[i]
        return ticket_code(ticket.id, ticket.code_version, SECRET)

    async def scan(
        self,
        code: str | None = None,
        *,
        list_id: str | None = None,
        scanner: Scanner | None = None,
        ticket_id: str | None = None,
        nonce: str | None = None,
        scanned_at: datetime | None = None,
        device: str = "",
    ) -> ScanOutcome:
        if code is None and ticket_id is None:
            code = self.code()
        request = ScanRequest(code, ticket_id, nonce, scanned_at, device)
        return await scan(self.db, list_id or self.default_list.id, request, scanner or self.organizer, keys=KEYS)


async def sell(db: Database, event_id: str, ticket_type_id: str, n: int, **kw: Any) -> tuple[Order, list[Ticket]]:
    """A confirmed order of ``n`` tickets of one type."""
    order = await reserve(
        db,
        order_request(event_id, (ticket_type_id, n), email=kw.pop("email", unique_email()), **kw),
        max_quantity=max(n, 50),
    )
    await confirm_order(db, order.id, payment_intent_id=f"pi_{order.id}")
    # The sale's domain events are not what these tests are about: marked delivered, so that no later test of the
    # session (an email sender draining the shared database) finds a confirmation email to send for them.
    async with db.transaction() as session:
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.published_at.is_(None), OutboxMessage.payload["order_id"].as_string() == order.id)
            .values(published_at=utcnow())
        )
    return await get_order(db, order.id), await list_tickets(db, order.id)


async def sold_event(db: Database, n: int = 3, *, name: str = "Ada Lovelace", quantity: int = 100) -> Sold:
    event = await make_event(db)
    tt = await make_ticket(db, event.id, quantity=max(quantity, n))
    order, tickets = await sell(db, event.id, tt.id, n, name=name)
    organizer = Scanner(organizer_id=event.organizer_id, can_undo=True, can_manage=True)
    (default,) = await lists.list_lists(db, event.id, organizer)
    return Sold(db, event, tt, order, tickets, default, organizer)


async def set_code_version(db: Database, ticket_id: str, version: int) -> None:
    """The ticket handed to someone else: a new code (what a ticket transfer does)."""
    async with db.transaction() as session:
        await session.execute(update(Ticket).where(Ticket.id == ticket_id).values(code_version=version))


async def set_order_status(db: Database, order_id: str, status: str) -> None:
    async with db.transaction() as session:
        await session.execute(update(Order).where(Order.id == order_id).values(status=status))
