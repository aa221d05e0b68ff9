"""An order's status history, for its organizer: its creation, then each status change as the transition wrote it
(``order_events``, one row per change, in the change's transaction: ``orders._record_status``). An order changed
before the table existed has no rows: its history is read from its timestamps instead (one per status, so a second
partial refund is not told apart there)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from boxoffice.db import Database
from boxoffice.ticketing.models import Order, OrderEvent, OrderStatus


@dataclass(frozen=True)
class HistoryStep:
    at: datetime
    status: str  # the status the order reached
    previous: str | None  # None: its creation
    refunded_cents: int  # the refunded total after the step


def _from_timestamps(order: Order) -> list[HistoryStep]:
    steps = [
        (OrderStatus.CONFIRMED, order.confirmed_at),
        (OrderStatus.CANCELED, order.canceled_at),
        (OrderStatus.EXPIRED, order.expired_at),
        (OrderStatus.FAILED, order.failed_at),
        (
            OrderStatus.REFUNDED if order.status == OrderStatus.REFUNDED else OrderStatus.PARTIALLY_REFUNDED,
            order.refunded_at,
        ),
    ]
    known = sorted(((at, str(status)) for status, at in steps if at is not None), key=lambda step: step[0])
    refunded = {OrderStatus.REFUNDED, OrderStatus.PARTIALLY_REFUNDED}
    return [HistoryStep(at, status, None, order.refunded_cents if status in refunded else 0) for at, status in known]


async def order_history(db: Database, order: Order) -> list[HistoryStep]:
    """Oldest first; the first step is the order's creation (``previous`` None, as ``pending``)."""
    async with db.read() as session:
        rows = list(
            (
                await session.scalars(select(OrderEvent).where(OrderEvent.order_id == order.id).order_by(OrderEvent.id))
            ).all()
        )
    created = HistoryStep(order.created_at, OrderStatus.PENDING, None, 0)
    if not rows and order.status != OrderStatus.PENDING:
        return [created, *_from_timestamps(order)]
    return [created, *(HistoryStep(r.created_at, r.to_status, r.from_status, r.refunded_cents) for r in rows)]
