"""Finding an event's orders for the console: by email, name, order id or ticket id, filtered by status, newest
first, a page at a time (keyset: the last row's ``created_at`` and id, so a page costs the same however deep)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, or_, select

from boxoffice import cursors
from boxoffice.db import Database
from boxoffice.ticketing.models import ORDER_STATUSES, Order, Ticket

PAGE_SIZE = 50


@dataclass(frozen=True)
class OrderPage:
    orders: list[Order]
    next_cursor: str | None


def encode_cursor(order: Order) -> str:
    return cursors.encode(order.created_at, order.id)


def decode_cursor(cursor: str | None) -> tuple[datetime, str] | None:
    return cursors.decode(cursor)


async def search_orders(
    db: Database,
    event_id: str,
    *,
    text: str = "",
    ticket_id: str | None = None,
    status: str | None = None,
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
) -> OrderPage:
    """``text`` matches an order id exactly, or a part of the email or the name (any case); ``ticket_id`` (read
    from a genuine ticket code by the caller) the order holding that ticket."""
    stmt = select(Order).where(Order.event_id == event_id)
    if ticket_id is not None:
        stmt = stmt.where(Order.id == select(Ticket.order_id).where(Ticket.id == ticket_id).scalar_subquery())
    elif text:
        needle = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(
            or_(
                Order.id == text,
                func.lower(Order.email).like(f"%{needle}%", escape="\\"),
                func.lower(Order.name).like(f"%{needle}%", escape="\\"),
            )
        )
    if status in ORDER_STATUSES:
        stmt = stmt.where(Order.status == status)
    after = decode_cursor(cursor)
    if after is not None:
        at, order_id = after
        stmt = stmt.where(or_(Order.created_at < at, and_(Order.created_at == at, Order.id < order_id)))
    stmt = stmt.order_by(Order.created_at.desc(), Order.id.desc()).limit(limit + 1)
    async with db.read() as session:
        rows = list((await session.scalars(stmt)).all())
    more = len(rows) > limit
    rows = rows[:limit]
    return OrderPage(rows, encode_cursor(rows[-1]) if more and rows else None)
