"""The dashboard's sales-over-time chart on both databases: cumulative paid tickets and gross at each of its moments,
an order counted from the moment of its payment, an unpaid one never."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from boxoffice.db import Database
from boxoffice.events import service as events
from boxoffice.ticketing import orders as lifecycle
from boxoffice.ticketing.reports import CHART_BUCKETS, dashboard
from boxoffice.ticketing.reserve import reserve
from tests.helpers import make_event, make_ticket, order_request


async def test_the_chart_adds_up_paid_orders_from_their_payment(db: Database) -> None:
    event = await make_event(db)
    tt = await make_ticket(db, event.id, base_price_cents=1000)
    other = await make_ticket(db, event.id, title="Balcony", base_price_cents=2500)
    t0 = datetime.now(UTC)
    early = await reserve(db, order_request(event.id, (tt.id, 2), (other.id, 1)))
    late = await reserve(db, order_request(event.id, (tt.id, 1)))
    await reserve(db, order_request(event.id, (tt.id, 3)))  # never paid
    await lifecycle.confirm_order(db, early.id, now=t0)
    await lifecycle.confirm_order(db, late.id, now=t0 + timedelta(hours=12))
    board = await dashboard(db, await events.get_event(db, event.id), now=t0 + timedelta(hours=24))
    points = board.chart
    assert len(points) == CHART_BUCKETS
    assert (points[0].tickets, points[0].gross_cents) == (3, 4500)  # the first payment is in the first moment
    assert (points[-1].tickets, points[-1].gross_cents) == (4, 5500) == (board.sold, board.gross_cents)
    before_late = [p for p in points if p.at < t0 + timedelta(hours=12)]
    after_late = [p for p in points if p.at >= t0 + timedelta(hours=12)]
    assert {(p.tickets, p.gross_cents) for p in before_late} == {(3, 4500)}
    assert {(p.tickets, p.gross_cents) for p in after_late} == {(4, 5500)}
