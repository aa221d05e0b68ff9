"""Vouchers under concurrency on a real PostgreSQL: uses and reservations are exact whatever the interleaving."""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections import Counter
from collections.abc import Coroutine
from typing import Any

import pytest
from sqlalchemy import func, select

from boxoffice.db import Database
from boxoffice.errors import SoldOut, VoucherUnavailable
from boxoffice.ticketing.models import Order
from boxoffice.ticketing.orders import expire_order
from boxoffice.ticketing.plan import OrderRequest
from boxoffice.ticketing.reserve import reserve
from boxoffice.ticketing.voucher_models import VoucherUse
from tests.helpers import counters, make_event, make_ticket, order_request
from tests.ticketing.test_vouchers import make_voucher, voucher_state

pytestmark = pytest.mark.postgres


async def attempt(db: Database, request: OrderRequest) -> str:
    try:
        order = await reserve(db, request)
    except VoucherUnavailable:
        return "used_up"
    except SoldOut:
        return "sold_out"
    return "voucher" if order.pricing_snapshot.get("voucher") else "public"


@pytest.mark.parametrize("fused", [True, False], ids=["one-statement", "general"])
async def test_200_concurrent_orders_use_a_five_use_code_exactly_five_times(
    pg_db: Database, monkeypatch: pytest.MonkeyPatch, fused: bool
) -> None:
    monkeypatch.setattr(pg_db, "one_statement_reservations", fused)
    event = await make_event(pg_db)
    tt = await make_ticket(pg_db, event.id, quantity=500)
    voucher = await make_voucher(pg_db, event.id, code="FIVE", max_uses=5, discount={"percent": 25})
    requests = [dataclasses.replace(order_request(event.id, (tt.id, 1)), voucher="five") for _ in range(200)]
    results = await asyncio.gather(*(attempt(pg_db, r) for r in requests))
    assert Counter(results) == {"voucher": 5, "used_up": 195}
    assert await voucher_state(pg_db, voucher.id) == (5, 0, 5)
    assert await counters(pg_db, tt.id) == (500, 0, 5)


@pytest.mark.parametrize("fused", [True, False], ids=["one-statement", "general"])
async def test_orders_that_find_the_tickets_sold_out_take_no_use_of_the_code(
    pg_db: Database, monkeypatch: pytest.MonkeyPatch, fused: bool
) -> None:
    """The code has more uses than there are tickets: the one-statement path takes the uses first and undoes them
    (the whole statement) when the tickets are gone, so every refused order leaves the code as it was."""
    monkeypatch.setattr(pg_db, "one_statement_reservations", fused)
    event = await make_event(pg_db)
    tt = await make_ticket(pg_db, event.id, quantity=10)
    voucher = await make_voucher(pg_db, event.id, code="MANY", max_uses=50, discount={"amount_cents": 100})
    requests = [dataclasses.replace(order_request(event.id, (tt.id, 1)), voucher="many") for _ in range(100)]
    results = await asyncio.gather(*(attempt(pg_db, r) for r in requests))
    assert Counter(results) == {"voucher": 10, "sold_out": 90}
    assert await voucher_state(pg_db, voucher.id) == (10, 0, 10)
    assert await counters(pg_db, tt.id) == (10, 0, 10)
    with pytest.raises(SoldOut):  # and once more, alone, after the sale
        await reserve(pg_db, dataclasses.replace(order_request(event.id, (tt.id, 1)), voucher="many"))
    assert await voucher_state(pg_db, voucher.id) == (10, 0, 10)


async def test_mixed_quantities_never_take_more_uses_than_allowed(pg_db: Database) -> None:
    event = await make_event(pg_db)
    tt = await make_ticket(pg_db, event.id, quantity=500, max_per_order=4)
    voucher = await make_voucher(pg_db, event.id, code="SEVEN", max_uses=7)
    rng = random.Random(11)
    quantities = [rng.randint(1, 3) for _ in range(150)]
    requests = [dataclasses.replace(order_request(event.id, (tt.id, q)), voucher="seven") for q in quantities]
    results = await asyncio.gather(*(attempt(pg_db, r) for r in requests))
    uses, _, live = await voucher_state(pg_db, voucher.id)
    async with pg_db.read() as session:
        held = await session.scalar(
            select(func.coalesce(func.sum(VoucherUse.quantity), 0)).where(VoucherUse.voucher_id == voucher.id)
        )
    assert set(results) <= {"voucher", "used_up"}
    assert uses == live == held and 7 - max(quantities) < uses <= 7
    assert await counters(pg_db, tt.id) == (500, 0, uses)


async def test_a_reservation_is_exact_with_the_public_and_the_codes_holders_at_once(pg_db: Database) -> None:
    event = await make_event(pg_db)
    tt = await make_ticket(pg_db, event.id, quantity=50)
    voucher = await make_voucher(pg_db, event.id, code="CREW", ticket_ids=[tt.id], reserve=10, max_uses=10)
    public = [order_request(event.id, (tt.id, 1)) for _ in range(200)]
    holders = [dataclasses.replace(order_request(event.id, (tt.id, 1)), voucher="crew") for _ in range(40)]
    mixed = public + holders
    random.Random(3).shuffle(mixed)
    results = Counter(await asyncio.gather(*(attempt(pg_db, r) for r in mixed)))
    assert results["public"] == 40 and results["voucher"] == 10
    assert results["sold_out"] + results["used_up"] == 190
    assert await voucher_state(pg_db, voucher.id) == (10, 0, 10)
    assert await counters(pg_db, tt.id) == (50, 0, 50)


async def test_holds_ending_while_holders_order_keep_the_uses_exact(pg_db: Database) -> None:
    """Orders with the code expire (giving their uses back to it and its reservation) while new orders with the code
    come in, round after round: the voucher's counters always equal what the live orders took, within its limit."""
    event = await make_event(pg_db)
    tt = await make_ticket(pg_db, event.id, quantity=100)
    voucher = await make_voucher(pg_db, event.id, code="CHURN", max_uses=8, ticket_ids=[tt.id], reserve=8)

    def newcomer() -> OrderRequest:
        return dataclasses.replace(order_request(event.id, (tt.id, 1)), voucher="churn")

    async def pending() -> list[str]:
        async with pg_db.read() as session:
            return list(
                (
                    await session.scalars(select(Order.id).where(Order.event_id == event.id, Order.status == "pending"))
                ).all()
            )

    rng = random.Random(5)
    for _ in range(5):
        mixed: list[Coroutine[Any, Any, object]] = [
            expire_order(pg_db, order_id, force=True) for order_id in await pending()
        ]
        mixed += [attempt(pg_db, newcomer()) for _ in range(20)]
        rng.shuffle(mixed)
        await asyncio.gather(*mixed)
        uses, left, live = await voucher_state(pg_db, voucher.id)
        assert uses == live == len(await pending()) and uses + left == 8
        assert await counters(pg_db, tt.id) == (100, 0, uses)
    # once the holds have ended, the code's holders get exactly its eight uses, from its reservation
    for order_id in await pending():
        await expire_order(pg_db, order_id, force=True)
    results = Counter(await asyncio.gather(*(attempt(pg_db, newcomer()) for _ in range(30))))
    assert results == {"voucher": 8, "used_up": 22}
    assert await voucher_state(pg_db, voucher.id) == (8, 0, 8)
    assert await counters(pg_db, tt.id) == (100, 0, 8)
