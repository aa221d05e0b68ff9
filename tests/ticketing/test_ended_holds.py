"""Ended holds (pending orders past their expiry) are found by reading the ended ones, never every pending order:
a sold-out answer asks whether a hold of its ticket types has ended, and availability reads count them, at the
moment a sale has the most pending orders and the oldest statistics."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from boxoffice.clock import utcnow
from boxoffice.db import Database
from boxoffice.ticketing.inventory import _expired_holds, has_ended_hold
from boxoffice.ticketing.models import Order, TicketType
from boxoffice.ticketing.reserve import reserve
from boxoffice.ticketing.ticket_types import Availability, availability, shown_with_availability
from tests.helpers import make_event, make_ticket, order_request, rows_read

HELD = 150


async def test_ended_holds_are_found_without_reading_every_pending_order(fresh_pg: tuple[str, Database]) -> None:
    """150 pending orders in tables PostgreSQL has not analyzed since they were empty (a sale's first minutes).
    With the lines joined to the orders the plain way, the planner read, for each of the ticket type's 150 lines,
    every pending order through the partial index of pending orders by address: 22,500 rows for one sold-out
    answer (90,000 and 60 to 90 ms after 300 orders, in the flash-sale benchmark)."""
    _, db = fresh_pg
    event = await make_event(db)
    tt = await make_ticket(db, event.id, quantity=HELD)
    other = await make_ticket(db, event.id, quantity=10, title="Other")
    orders = [await reserve(db, order_request(event.id, (tt.id, 1))) for _ in range(HELD)]
    await reserve(db, order_request(event.id, (other.id, 2)))

    async def ended_now() -> tuple[dict[str, bool], dict[str, int], int]:
        now = utcnow()
        async with db.transaction() as session:
            before = await rows_read(session, "orders")
            rows = await session.execute(
                select(TicketType.id, has_ended_hold(now)).where(TicketType.event_id == event.id)
            )
            flags = {tt_id: bool(ended) for tt_id, ended in rows}
            counted = await _expired_holds(session, [tt.id, other.id], now)
            return flags, counted, await rows_read(session, "orders") - before

    flags, counted, read = await ended_now()
    assert flags == {tt.id: False, other.id: False} and counted == {}
    assert read <= 10, f"finding no ended hold among {HELD} pending orders read {read} rows of orders"

    async with db.transaction() as session:  # two holds of the first ticket type end
        await session.execute(
            update(Order)
            .where(Order.id.in_([orders[3].id, orders[7].id]))
            .values(expires_at=utcnow() - timedelta(minutes=1))
        )
    flags, counted, read = await ended_now()
    assert flags == {tt.id: True, other.id: False} and counted == {tt.id: 2}
    assert read <= 20, f"finding 2 ended holds among {HELD} pending orders read {read} rows of orders"


async def test_availability_reads_each_event_at_its_own_moment(db: Database) -> None:
    """The availability read's statements are built once, with bound parameters: each read counts the holds of its
    own event that have ended at its own moment, and pairs every ticket type shown with its own figures."""
    now = utcnow()
    first, second = await make_event(db), await make_event(db)
    early = await make_ticket(db, first.id, quantity=5)
    late = await make_ticket(db, first.id, quantity=4, title="Late")
    other = await make_ticket(db, second.id, quantity=3)
    await reserve(db, order_request(first.id, (early.id, 2)), now=now - timedelta(hours=1))  # ended by now
    await reserve(db, order_request(first.id, (late.id, 1)))
    await reserve(db, order_request(second.id, (other.id, 1)))

    def figures(shown: list[tuple[TicketType, Availability]]) -> list[tuple[str, int, int]]:
        assert all(tt.id == a.ticket_type_id for tt, a in shown)
        return [(tt.id, a.held, a.available) for tt, a in shown]

    event, shown = await shown_with_availability(db, first.id, now=now)
    assert event.id == first.id
    assert figures(shown) == [(early.id, 0, 5), (late.id, 1, 3)]  # the ended hold counts for nothing
    _, then = await shown_with_availability(db, first.id, now=now - timedelta(minutes=59))
    assert figures(then) == [(early.id, 2, 3), (late.id, 1, 3)]  # an hour ago that hold still held
    _, elsewhere = await shown_with_availability(db, second.id, now=now)
    assert figures(elsewhere) == [(other.id, 1, 2)]
    assert [a.available for a in await availability(db, first.id, now=now)] == [5, 3]
