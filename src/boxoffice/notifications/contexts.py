"""What an order email shows, read for a whole batch of emails at once.

The mailer used to read each email's order, its event, the organizer, its tickets and their holders one email at a
time: five round trips and five ORM queries per email, most of the worker's time per confirmation. Here a batch of
orders costs four reads whatever its size (orders with their lines, tickets, holders, then the events and organizers
not read yet), and an event and its organizer are kept for the next batches of a busy sale.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import InstrumentedAttribute

from boxoffice.attendees.models import Attendee
from boxoffice.db import Database
from boxoffice.events.models import Event, Person
from boxoffice.notifications.codes import ticket_code
from boxoffice.ticketing.attendance import details_of_orders
from boxoffice.ticketing.models import Order, Ticket
from boxoffice.ticketing.tokens import order_token

if TYPE_CHECKING:
    from boxoffice.notifications.render import OrderEmailContext

__all__ = ["OrderContexts"]


class OrderContexts:
    """Builds ``OrderEmailContext`` values for many orders in a few reads."""

    def __init__(self, db: Database, *, secret: bytes, public_url: str) -> None:
        self.db = db
        self.secret = secret
        self.public_url = public_url.rstrip("/")

    def _among(self, column: InstrumentedAttribute[Any], values: Sequence[str]) -> ColumnElement[bool]:
        """``column IN values``; on PostgreSQL ``column = ANY($1)`` with one array parameter: an IN list is a new
        statement text for every batch size, which asyncpg prepares again (a sale's batches are uneven)."""
        if self.db.dialect == "postgresql":
            return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
        return column.in_(values)

    async def load(self, order_ids: Sequence[str]) -> dict[str, OrderEmailContext]:
        """The context of each order found (an unknown id is left out)."""
        wanted = sorted(set(order_ids))
        if not wanted:
            return {}
        among = self._among
        async with self.db.read() as session:
            orders = list((await session.scalars(select(Order).where(among(Order.id, wanted)))).all())
            tickets = list(
                (await session.scalars(select(Ticket).where(among(Ticket.order_id, wanted)).order_by(Ticket.id))).all()
            )
            event_ids = sorted({o.event_id for o in orders})
            events = {e.id: e for e in (await session.scalars(select(Event).where(among(Event.id, event_ids)))).all()}
            people_ids = sorted({e.organizer_id for e in events.values()})
            people = {p.id: p for p in (await session.scalars(select(Person).where(among(Person.id, people_ids))))}
        details = await details_of_orders(self.db, [o.id for o in orders])
        by_order: dict[str, list[Ticket]] = {}
        for ticket in tickets:
            by_order.setdefault(ticket.order_id, []).append(ticket)
        found: dict[str, OrderEmailContext] = {}
        for order in orders:
            event = events.get(order.event_id)
            organizer = people.get(event.organizer_id) if event is not None else None
            if event is None or organizer is None:
                continue
            holders = details[order.id].by_ticket() if order.id in details else {}
            found[order.id] = self._context(order, event, organizer, by_order.get(order.id, []), holders)
        return found

    def _context(
        self, order: Order, event: Event, organizer: Person, tickets: list[Ticket], holders: dict[str, Attendee]
    ) -> OrderEmailContext:
        # the email rendering, imported where an email is made (a web worker builds a Mailer, never uses it)
        from boxoffice.notifications.render import LineView, OrderEmailContext, TicketView

        titles = {line.id: line.title for line in order.lines}

        return OrderEmailContext(
            order_id=order.id,
            order_url=f"{self.public_url}/orders/{order.id}?token={order_token(order.id, self.secret)}",
            buyer_name=order.name,
            buyer_email=order.email,
            event_id=event.id,
            event_url=f"{self.public_url}/e/{event.id}",
            event_title=event.title,
            event_description=event.description,
            event_starts_at=event.starts_at,
            event_ends_at=event.ends_at,
            event_timezone=event.timezone,
            event_venue_name=event.venue_name,
            event_venue_address=event.venue_address,
            organizer_name=organizer.name or organizer.email,
            organizer_email=organizer.email,
            currency=order.currency,
            subtotal_cents=order.subtotal_cents,
            tip_cents=order.tip_cents,
            total_cents=order.total_cents,
            refunded_cents=order.refunded_cents,
            lines=tuple(
                LineView(
                    title=line.title,
                    quantity=line.quantity,
                    unit_prices_cents=tuple(
                        int(p) for p in (line.unit_prices or [line.unit_price_cents] * line.quantity)
                    ),
                    line_total_cents=line.line_total_cents,
                )
                for line in order.lines
            ),
            tickets=tuple(
                TicketView(
                    ticket_id=t.id,
                    title=titles.get(t.order_line_id, ""),
                    code=ticket_code(t.id, t.code_version, self.secret),
                    unit_price_cents=t.unit_price_cents,
                    holder=(holders[t.id].name or holders[t.id].email) if t.id in holders else "",
                )
                for t in tickets
                if t.status == "valid"
            ),
            failure_reason=order.failure_reason,
        )
