"""A payment's confirmation racing the hold's end (the ``checkout.session.expired`` webhook and the sweeper) and the
buyer's cancel, all launched at once on separate connections (PostgreSQL, the sandbox's own signed events): every
order ends in exactly one consistent state, the counters are the sum over the orders, and every confirmation,
release and late-payment refund is recorded exactly once."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Awaitable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text, update

from boxoffice.clock import utcnow
from boxoffice.errors import SoldOut
from boxoffice.payments import service as payments_service
from boxoffice.ticketing import orders as lifecycle
from boxoffice.ticketing import reserve as reservations
from boxoffice.ticketing.models import Order
from tests.helpers import counters, make_event, make_ticket, order_request
from tests.payments.signed_events import deliver, made_event, sandbox_event
from tests.server import LiveServer

pytestmark = pytest.mark.postgres

ORDERS = 30
WALK_INS = 30
PRICE = 2500


async def outbox_kinds(shop: LiveServer, order_ids: list[str]) -> dict[str, Counter[str]]:
    """Per order, how many outbox messages of each ``order.*`` kind it has."""
    async with shop.box.db.read() as session:
        rows = (
            await session.execute(
                text(
                    "SELECT payload->>'order_id', kind, count(*) FROM outbox_messages "
                    "WHERE kind LIKE 'order.%' AND payload->>'order_id' = ANY(:ids) GROUP BY 1, 2"
                ),
                {"ids": order_ids},
            )
        ).all()
    kinds: dict[str, Counter[str]] = {order_id: Counter() for order_id in order_ids}
    for order_id, kind, count in rows:
        kinds[order_id][kind] = int(count)
    return kinds


async def snapshot(shop: LiveServer, order_ids: list[str]) -> dict[str, tuple[str, int, list[str]]]:
    result = {}
    for order_id in order_ids:
        order = await lifecycle.get_order(shop.box.db, order_id)
        tickets = sorted(t.status for t in await lifecycle.list_tickets(shop.box.db, order_id))
        result[order_id] = (order.status, order.refunded_cents, tickets)
    return result


async def test_confirm_expire_sweep_and_cancel_all_at_once(shop: LiveServer) -> None:
    box, sandbox = shop.box, shop.box.sandbox
    assert sandbox is not None
    event = await make_event(box.db)
    tt = await make_ticket(box.db, event.id, base_price_cents=PRICE, quantity=ORDERS)
    # Every third order is never paid: only its release races (the webhook, the sweeper, the buyer).
    paid = {i: i % 3 != 2 for i in range(ORDERS)}
    orders: list[Order] = []
    for _ in range(ORDERS):
        placed = await box.payments.place_order(order_request(event.id, (tt.id, 1)))
        assert placed.order.status == "pending" and placed.order.stripe_checkout_session_id
        orders.append(placed.order)
    ids = [o.id for o in orders]
    assert await counters(box.db, tt.id) == (ORDERS, 0, ORDERS)

    sandbox.faults.webhook_paused = True  # the sandbox's own deliveries wait: this test delivers the events
    try:
        completed: dict[str, dict[str, Any]] = {}
        intent_paid: dict[str, dict[str, Any]] = {}
        for i, order in enumerate(orders):
            assert order.stripe_checkout_session_id
            if paid[i]:
                await sandbox.complete_session(order.stripe_checkout_session_id, "pay")
                completed[order.id] = sandbox_event(
                    shop, order.stripe_checkout_session_id, "checkout.session.completed"
                )
                pi = completed[order.id]["data"]["object"]["payment_intent"]
                intent_paid[order.id] = sandbox_event(shop, pi, "payment_intent.succeeded")
        # Every hold has ended (the sweeper may take them all), as has the buyers' patience.
        async with box.db.transaction() as session:
            await session.execute(
                update(Order).where(Order.id.in_(ids)).values(expires_at=utcnow() - timedelta(seconds=1))
            )

        async def walk_in() -> str:
            try:
                await reservations.reserve(box.db, order_request(event.id, (tt.id, 1)))
                return "held"
            except SoldOut:
                return "sold_out"

        racers: list[Awaitable[Any]] = []
        for i, order in enumerate(orders):
            session_obj = sandbox.session(order.stripe_checkout_session_id or "")
            expired = made_event("checkout.session.expired", session_obj, status="expired", url=None)
            racers += [
                deliver(shop, expired),
                lifecycle.release_expired_holds(box.db, ticket_type_ids=[tt.id]),
                box.payments.cancel_pending(order.id),
            ]
            if paid[i]:
                racers += [deliver(shop, completed[order.id]), deliver(shop, intent_paid[order.id])]
        racers += [walk_in() for _ in range(WALK_INS)]
        random.Random(20261201).shuffle(racers)
        results = await asyncio.gather(*racers, return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        assert errors == []
        walk_ins = Counter(r for r in results if r in ("held", "sold_out"))
        assert sum(walk_ins.values()) == WALK_INS

        final = await snapshot(shop, ids)
        kinds = await outbox_kinds(shop, ids)
        sold = 0
        ends: Counter[str] = Counter()
        for i, order in enumerate(orders):
            status, refunded, tickets = final[order.id]
            messages = kinds[order.id]
            assert messages["order.created"] == 1
            assert status != "pending", f"order {order.id} stranded pending"
            if paid[i]:
                pi = completed[order.id]["data"]["object"]["payment_intent"]
                charge = sandbox.charge(sandbox.payment_intent(pi)["latest_charge"])
                current = await lifecycle.get_order(box.db, order.id)
                assert current.stripe_payment_intent_id == pi
                if status == "confirmed":
                    # on time, or late with the tickets still there: sold once, tickets issued once, no refund
                    sold += 1
                    assert (refunded, tickets, charge["amount_refunded"]) == (0, ["valid"], 0)
                    assert messages["order.confirmed"] == 1 and messages["order.refunded"] == 0
                    released = messages["order.expired"] + messages["order.canceled"]
                    assert released in (0, 1)  # released once before the late payment took the ticket again
                    ends["confirmed_late" if released else "confirmed"] += 1
                else:
                    # paid after the hold ended with the ticket gone: refunded in full, exactly once
                    assert status == "refunded", final[order.id]
                    assert (refunded, tickets, charge["amount_refunded"]) == (PRICE, [], PRICE)
                    assert current.failure_reason and "refunded" in current.failure_reason
                    assert messages["order.confirmed"] == 0 and messages["order.refunded"] == 1
                    assert messages["order.expired"] + messages["order.canceled"] == 1
                    refunds_at_stripe = [r for r in sandbox.refunds.values() if r["payment_intent"] == pi]
                    assert len(refunds_at_stripe) == 1
                    ends["refunded"] += 1
            else:
                assert status in ("expired", "canceled"), final[order.id]
                assert (refunded, tickets) == (0, [])
                assert messages["order.confirmed"] == 0
                assert messages["order.expired"] + messages["order.canceled"] == 1
                ends[status] += 1
        held = walk_ins["held"]
        assert await counters(box.db, tt.id) == (ORDERS, sold, held)
        assert sold + held <= ORDERS
        # a walk-in got a ticket only if a released one was free: the paid orders that lost theirs are exactly the
        # ones whose ticket a walk-in (or nobody) took
        assert ends["refunded"] <= held
        async with box.db.read() as session:
            pending_walk_ins = await session.scalar(
                text("SELECT count(*) FROM orders o WHERE o.event_id = :e AND o.status = 'pending'"), {"e": event.id}
            )
        assert pending_walk_ins == held
    finally:
        sandbox.faults.webhook_paused = False

    # The sandbox now delivers its own copies (completed, intent succeeded, the auto-refunds' charge.refunded, the
    # sessions the buyers' cancel expired): duplicates and stale news, which change nothing.
    await sandbox.wait_for_deliveries(timeout=60)
    assert await snapshot(shop, ids) == final
    assert await outbox_kinds(shop, ids) == kinds
    assert await counters(box.db, tt.id) == (ORDERS, sold, held)


async def test_a_buyer_cancel_that_read_pending_never_cancels_the_payment_that_confirmed_meanwhile(
    shop: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The window of the race above, made certain: the cancel read the order pending, the payment's webhook
    confirmed it before the cancel's transition. The order stays confirmed (paid, tickets valid, sold once)."""
    box, sandbox = shop.box, shop.box.sandbox
    assert sandbox is not None
    event = await make_event(box.db)
    tt = await make_ticket(box.db, event.id, base_price_cents=PRICE, quantity=3)
    placed = await box.payments.place_order(order_request(event.id, (tt.id, 1)))
    session_id = placed.order.stripe_checkout_session_id
    assert session_id
    sandbox.faults.webhook_paused = True
    try:
        await sandbox.complete_session(session_id, "pay")
        paid_event = sandbox_event(shop, session_id, "checkout.session.completed")
        read_order = lifecycle.get_order

        async def read_then_pay(db: Any, order_id: str, **kw: Any) -> Order:
            order = await read_order(db, order_id, **kw)
            monkeypatch.undo()  # only the cancel's own read is followed by the payment
            assert order.status == "pending"
            assert (await deliver(shop, paid_event)).outcome.startswith("confirmed")
            return order

        monkeypatch.setattr(payments_service, "get_order", read_then_pay)
        result = await box.payments.cancel_pending(placed.order.id)
    finally:
        sandbox.faults.webhook_paused = False
    assert (result.changed, result.status) == (False, "confirmed")
    order = await lifecycle.get_order(box.db, placed.order.id)
    assert (order.status, order.refunded_cents, order.canceled_at) == ("confirmed", 0, None)
    assert [t.status for t in await lifecycle.list_tickets(box.db, order.id)] == ["valid"]
    assert await counters(box.db, tt.id) == (3, 1, 0)
    assert (await outbox_kinds(shop, [order.id]))[order.id] == Counter({"order.created": 1, "order.confirmed": 1})
    await sandbox.wait_for_deliveries(timeout=30)
    assert (await lifecycle.get_order(box.db, order.id)).status == "confirmed"
    assert await counters(box.db, tt.id) == (3, 1, 0)
