"""No oversell, ever: concurrency on a real PostgreSQL."""

from __future__ import annotations

import asyncio
import random
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from boxoffice.db import Database
from boxoffice.errors import InvalidInput, SoldOut
from boxoffice.ticketing.models import Order, OrderLine, TicketType
from boxoffice.ticketing.orders import confirm_order, expire_order, list_tickets
from boxoffice.ticketing.plan import OrderRequest
from boxoffice.ticketing.reserve import reserve
from tests.helpers import counters, make_event, make_ticket, order_request

pytestmark = pytest.mark.postgres
ROOT = Path(__file__).resolve().parents[2]


async def _attempt(db: Database, request: OrderRequest) -> str:
    try:
        await reserve(db, request)
        return "held"
    except SoldOut:
        return "sold_out"


async def test_2000_concurrent_reservations_against_500(pg_db: Database) -> None:
    event = await make_event(pg_db)
    tt = await make_ticket(pg_db, event.id, quantity=500)
    results = await asyncio.gather(
        *(_attempt(pg_db, order_request(event.id, (tt.id, 1))) for _ in range(2000)), return_exceptions=True
    )
    assert Counter(results) == {"held": 500, "sold_out": 1500}
    assert await counters(pg_db, tt.id) == (500, 0, 500)
    async with pg_db.read() as session:
        pending = await session.scalar(
            select(func.count()).select_from(Order).where(Order.event_id == event.id, Order.status == "pending")
        )
    assert pending == 500


async def test_reservations_split_across_two_processes(pg_url: str, pg_db: Database) -> None:
    event = await make_event(pg_db)
    tt = await make_ticket(pg_db, event.id, quantity=500)
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.ticketing.reserve_worker",
            pg_url,
            event.id,
            tt.id,
            "1000",
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(2)
    ]
    for p in procs:  # both connected, then both fire at once
        assert p.stdout is not None
        assert (await asyncio.wait_for(p.stdout.readline(), 60)).strip() == b"ready"
    outputs = await asyncio.gather(*(p.communicate(b"go\n") for p in procs))
    totals: Counter[str] = Counter()
    for (out, err), proc in zip(outputs, procs, strict=True):
        assert proc.returncode == 0, err.decode()
        fields = dict(part.split("=") for part in out.decode().split())
        totals.update({k: int(v) for k, v in fields.items()})
    assert totals == {"held": 500, "sold_out": 1500, "other": 0}
    assert await counters(pg_db, tt.id) == (500, 0, 500)
    # The two processes' reservations overlapped in time: each one's orders were being written while the other's
    # were (by the orders' creation times, per process).
    async with pg_db.read() as session:
        rows = (await session.execute(select(Order.email, Order.created_at).where(Order.event_id == event.id))).all()
    spans: dict[str, list[Any]] = {}
    for email, created in rows:
        spans.setdefault(email.split("-")[2].split("@")[0], []).append(created)
    assert sorted(spans) == sorted(str(p.pid) for p in procs)
    (first, second) = ((min(times), max(times)) for times in spans.values())
    assert first[0] < second[1] and second[0] < first[1], (first, second)


async def test_mixed_multi_line_orders_never_leave_a_partial_hold(pg_db: Database) -> None:
    event = await make_event(pg_db)
    types = [await make_ticket(pg_db, event.id, title=f"T{i}", quantity=q) for i, q in enumerate((40, 25, 15))]
    rng = random.Random(7)
    requests = []
    for _ in range(400):
        chosen = rng.sample(types, rng.randint(1, 3))
        requests.append(order_request(event.id, *[(t.id, rng.randint(1, 3)) for t in chosen]))
    results = await asyncio.gather(*(_attempt(pg_db, r) for r in requests), return_exceptions=True)
    assert set(results) <= {"held", "sold_out"}, [r for r in results if r not in ("held", "sold_out")][:3]
    async with pg_db.read() as session:
        orders = (await session.scalars(select(Order).where(Order.event_id == event.id))).all()
        by_request = {(o.email, tuple((ln.ticket_type_id, ln.quantity) for ln in o.lines)) for o in orders}
        sums = (
            await session.execute(
                select(OrderLine.ticket_type_id, func.sum(OrderLine.quantity))
                .join(Order, Order.id == OrderLine.order_id)
                .where(Order.event_id == event.id, Order.status == "pending")
                .group_by(OrderLine.ticket_type_id)
            )
        ).all()
        line_sums = {tt_id: int(total) for tt_id, total in sums}
        rows = (await session.scalars(select(TicketType).where(TicketType.event_id == event.id))).all()
    # Every order that exists has all of the lines it asked for.
    requested = {(r.email, tuple((ln.ticket_type_id, ln.quantity) for ln in r.lines)) for r in requests}
    assert by_request <= requested
    assert len(orders) == results.count("held")
    for row in rows:
        assert row.held_count == line_sums.get(row.id, 0)
        assert row.sold_count + row.held_count <= row.quantity


async def test_dynamic_tiers_sell_exactly_the_ceilings_concurrently(pg_db: Database) -> None:
    event = await make_event(pg_db)
    tt = await make_ticket(
        pg_db,
        event.id,
        pricing_model="dynamic",
        quantity=300,
        price_tiers=[
            {"price_cents": 1000, "up_to": 100},
            {"price_cents": 1500, "up_to": 250},
            {"price_cents": 2000},
        ],
    )
    rng = random.Random(3)
    requests = [order_request(event.id, (tt.id, rng.choice((1, 1, 2, 3)))) for _ in range(300)]

    async def go(r: OrderRequest) -> str:
        try:
            return await _attempt(pg_db, r)
        except InvalidInput:
            return "invalid"

    results = await asyncio.gather(*(go(r) for r in requests), return_exceptions=True)
    assert set(results) <= {"held", "sold_out"}
    async with pg_db.read() as session:
        orders = (await session.scalars(select(Order).where(Order.event_id == event.id))).all()
    prices = Counter(p for o in orders for ln in o.lines for p in ln.unit_prices)
    sold = sum(prices.values())
    assert await counters(pg_db, tt.id) == (300, 0, sold)
    expected = Counter({1000: min(sold, 100), 1500: min(max(sold - 100, 0), 150), 2000: max(sold - 250, 0)})
    assert prices == +expected
    assert sold >= 299  # only a last multi-unit order can be refused at the very end


async def test_concurrent_late_payments_confirm_once_and_never_refund_the_winner(pg_db: Database) -> None:
    event = await make_event(pg_db)
    tt = await make_ticket(pg_db, event.id, quantity=1)
    order = await reserve(pg_db, order_request(event.id, (tt.id, 1)))
    await expire_order(pg_db, order.id, force=True)
    results = await asyncio.gather(*(confirm_order(pg_db, order.id) for _ in range(8)))
    assert sorted(r.outcome for r in results) == ["confirmed_late"] + ["unchanged"] * 7
    assert await counters(pg_db, tt.id) == (1, 1, 0)
    assert len(await list_tickets(pg_db, order.id)) == 1


async def test_concurrent_confirms_of_a_pending_order_issue_one_set_of_tickets(pg_db: Database) -> None:
    event = await make_event(pg_db)
    tt = await make_ticket(pg_db, event.id, quantity=3)
    order = await reserve(pg_db, order_request(event.id, (tt.id, 2)))
    results = await asyncio.gather(*(confirm_order(pg_db, order.id) for _ in range(10)))
    assert sum(r.changed for r in results) == 1
    assert await counters(pg_db, tt.id) == (3, 2, 0)
    assert len(await list_tickets(pg_db, order.id)) == 2
