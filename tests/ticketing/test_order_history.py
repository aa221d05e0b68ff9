"""An order's status history on both databases: one ``order_events`` row per status change, written by the change
itself (a repeated or refused change writes none; two confirmations at once write one), read back after its
creation; an order without rows (changed before the table existed) falls back to its timestamps."""

from __future__ import annotations

import asyncio

from sqlalchemy import delete

from boxoffice.db import Database
from boxoffice.ticketing import orders as lifecycle
from boxoffice.ticketing.models import OrderEvent
from boxoffice.ticketing.order_history import order_history
from boxoffice.ticketing.reserve import reserve
from tests.helpers import make_event, make_ticket, order_request


async def test_each_change_is_one_row_and_repeats_write_none(db: Database) -> None:
    event = await make_event(db)
    tt = await make_ticket(db, event.id, base_price_cents=1000)
    order = await reserve(db, order_request(event.id, (tt.id, 2)))
    assert [s.status for s in await order_history(db, order)] == ["pending"]

    results = await asyncio.gather(*(lifecycle.confirm_order(db, order.id) for _ in range(2)))
    assert sorted(r.changed for r in results) == [False, True]
    await lifecycle.cancel_order(db, order.id, sources=("pending",))  # refused: it is paid
    await lifecycle.record_refund(db, order.id, 500)
    await lifecycle.record_refund(db, order.id, 500)  # the same report again
    await lifecycle.record_refund(db, order.id, 1500)
    await lifecycle.record_refund(db, order.id, 2000)
    order = await lifecycle.get_order(db, order.id)
    steps = await order_history(db, order)
    assert [(s.previous, s.status, s.refunded_cents) for s in steps] == [
        (None, "pending", 0),
        ("pending", "confirmed", 0),
        ("confirmed", "partially_refunded", 500),
        ("partially_refunded", "partially_refunded", 1500),
        ("partially_refunded", "refunded", 2000),
    ]
    assert [s.at for s in steps] == sorted(s.at for s in steps)


async def test_a_free_order_is_confirmed_in_its_history_and_old_orders_use_their_timestamps(db: Database) -> None:
    event = await make_event(db)
    free = await make_ticket(db, event.id, base_price_cents=0)
    order = await reserve(db, order_request(event.id, (free.id, 1)))
    assert [(s.previous, s.status) for s in await order_history(db, order)] == [
        (None, "pending"),
        ("pending", "confirmed"),
    ]
    async with db.transaction() as session:  # as if it was confirmed before the table existed
        await session.execute(delete(OrderEvent).where(OrderEvent.order_id == order.id))
    steps = await order_history(db, order)
    assert [(s.previous, s.status) for s in steps] == [(None, "pending"), (None, "confirmed")]
    assert steps[1].at == order.confirmed_at
