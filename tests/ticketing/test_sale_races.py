"""Sales racing each other and the organizer (PostgreSQL, many connections): a burst of free orders against a few
tickets, and an organizer lowering the quantity and changing the price while buyers reserve."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import select, text

from boxoffice.db import Database
from boxoffice.errors import InvalidInput, SoldOut
from boxoffice.ticketing import orders as lifecycle
from boxoffice.ticketing import reserve as reservations
from boxoffice.ticketing import ticket_types
from boxoffice.ticketing.confirm_pg import confirm_paid_in_one_statement
from boxoffice.ticketing.models import Order, OrderLine, Ticket
from tests.helpers import counters, make_event, make_ticket, order_request

pytestmark = pytest.mark.postgres


async def _free(db: Database, event_id: str, tt_id: str) -> str:
    try:
        order = await reservations.reserve(db, order_request(event_id, (tt_id, 1)))
    except SoldOut:
        return "sold_out"
    return order.status


async def test_fifty_free_orders_at_once_for_seven_tickets(pg_db: Database) -> None:
    event = await make_event(pg_db)
    tt = await make_ticket(pg_db, event.id, base_price_cents=0, quantity=7)
    results = await asyncio.gather(*(_free(pg_db, event.id, tt.id) for _ in range(50)), return_exceptions=True)
    assert Counter(results) == {"confirmed": 7, "sold_out": 43}
    assert await counters(pg_db, tt.id) == (7, 7, 0)
    async with pg_db.read() as session:
        orders = list((await session.scalars(select(Order).where(Order.event_id == event.id))).all())
        tickets = (await session.scalars(select(Ticket).where(Ticket.ticket_type_id == tt.id))).all()
        confirmations = await session.scalar(
            text("SELECT count(*) FROM outbox_messages WHERE kind = 'order.confirmed' AND payload->>'event_id' = :e"),
            {"e": event.id},
        )
    # the sold-out ones wrote nothing; each free order is confirmed once, with its one ticket
    assert [(o.status, o.total_cents) for o in orders] == [("confirmed", 0)] * 7
    assert sorted(t.order_id for t in tickets) == sorted(o.id for o in orders)
    assert {t.status for t in tickets} == {"valid"}
    assert confirmations == 7


async def _buy(db: Database, event_id: str, tt_id: str, quantity: int) -> Order | str:
    try:
        return await reservations.reserve(db, order_request(event_id, (tt_id, quantity)))
    except SoldOut:
        return "sold_out"


async def _lower(db: Database, tt_id: str, quantity: int) -> tuple[int, bool]:
    try:
        await ticket_types.update_ticket_type(db, tt_id, {"quantity": quantity})
    except InvalidInput as exc:
        assert [e.field for e in exc.errors] == ["quantity"]
        return quantity, False
    return quantity, True


async def _reprice(db: Database, tt_id: str, price: int) -> int:
    await ticket_types.update_ticket_type(db, tt_id, {"base_price_cents": price})
    return price


async def test_lowering_quantity_and_repricing_during_a_sale(pg_db: Database) -> None:
    """The organizer lowers the quantity (100 -> 80 -> 60 -> 45) and changes the price (1500 <-> 2000) while 150
    buyers of one or two tickets reserve. Never oversold; a refused lowering was below what was sold and held;
    every order line is priced at one of the prices, as its snapshot says, never a mix."""
    event = await make_event(pg_db)
    tt = await make_ticket(pg_db, event.id, base_price_cents=1500, quantity=100)
    rng = random.Random(42)
    buyers = [_buy(pg_db, event.id, tt.id, rng.choice((1, 2))) for _ in range(150)]
    organizer: list[Any] = [_lower(pg_db, tt.id, q) for q in (80, 60, 45)]
    organizer += [_reprice(pg_db, tt.id, p) for p in (2000, 1500, 2000)]
    work: list[Any] = [*buyers]
    for i, job in enumerate(organizer):
        work.insert(20 * (i + 1), job)
    results = await asyncio.gather(*work, return_exceptions=True)
    assert [r for r in results if isinstance(r, BaseException)] == []

    held_orders = [r for r in results if isinstance(r, Order)]
    lowerings = [r for r in results if isinstance(r, tuple)]
    quantity, sold, held = await counters(pg_db, tt.id)
    assert sold == 0 and held == sum(o.lines[0].quantity for o in held_orders)
    assert sold + held <= quantity
    # the quantity is the one an accepted lowering set (the last to commit), or the first if none was accepted
    accepted = [q for q, ok in lowerings if ok]
    assert quantity in (100, *accepted)
    if accepted:
        assert quantity <= max(accepted)
    async with pg_db.read() as session:
        violating = await session.scalar(
            text("SELECT count(*) FROM ticket_types WHERE sold_count + held_count > quantity OR sold_count < 0")
        )
        lines = (
            await session.execute(
                select(Order, OrderLine)
                .join(OrderLine, OrderLine.order_id == Order.id)
                .where(Order.event_id == event.id)
            )
        ).all()
    assert violating == 0
    assert len(lines) == len(held_orders)
    prices: Counter[int] = Counter()
    for order, line in lines:
        (unit,) = set(line.unit_prices)  # one price for every unit of the line
        assert unit in (1500, 2000)
        assert line.unit_price_cents == unit and line.line_total_cents == unit * line.quantity
        assert order.total_cents == order.subtotal_cents == line.line_total_cents
        (snap,) = order.pricing_snapshot["lines"]
        assert snap["base_price_cents"] == unit and snap["unit_prices"] == [unit] * line.quantity
        prices[unit] += 1
    assert sum(prices.values()) == len(held_orders)

    # Once an edit has returned, every sale uses it, even right after a sale that priced from a kept copy.
    more = await ticket_types.update_ticket_type(pg_db, tt.id, {"quantity": quantity + 10})
    kept = await reservations.reserve(pg_db, order_request(event.id, (tt.id, 1)))
    await ticket_types.update_ticket_type(pg_db, tt.id, {"base_price_cents": 2500})
    after = await reservations.reserve(pg_db, order_request(event.id, (tt.id, 1)))
    assert (kept.total_cents, after.total_cents) == (more.base_price_cents, 2500)
    assert after.pricing_snapshot["lines"][0]["base_price_cents"] == 2500


async def test_lowering_below_sold_and_held_is_refused_and_changes_nothing(pg_db: Database) -> None:
    event = await make_event(pg_db)
    tt = await make_ticket(pg_db, event.id, quantity=10)
    order = await reservations.reserve(pg_db, order_request(event.id, (tt.id, 4)))
    await lifecycle.confirm_order(pg_db, order.id)
    await reservations.reserve(pg_db, order_request(event.id, (tt.id, 3)))
    with pytest.raises(InvalidInput) as refused:
        await ticket_types.update_ticket_type(pg_db, tt.id, {"quantity": 6, "base_price_cents": 999})
    assert [e.field for e in refused.value.errors] == ["quantity"] and "7" in refused.value.errors[0].message
    now = await ticket_types.get_ticket_type(pg_db, tt.id)
    assert (now.quantity, now.sold_count, now.held_count, now.base_price_cents) == (10, 4, 3, 1500)
    assert (await ticket_types.update_ticket_type(pg_db, tt.id, {"quantity": 7})).quantity == 7
    with pytest.raises(SoldOut):
        await reservations.reserve(pg_db, order_request(event.id, (tt.id, 1)))


async def test_concurrent_lowerings_never_strand_a_hold(pg_db: Database) -> None:
    """Buyers take one ticket each while twenty lowerings to random values run: every accepted lowering left room
    for what was sold and held (the CHECK never fired), and the holds all fit the final quantity."""
    event = await make_event(pg_db)
    tt = await make_ticket(pg_db, event.id, quantity=60)
    rng = random.Random(7)
    work: list[Any] = [_buy(pg_db, event.id, tt.id, 1) for _ in range(80)]
    for _ in range(20):
        work.insert(rng.randrange(len(work)), _lower(pg_db, tt.id, rng.randint(10, 59)))
    results = await asyncio.gather(*work, return_exceptions=True)
    assert [r for r in results if isinstance(r, BaseException)] == []
    holds = sum(1 for r in results if isinstance(r, Order))
    quantity, sold, held = await counters(pg_db, tt.id)
    assert (sold, held) == (0, holds)
    assert held <= quantity


async def _reserve_mixed(db: Database, event_id: str, tt_ids: list[str], rng: random.Random) -> Order:
    kinds = rng.sample(tt_ids, k=rng.randint(2, len(tt_ids)))  # several lines, in any order
    return await reservations.reserve(db, order_request(event_id, *((tt_id, rng.randint(1, 2)) for tt_id in kinds)))


async def test_multi_line_orders_paid_while_others_reserve_never_deadlock(pg_db: Database) -> None:
    """Confirming an order inserts its tickets, whose foreign key takes a KEY SHARE lock on each ticket type; a
    reservation locking the same ticket types must not conflict with it (``FOR NO KEY UPDATE``, not ``FOR
    UPDATE``): with ``FOR UPDATE`` the two waited on each other and PostgreSQL killed one (the soak benchmark's
    deadlocks). Half the orders are confirmed in one statement, half on the general path."""
    rng = random.Random(7)
    event = await make_event(pg_db)
    tt_ids = [(await make_ticket(pg_db, event.id, base_price_cents=1000, quantity=2000)).id for _ in range(4)]
    held = [await _reserve_mixed(pg_db, event.id, tt_ids, rng) for _ in range(40)]

    async def pay(i: int, order: Order) -> None:
        if i % 2 or not await confirm_paid_in_one_statement(
            pg_db, order.id, amount=order.total_cents, currency=order.currency, payment_intent_id=None
        ):
            await lifecycle.confirm_order(pg_db, order.id)

    for _ in range(3):  # the race is a matter of timing: three rounds of it
        results = await asyncio.gather(
            *(pay(i, order) for i, order in enumerate(held)),
            *(_reserve_mixed(pg_db, event.id, tt_ids, rng) for _ in range(40)),
            return_exceptions=True,
        )
        assert [r for r in results if isinstance(r, BaseException)] == []
        held = [r for r in results if isinstance(r, Order)]
    async with pg_db.read() as session:
        statuses = Counter((await session.scalars(select(Order.status).where(Order.event_id == event.id))).all())
    assert statuses == {"confirmed": 120, "pending": 40}


async def test_a_confirmation_undone_by_a_deadlock_runs_again_and_confirms_once(pg_db: Database, pg_url: str) -> None:
    """PostgreSQL breaks a deadlock by undoing one of its transactions. A general-path confirmation that is the
    victim writes nothing and is run again: the order is confirmed, once, with its tickets. The deadlock is made on
    purpose: another transaction holds the buyer's participant row, waits until the confirmation queues on it while
    holding the order's row, then asks for the order's row."""
    event = await make_event(pg_db)
    tt = await make_ticket(pg_db, event.id, base_price_cents=1000, quantity=10)
    earlier = await reservations.reserve(pg_db, order_request(event.id, (tt.id, 1), email="ada@example.com"))
    await lifecycle.confirm_order(pg_db, earlier.id)  # the buyer has a participant row now
    order = await reservations.reserve(pg_db, order_request(event.id, (tt.id, 2), email="ada@example.com"))
    other = Database(pg_url, pool_size=1)
    try:
        async with other.engine.connect() as blocker:
            if (await blocker.scalar(text("SELECT current_setting('is_superuser')"))) == "on":
                # the confirmation (which waits first) is then always the one PostgreSQL undoes
                await blocker.execute(text("SET LOCAL deadlock_timeout = '30s'"))
            await blocker.execute(
                text("SELECT 1 FROM event_participants WHERE event_id = :e FOR UPDATE"), {"e": event.id}
            )
            confirming = asyncio.create_task(lifecycle.confirm_order(pg_db, order.id))
            for _ in range(400):
                waiting = await blocker.scalar(
                    text("SELECT count(*) FROM pg_stat_activity WHERE pg_backend_pid() = ANY(pg_blocking_pids(pid))")
                )
                if waiting:
                    break
                await asyncio.sleep(0.025)
            assert waiting, "the confirmation never queued on the participant's row"
            await blocker.execute(text("SELECT 1 FROM orders WHERE id = :o FOR UPDATE"), {"o": order.id})
            await blocker.rollback()
        result = await confirming
    finally:
        await other.dispose()
    assert result.changed and result.order.status == "confirmed"
    async with pg_db.read() as session:
        tickets = (await session.scalars(select(Ticket.id).where(Ticket.order_id == order.id))).all()
        history = (
            await session.execute(
                text("SELECT count(*) FROM order_events WHERE order_id = :o AND to_status = 'confirmed'"),
                {"o": order.id},
            )
        ).scalar_one()
    assert len(tickets) == 2 and history == 1
    assert await counters(pg_db, tt.id) == (10, 3, 0)
