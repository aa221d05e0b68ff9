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


async def test_the_figures_per_ticket_type_with_tips_refunds_and_no_payment_yet(db: Database) -> None:
    event = await make_event(db)
    tt = await make_ticket(db, event.id, base_price_cents=1000, tippable=True)
    other = await make_ticket(db, event.id, title="Balcony", base_price_cents=2500)
    empty = await dashboard(db, await events.get_event(db, event.id))
    assert (empty.orders, empty.gross_cents, empty.refunds_cents, empty.chart) == (0, 0, 0, [])
    assert [(f.ticket_type.id, f.revenue_cents) for f in empty.types] == [(tt.id, 0), (other.id, 0)]

    t0 = datetime.now(UTC)
    tipped = await reserve(db, order_request(event.id, (tt.id, 2), (other.id, 1), tip_cents=150))
    await lifecycle.confirm_order(db, tipped.id, now=t0)
    await lifecycle.record_refund(db, tipped.id, 1234, now=t0 + timedelta(minutes=5))
    plain = await reserve(db, order_request(event.id, (other.id, 2)))
    await lifecycle.confirm_order(db, plain.id, now=t0 + timedelta(minutes=10))
    never_confirmed = await reserve(db, order_request(event.id, (tt.id, 1)))
    await lifecycle.expire_order(db, never_confirmed.id, force=True)
    await lifecycle.record_refund(db, never_confirmed.id, 1000)  # paid after its hold ended, refunded in full
    board = await dashboard(db, await events.get_event(db, event.id), now=t0 + timedelta(hours=1))
    assert (board.orders, board.gross_cents, board.tips_cents, board.refunds_cents) == (3, 10650, 150, 2234)
    assert board.net_cents == 8416
    assert [(f.ticket_type.id, f.revenue_cents) for f in board.types] == [(tt.id, 3000), (other.id, 7500)]
    assert (board.chart[-1].tickets, board.chart[-1].gross_cents) == (5, 9650)  # the unconfirmed one: no moment
    assert [o.id for o in board.latest] == [never_confirmed.id, plain.id, tipped.id]
