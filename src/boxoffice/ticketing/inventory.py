"""Inventory: each ticket type's two counters, ``sold_count`` and ``held_count``.

They change only by single conditional UPDATEs (taking a hold, moving an order's quantities between the counters),
so availability never goes negative under any number of concurrent processes (and a CHECK constraint refuses an
oversell in the database itself). Also here: the sold-out answer, expired holds as counted by availability reads,
and the ``availability`` domain event recorded after every change of the counters.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice import outbox
from boxoffice.errors import SoldOut
from boxoffice.ticketing.models import Order, OrderLine, OrderStatus, TicketType
from boxoffice.topics import event_topic


@dataclass
class _Taking:
    ticket_type: TicketType
    quantity: int = 0
    line_indexes: list[int] = field(default_factory=list)


def _availability_payload(event_id: str, rows: Iterable[tuple[str, int, int, int]]) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "ticket_types": [
            {"id": tt_id, "quantity": q, "sold": sold, "held": held, "available": max(q - sold - held, 0)}
            for tt_id, q, sold, held in rows
        ],
    }


def _record_availability(session: AsyncSession, event_id: str, rows: Iterable[tuple[str, int, int, int]]) -> None:
    payload = _availability_payload(event_id, rows)
    if payload["ticket_types"]:
        outbox.record(session, "availability", [event_topic(event_id)], payload)


async def _expired_holds(session: AsyncSession, ticket_type_ids: Sequence[str], now: datetime) -> dict[str, int]:
    if not ticket_type_ids:
        return {}
    rows = await session.execute(
        select(OrderLine.ticket_type_id, func.sum(OrderLine.quantity))
        .join(Order, Order.id == OrderLine.order_id)
        .where(
            Order.status == OrderStatus.PENDING, Order.expires_at <= now, OrderLine.ticket_type_id.in_(ticket_type_ids)
        )
        .group_by(OrderLine.ticket_type_id)
    )
    return {tt_id: int(total or 0) for tt_id, total in rows.tuples()}


def _sold_out(taking: _Taking, left: int) -> SoldOut:
    """The answer to an order asking more of a ticket type than the ``left`` it has, on the type's first line."""
    tt = taking.ticket_type
    return SoldOut(
        f"{tt.title}: only {left} left" if left else f"{tt.title} is sold out",
        ticket_type_id=tt.id,
        available=left,
        field=f"lines[{taking.line_indexes[0]}].quantity",
    )


async def _take(
    session: AsyncSession, takings: Mapping[str, _Taking], now: datetime, counters: dict[str, tuple[int, int, int]]
) -> dict[str, int]:
    """Hold each ticket type's quantity with one conditional UPDATE (in a fixed order, so concurrent multi-line
    orders never deadlock). Returns how many units were taken before this order's, per ticket type."""
    taken_before: dict[str, int] = {}
    for tt_id in sorted(takings):
        taking = takings[tt_id]
        row = (
            await session.execute(
                update(TicketType)
                .where(
                    TicketType.id == tt_id,
                    TicketType.deleted_at.is_(None),
                    TicketType.quantity - TicketType.sold_count - TicketType.held_count >= taking.quantity,
                )
                .values(held_count=TicketType.held_count + taking.quantity, updated_at=now)
                .returning(TicketType.quantity, TicketType.sold_count, TicketType.held_count)
                .execution_options(synchronize_session=False)
            )
        ).one_or_none()
        if row is None:
            raise _sold_out(taking, await _available_now(session, tt_id))
        quantity, sold, held = row
        counters[tt_id] = (quantity, sold, held)
        taken_before[tt_id] = sold + held - taking.quantity
    return taken_before


async def _available_now(session: AsyncSession, ticket_type_id: str) -> int:
    row = (
        await session.execute(
            select(TicketType.quantity, TicketType.sold_count, TicketType.held_count).where(
                TicketType.id == ticket_type_id
            )
        )
    ).one()
    return max(row[0] - row[1] - row[2], 0)


async def _counters(session: AsyncSession, ticket_type_ids: Sequence[str]) -> dict[str, tuple[int, int, int]]:
    rows = await session.execute(
        select(TicketType.id, TicketType.quantity, TicketType.sold_count, TicketType.held_count).where(
            TicketType.id.in_(ticket_type_ids)
        )
    )
    return {tt_id: (q, s, h) for tt_id, q, s, h in rows.tuples()}


def _quantities(order: Order) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for line in order.lines:
        totals[line.ticket_type_id] += line.quantity
    return dict(sorted(totals.items()))


async def _shift(
    session: AsyncSession, order: Order, *, held: int, sold: int, now: datetime
) -> dict[str, tuple[int, int, int]]:
    """Move the order's quantities between counters (``held``/``sold`` are -1, 0 or +1 multipliers); returns the
    new (quantity, sold, held) of each ticket type."""
    counters: dict[str, tuple[int, int, int]] = {}
    for tt_id, q in _quantities(order).items():
        row = (
            await session.execute(
                update(TicketType)
                .where(TicketType.id == tt_id)
                .values(
                    held_count=TicketType.held_count + held * q,
                    sold_count=TicketType.sold_count + sold * q,
                    updated_at=now,
                )
                .returning(TicketType.quantity, TicketType.sold_count, TicketType.held_count)
                .execution_options(synchronize_session=False)
            )
        ).one()
        counters[tt_id] = (row[0], row[1], row[2])
    return counters


async def _record_order_availability(session: AsyncSession, order: Order) -> None:
    counters = await _counters(session, list(_quantities(order)))
    _record_availability(session, order.event_id, [(k, *v) for k, v in sorted(counters.items())])
