"""What events have sold so far, for lists of events: tickets sold, capacity, gross and refunded per event, for a
whole page of events in one aggregate query (never one query per event)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import case, func, literal, select, union_all

from boxoffice.db import Database
from boxoffice.ticketing.models import Order, OrderStatus, TicketType

# the orders that were paid (a refunded one too: gross is before refunds)
PAID_STATUSES = (OrderStatus.CONFIRMED, OrderStatus.PARTIALLY_REFUNDED, OrderStatus.REFUNDED)


@dataclass(frozen=True)
class EventSales:
    sold: int = 0  # tickets sold (a refund that releases tickets takes them off)
    capacity: int = 0  # the quantities of the ticket types on offer, plus what hidden ones sold
    gross_cents: int = 0  # what paid orders came to, tips included, before refunds
    refunded_cents: int = 0


async def sales_by_event(db: Database, event_ids: Sequence[str]) -> dict[str, EventSales]:
    """Each event's sales (an event with no ticket types and no orders: all zero)."""
    ids = sorted(set(event_ids))
    if not ids:
        return {}
    tickets = (
        select(
            TicketType.event_id.label("event_id"),
            func.sum(TicketType.sold_count).label("sold"),
            func.sum(case((TicketType.deleted_at.is_(None), TicketType.quantity), else_=TicketType.sold_count)).label(
                "capacity"
            ),
            literal(0).label("gross"),
            literal(0).label("refunded"),
        )
        .where(TicketType.event_id.in_(ids))
        .group_by(TicketType.event_id)
    )
    orders = (
        select(
            Order.event_id.label("event_id"),
            literal(0).label("sold"),
            literal(0).label("capacity"),
            func.sum(Order.total_cents).label("gross"),
            func.sum(Order.refunded_cents).label("refunded"),
        )
        .where(Order.event_id.in_(ids), Order.status.in_([s.value for s in PAID_STATUSES]))
        .group_by(Order.event_id)
    )
    totals: dict[str, list[int]] = {event_id: [0, 0, 0, 0] for event_id in ids}
    async with db.read() as session:
        for event_id, *amounts in await session.execute(union_all(tickets, orders)):
            row = totals[event_id]
            for i, amount in enumerate(amounts):
                row[i] += int(amount or 0)
    return {event_id: EventSales(*row) for event_id, row in totals.items()}
