"""Sales figures for the organizer console: per event (the events list), per ticket type and over time (the
dashboard), and the latest orders. Reads only; each figure is one aggregate statement, never a query per row.

Money: ``gross`` is what paid orders were charged (subtotal + tips) whatever happened since, ``refunds`` what was
refunded of them, ``net`` the difference. A paid order is one in ``PAID_STATUSES`` (confirmed, partly or fully
refunded); a canceled order that was paid is left out (it was refunded or never charged).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, func, null, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import raiseload

from boxoffice.clock import utcnow
from boxoffice.db import Database
from boxoffice.events.models import Event
from boxoffice.ticketing.models import Order, OrderLine, OrderStatus, TicketType
from boxoffice.ticketing.ticket_types import Availability, availability_of, shown_ticket_types

PAID_STATUSES = (OrderStatus.CONFIRMED, OrderStatus.PARTIALLY_REFUNDED, OrderStatus.REFUNDED)
CHART_BUCKETS = 24


@dataclass(frozen=True)
class EventFigures:
    event: Event
    sold: int
    capacity: int
    gross_cents: int


@dataclass(frozen=True)
class OrganizerEventFigures:
    upcoming: list[EventFigures]
    past: list[EventFigures]


async def organizer_event_figures(db: Database, organizer_id: str, *, limit: int = 200) -> OrganizerEventFigures:
    """The organizer's events (upcoming soonest first, then past latest first) with sold, capacity and gross:
    one statement (two grouped subqueries joined to the events)."""
    types = (
        select(
            TicketType.event_id.label("event_id"),
            func.sum(TicketType.sold_count).label("sold"),
            func.sum(TicketType.quantity).label("capacity"),
        )
        .where(TicketType.deleted_at.is_(None))
        .group_by(TicketType.event_id)
        .subquery()
    )
    paid = (
        select(Order.event_id.label("event_id"), func.sum(Order.total_cents).label("gross"))
        .join(Event, Event.id == Order.event_id)
        .where(Event.organizer_id == organizer_id, Order.status.in_(PAID_STATUSES))
        .group_by(Order.event_id)
        .subquery()
    )
    stmt = (
        select(
            Event,
            func.coalesce(types.c.sold, 0),
            func.coalesce(types.c.capacity, 0),
            func.coalesce(paid.c.gross, 0),
        )
        .outerjoin(types, types.c.event_id == Event.id)
        .outerjoin(paid, paid.c.event_id == Event.id)
        .where(Event.organizer_id == organizer_id)
        .order_by(Event.starts_at, Event.id)
        .limit(limit * 2)
    )
    now = utcnow()
    async with db.read() as session:
        rows = [EventFigures(e, int(s), int(c), int(g)) for e, s, c, g in (await session.execute(stmt))]
    upcoming = [r for r in rows if r.event.ends_at >= now][:limit]
    past = sorted((r for r in rows if r.event.ends_at < now), key=lambda r: r.event.starts_at, reverse=True)
    return OrganizerEventFigures(upcoming, past[:limit])


@dataclass(frozen=True)
class TypeFigures:
    ticket_type: TicketType
    availability: Availability
    revenue_cents: int  # the paid lines' totals (before refunds)


@dataclass(frozen=True)
class ChartPoint:
    at: datetime
    tickets: int  # cumulative paid orders' tickets up to ``at``
    gross_cents: int  # cumulative


@dataclass(frozen=True)
class Dashboard:
    types: list[TypeFigures]
    orders: int
    gross_cents: int
    tips_cents: int
    refunds_cents: int
    chart: list[ChartPoint]
    latest: list[Order]

    @property
    def net_cents(self) -> int:
        return self.gross_cents - self.refunds_cents

    @property
    def sold(self) -> int:
        return sum(t.availability.sold for t in self.types)


async def dashboard(db: Database, event: Event, *, latest: int = 10, now: datetime | None = None) -> Dashboard:
    """The live dashboard's figures for ``event`` (already checked to be the organizer's). First the first payment's
    time, the chart's start (``ix_orders_event_confirmed``: one index probe); then, on two connections at once (the
    server works on both: the figures come at the pace of the longer one, the pass over the lines), the ticket
    types with their availability, one pass over the paid orders grouped by chart moment and the latest orders
    (``ix_orders_event_created``) on one, and one pass over the paid orders' lines on the other (``_line_pass``).
    On SQLite the two take turns. As before, each statement reads the data as committed when it starts."""
    now = now or utcnow()
    async with db.read() as session:
        first = await session.scalar(select(func.min(Order.confirmed_at)).where(*_paid(event.id)))
    edges = chart_edges(first, now) if first is not None else []

    async def orders_side() -> tuple[list[TicketType], list[Availability], dict[int | None, OrderSums], list[Order]]:
        async with db.read() as session:
            types = await shown_ticket_types(session, event.id)
            avail = await availability_of(session, event, types, now)
            by_order = await _order_pass(session, event.id, edges)
            recent = (
                await session.scalars(
                    select(Order)
                    .where(Order.event_id == event.id)
                    .order_by(Order.created_at.desc(), Order.id.desc())
                    .limit(latest)
                    .options(raiseload(Order.lines))  # not shown: not read
                )
            ).all()
            return types, avail, by_order, list(recent)

    async def lines_side() -> dict[tuple[str, int | None], LineSums]:
        async with db.read() as session:
            return await _line_pass(session, event.id, edges)

    async with asyncio.TaskGroup() as group:
        orders_task = group.create_task(orders_side())
        lines_task = group.create_task(lines_side())
    types, avail, by_order, recent = orders_task.result()
    by_line = lines_task.result()
    count, gross, tips, refunds = (sum(row[i] for row in by_order.values()) for i in range(4))
    revenue: dict[str, int] = {}
    for (tt_id, _), (_, total) in by_line.items():
        revenue[tt_id] = revenue.get(tt_id, 0) + total
    chart: list[ChartPoint] = []
    tickets = cumulative = 0
    for i, edge in enumerate(edges):
        tickets += sum(q for (_, b), (q, _) in by_line.items() if b == i)
        cumulative += by_order.get(i, (0, 0, 0, 0))[1]
        chart.append(ChartPoint(edge, tickets, cumulative))
    by_id = {a.ticket_type_id: a for a in avail}
    figures = [TypeFigures(tt, by_id[tt.id], revenue.get(tt.id, 0)) for tt in types if tt.id in by_id]
    return Dashboard(figures, count, gross, tips, refunds, chart if count else [], recent)


def chart_edges(first: datetime, now: datetime) -> list[datetime]:
    """``CHART_BUCKETS`` moments from just before the first payment to now (at least a minute apart)."""
    start = first - timedelta(minutes=1)
    span = max(now - start, timedelta(minutes=CHART_BUCKETS))
    return [start + span * (i / CHART_BUCKETS) for i in range(1, CHART_BUCKETS + 1)]


# The two passes group their rows by the chart moment of their order's payment: one CASE, the first edge at or after
# it, or None (a payment refunded before it was confirmed, or one after the last edge, a clock race); the totals are
# the sums over every moment, None included. No self-join: its plan does not depend on the table's statistics being
# fresh (with stale ones, a join of the orders with their per-order ticket counts became a nested loop over
# 10,000 x 10,000 rows).
OrderSums = tuple[int, int, int, int]  # paid orders, gross, tips, refunds
LineSums = tuple[int, int]  # tickets, revenue


def _paid(event_id: str) -> tuple[ColumnElement[bool], ...]:
    return (Order.event_id == event_id, Order.status.in_(PAID_STATUSES))


def _bucket(edges: list[datetime]) -> ColumnElement[Any]:
    if not edges:
        return null()
    return case(*((Order.confirmed_at <= edge, i) for i, edge in enumerate(edges)), else_=None)


async def _order_pass(session: AsyncSession, event_id: str, edges: list[datetime]) -> dict[int | None, OrderSums]:
    """Per chart moment: the paid orders, their gross, tips and refunds."""
    rows = (
        select(
            _bucket(edges).label("b"),
            Order.total_cents.label("total"),
            Order.tip_cents.label("tip"),
            Order.refunded_cents.label("refunded"),
        )
        .where(*_paid(event_id))
        .subquery()
    )
    grouped = select(
        rows.c.b, func.count(), func.sum(rows.c.total), func.sum(rows.c.tip), func.sum(rows.c.refunded)
    ).group_by(rows.c.b)
    return {
        (None if b is None else int(b)): (int(n), int(total or 0), int(tip or 0), int(refunded or 0))
        for b, n, total, tip, refunded in (await session.execute(grouped))
    }


async def _line_pass(
    session: AsyncSession, event_id: str, edges: list[datetime]
) -> dict[tuple[str, int | None], LineSums]:
    """Per ticket type and chart moment: the paid orders' tickets and their lines' totals."""
    rows = (
        select(
            _bucket(edges).label("b"),
            OrderLine.ticket_type_id.label("tt"),
            OrderLine.quantity.label("q"),
            OrderLine.line_total_cents.label("v"),
        )
        .select_from(Order)  # the bucket may name no table (no payment yet: NULL)
        .join(OrderLine, OrderLine.order_id == Order.id)
        .where(*_paid(event_id))
        .subquery()
    )
    grouped = select(rows.c.tt, rows.c.b, func.sum(rows.c.q), func.sum(rows.c.v)).group_by(rows.c.tt, rows.c.b)
    return {
        (tt_id, None if b is None else int(b)): (int(q or 0), int(v or 0))
        for tt_id, b, q, v in (await session.execute(grouped))
    }
