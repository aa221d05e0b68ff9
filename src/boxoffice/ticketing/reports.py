"""Sales figures for the organizer console: per event (the events list), per ticket type and over time (the
dashboard), and the latest orders. Reads only; each figure is one aggregate statement, never a query per row.

Money: ``gross`` is what paid orders were charged (subtotal + tips) whatever happened since, ``refunds`` what was
refunded of them, ``net`` the difference. A paid order is one in ``PAID_STATUSES`` (confirmed, partly or fully
refunded); a canceled order that was paid is left out (it was refunded or never charged).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.clock import utcnow
from boxoffice.db import Database
from boxoffice.events.models import Event
from boxoffice.ticketing.models import Order, OrderLine, OrderStatus, TicketType
from boxoffice.ticketing.ticket_types import SHOWN_ORDER, Availability, availability

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
        rows = [EventFigures(e, int(s), int(c), int(g)) for e, s, c, g in (await session.execute(stmt)).tuples()]
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
    """The live dashboard's figures for ``event`` (already checked to be the organizer's)."""
    now = now or utcnow()
    avail = await availability(db, event.id, now=now)
    paid = (Order.event_id == event.id, Order.status.in_(PAID_STATUSES))
    async with db.read() as session:
        types = list(
            (
                await session.scalars(
                    select(TicketType)
                    .where(TicketType.event_id == event.id, TicketType.deleted_at.is_(None))
                    .order_by(*SHOWN_ORDER)
                )
            ).all()
        )
        revenue = {
            tt_id: int(total or 0)
            for tt_id, total in (
                await session.execute(
                    select(OrderLine.ticket_type_id, func.sum(OrderLine.line_total_cents))
                    .join(Order, Order.id == OrderLine.order_id)
                    .where(*paid)
                    .group_by(OrderLine.ticket_type_id)
                )
            ).tuples()
        }
        count, gross, tips, refunds, first = (
            await session.execute(
                select(
                    func.count(),
                    func.coalesce(func.sum(Order.total_cents), 0),
                    func.coalesce(func.sum(Order.tip_cents), 0),
                    func.coalesce(func.sum(Order.refunded_cents), 0),
                    func.min(Order.confirmed_at),
                ).where(*paid)
            )
        ).one()
        chart = await _chart(session, event.id, first, now) if count else []
        recent = list(
            (
                await session.scalars(
                    select(Order)
                    .where(Order.event_id == event.id)
                    .order_by(Order.created_at.desc(), Order.id.desc())
                    .limit(latest)
                )
            ).all()
        )
    by_id = {a.ticket_type_id: a for a in avail}
    figures = [TypeFigures(tt, by_id[tt.id], int(revenue.get(tt.id) or 0)) for tt in types if tt.id in by_id]
    return Dashboard(figures, int(count), int(gross), int(tips), int(refunds), chart, recent)


async def _chart(session: AsyncSession, event_id: str, first: datetime | None, now: datetime) -> list[ChartPoint]:
    """Cumulative paid tickets and gross at ``CHART_BUCKETS`` moments from the first payment to now. Two passes,
    one over the event's paid orders (gross) and one over their lines (tickets), each grouping its rows by the
    bucket of their payment (one CASE), summed up cumulatively here; the same SQL on SQLite and PostgreSQL. No
    self-join: its plan does not depend on the table's statistics being fresh (with stale ones, a join of the
    orders with their per-order ticket counts became a nested loop over 10,000 x 10,000 rows)."""
    if first is None:
        return []
    start = first - timedelta(minutes=1)
    span = max(now - start, timedelta(minutes=CHART_BUCKETS))
    edges = [start + span * (i / CHART_BUCKETS) for i in range(1, CHART_BUCKETS + 1)]
    paid = (Order.event_id == event_id, Order.status.in_(PAID_STATUSES))

    def bucket() -> ColumnElement[int]:  # a payment after the last edge (a clock race) or none: no bucket
        return case(*((Order.confirmed_at <= edge, i) for i, edge in enumerate(edges)), else_=None)

    gross_rows = select(bucket().label("b"), Order.total_cents.label("v")).where(*paid).subquery()
    ticket_rows = (
        select(bucket().label("b"), OrderLine.quantity.label("v"))
        .join(OrderLine, OrderLine.order_id == Order.id)
        .where(*paid)
        .subquery()
    )
    sums: list[dict[int, int]] = []
    for rows in (ticket_rows, gross_rows):
        found = await session.execute(select(rows.c.b, func.sum(rows.c.v)).group_by(rows.c.b))
        sums.append({int(b): int(v or 0) for b, v in found.tuples() if b is not None})
    points: list[ChartPoint] = []
    tickets = gross = 0
    for i, edge in enumerate(edges):
        tickets += sums[0].get(i, 0)
        gross += sums[1].get(i, 0)
        points.append(ChartPoint(edge, tickets, gross))
    return points
