"""Rows for the console's exports, read in keyset batches (``BATCH`` rows a query, each starting after the last
row's id), so an export of any size holds one batch in memory.

``iter_ticket_holders`` lists attendees straight from tickets and orders; once ``ticketing.roster`` exists
(``iter_attendees``), it is the one function to switch.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from boxoffice import money
from boxoffice.db import Database
from boxoffice.ticketing.models import Order, Ticket, TicketType

BATCH = 1000

ORDER_COLUMNS = (
    "order_id",
    "created_at",
    "status",
    "email",
    "name",
    "currency",
    "subtotal",
    "tip",
    "total",
    "refunded",
    "confirmed_at",
)
HOLDER_COLUMNS = ("ticket_id", "ticket_type", "ticket_status", "order_id", "email", "name", "order_status")


def _minor(cents: int, currency: str) -> str:
    """``1250, "usd"`` -> ``12.50`` (a plain number a spreadsheet can add up)."""
    exp = money.exponent(currency)
    return f"{Decimal(cents) / (10**exp):.{exp}f}" if exp else str(cents)


async def iter_order_rows(db: Database, event_id: str, *, batch: int = BATCH) -> AsyncIterator[list[Any]]:
    last = ""
    while True:
        async with db.read() as session:
            rows = (
                await session.execute(
                    select(
                        Order.id,
                        Order.created_at,
                        Order.status,
                        Order.email,
                        Order.name,
                        Order.currency,
                        Order.subtotal_cents,
                        Order.tip_cents,
                        Order.total_cents,
                        Order.refunded_cents,
                        Order.confirmed_at,
                    )
                    .where(Order.event_id == event_id, Order.id > last)
                    .order_by(Order.id)
                    .limit(batch)
                )
            ).all()
        for r in rows:
            yield [
                r.id,
                r.created_at.isoformat(),
                r.status,
                r.email,
                r.name,
                r.currency.upper(),
                _minor(r.subtotal_cents, r.currency),
                _minor(r.tip_cents, r.currency),
                _minor(r.total_cents, r.currency),
                _minor(r.refunded_cents, r.currency),
                r.confirmed_at.isoformat() if r.confirmed_at else "",
            ]
        if len(rows) < batch:
            return
        last = rows[-1].id


async def iter_ticket_holders(db: Database, event_id: str, *, batch: int = BATCH) -> AsyncIterator[list[Any]]:
    """Every issued ticket of the event with its holder (the buyer of its order)."""
    last = ""
    while True:
        async with db.read() as session:
            rows = (
                await session.execute(
                    select(Ticket.id, TicketType.title, Ticket.status, Order.id, Order.email, Order.name, Order.status)
                    .join(Order, Order.id == Ticket.order_id)
                    .join(TicketType, TicketType.id == Ticket.ticket_type_id)
                    .where(Order.event_id == event_id, Ticket.id > last)
                    .order_by(Ticket.id)
                    .limit(batch)
                )
            ).all()
        for r in rows:
            yield list(r)
        if len(rows) < batch:
            return
        last = rows[-1][0]
