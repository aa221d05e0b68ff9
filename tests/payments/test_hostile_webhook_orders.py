"""Stripe's events in hostile orders (the sandbox's own events, held back and delivered by the test, correctly signed):
a refund reported before the payment it refunds, a payment arriving after the buyer canceled or after the order
failed, all of a late payment's events at once. The order ends confirmed or refunded, never both, never stranded
pending, and ``refunded_cents`` is exactly what Stripe refunded."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import text

from boxoffice.ticketing import orders as lifecycle
from boxoffice.ticketing import reserve as reservations
from boxoffice.ticketing.models import Order
from tests.helpers import counters, make_event, make_ticket, order_request
from tests.payments.signed_events import deliver, sandbox_event
from tests.server import LiveServer

pytestmark = pytest.mark.postgres

PRICE = 1500


@pytest.fixture
async def paused(shop: LiveServer) -> AsyncIterator[LiveServer]:
    """The shop with the sandbox's webhook deliveries held: the test delivers the events itself."""
    assert shop.box.sandbox is not None
    shop.box.sandbox.faults.webhook_paused = True
    try:
        yield shop
    finally:
        shop.box.sandbox.faults.webhook_paused = False


async def placed(shop: LiveServer, *, quantity: int = 2, available: int = 10) -> tuple[Order, str]:
    event = await make_event(shop.box.db)
    tt = await make_ticket(shop.box.db, event.id, base_price_cents=PRICE, quantity=available)
    order = (await shop.box.payments.place_order(order_request(event.id, (tt.id, quantity)))).order
    assert order.status == "pending" and order.stripe_checkout_session_id
    return order, tt.id


async def pay(shop: LiveServer, order: Order) -> dict[str, dict[str, Any]]:
    """The buyer pays at the sandbox; returns its events (not delivered yet) by type."""
    assert shop.box.sandbox is not None and order.stripe_checkout_session_id
    session = await shop.box.sandbox.complete_session(order.stripe_checkout_session_id, "pay")
    pi = session["payment_intent"]
    charge = shop.box.sandbox.payment_intent(pi)["latest_charge"]
    return {
        "checkout.session.completed": sandbox_event(shop, session["id"], "checkout.session.completed"),
        "payment_intent.succeeded": sandbox_event(shop, pi, "payment_intent.succeeded"),
        "charge.succeeded": sandbox_event(shop, charge, "charge.succeeded"),
    }


def stripe_refunded(shop: LiveServer, events: dict[str, dict[str, Any]]) -> int:
    assert shop.box.sandbox is not None
    pi = events["payment_intent.succeeded"]["data"]["object"]["id"]
    return int(shop.box.sandbox.charge(shop.box.sandbox.payment_intent(pi)["latest_charge"])["amount_refunded"])


def refund_at_stripe(shop: LiveServer, events: dict[str, dict[str, Any]], amount: int | None) -> dict[str, Any]:
    """A refund made in Stripe's dashboard; returns its (undelivered) charge.refunded event."""
    assert shop.box.sandbox is not None
    pi = events["payment_intent.succeeded"]["data"]["object"]["id"]
    shop.box.sandbox.create_refund({"payment_intent": pi} | ({"amount": amount} if amount else {}))
    return sandbox_event(shop, shop.box.sandbox.payment_intent(pi)["latest_charge"], "charge.refunded")


async def kinds(shop: LiveServer, order_id: str) -> Counter[str]:
    async with shop.box.db.read() as session:
        rows = await session.execute(
            text("SELECT kind FROM outbox_messages WHERE kind LIKE 'order.%' AND payload->>'order_id' = :o"),
            {"o": order_id},
        )
        return Counter(kind for (kind,) in rows)


async def state(shop: LiveServer, order_id: str) -> tuple[str, int, list[str]]:
    order = await lifecycle.get_order(shop.box.db, order_id)
    tickets = sorted(t.status for t in await lifecycle.list_tickets(shop.box.db, order_id))
    return order.status, order.refunded_cents, tickets


async def settle(shop: LiveServer) -> None:
    """Let the sandbox deliver what it held (the same events again, and the refunds' own): nothing may change."""
    assert shop.box.sandbox is not None
    shop.box.sandbox.faults.webhook_paused = False
    await shop.box.sandbox.wait_for_deliveries(timeout=60)


# -- a refund before the payment's own events ------------------------------------------------------------------


async def test_a_partial_refund_reported_before_the_payment(paused: LiveServer) -> None:
    order, tt_id = await placed(paused)
    events = await pay(paused, order)
    refunded = refund_at_stripe(paused, events, 1000)
    first = await deliver(paused, refunded)
    assert "partially_refunded" in first.outcome
    for kind in ("checkout.session.completed", "payment_intent.succeeded", "charge.succeeded"):
        assert not (await deliver(paused, events[kind])).outcome.startswith("confirmed")
    assert await state(paused, order.id) == ("partially_refunded", 1000, ["valid", "valid"])
    assert await counters(paused.box.db, tt_id) == (10, 2, 0)
    assert await kinds(paused, order.id) == {"order.created": 1, "order.confirmed": 1, "order.partially_refunded": 1}
    await settle(paused)
    assert await state(paused, order.id) == ("partially_refunded", 1000, ["valid", "valid"])
    assert await counters(paused.box.db, tt_id) == (10, 2, 0)


async def test_a_full_refund_reported_before_the_payment(paused: LiveServer) -> None:
    order, tt_id = await placed(paused)
    events = await pay(paused, order)
    refunded = refund_at_stripe(paused, events, None)
    assert "refunded" in (await deliver(paused, refunded)).outcome
    for kind in ("payment_intent.succeeded", "checkout.session.completed"):
        await deliver(paused, events[kind])
    # paid and refunded in full: the tickets went back to sale and nothing confirmed the order again
    assert await state(paused, order.id) == ("refunded", 3000, ["void", "void"])
    assert await counters(paused.box.db, tt_id) == (10, 0, 0)
    assert (await kinds(paused, order.id))["order.refunded"] == 1
    await settle(paused)
    assert await state(paused, order.id) == ("refunded", 3000, ["void", "void"])
    assert await counters(paused.box.db, tt_id) == (10, 0, 0)


async def test_a_full_refund_reported_first_for_an_expired_order_whose_tickets_are_gone(paused: LiveServer) -> None:
    """The hold ended, someone else bought the tickets, the buyer's payment was refunded in Stripe's dashboard and
    charge.refunded is the first event to arrive: the order records the refund (nothing more to refund)."""
    order, tt_id = await placed(paused, quantity=2, available=2)
    events = await pay(paused, order)
    assert (await lifecycle.expire_order(paused.box.db, order.id, force=True)).status == "expired"
    other = await reservations.reserve(paused.box.db, order_request(order.event_id, (tt_id, 2)))
    refunded = refund_at_stripe(paused, events, None)
    await deliver(paused, refunded)
    for kind in ("checkout.session.completed", "payment_intent.succeeded"):
        await deliver(paused, events[kind])
    assert await state(paused, order.id) == ("refunded", 3000, [])
    assert stripe_refunded(paused, events) == 3000
    assert await counters(paused.box.db, tt_id) == (2, 0, 2)
    assert (await lifecycle.get_order(paused.box.db, other.id)).status == "pending"
    assert (await kinds(paused, order.id))["order.confirmed"] == 0
    await settle(paused)
    assert await state(paused, order.id) == ("refunded", 3000, [])
    assert stripe_refunded(paused, events) == 3000


async def test_a_partial_refund_reported_first_for_an_expired_order_whose_tickets_are_gone(
    paused: LiveServer,
) -> None:
    """As above with a partial refund: the rest of the payment is refunded automatically, once."""
    order, tt_id = await placed(paused, quantity=2, available=2)
    events = await pay(paused, order)
    assert (await lifecycle.expire_order(paused.box.db, order.id, force=True)).status == "expired"
    await reservations.reserve(paused.box.db, order_request(order.event_id, (tt_id, 2)))
    await deliver(paused, refund_at_stripe(paused, events, 1000))
    for kind in ("checkout.session.completed", "payment_intent.succeeded"):
        await deliver(paused, events[kind])
    assert await state(paused, order.id) == ("refunded", 3000, [])
    assert stripe_refunded(paused, events) == 3000
    assert await counters(paused.box.db, tt_id) == (2, 0, 2)
    await settle(paused)
    assert await state(paused, order.id) == ("refunded", 3000, [])
    assert stripe_refunded(paused, events) == 3000


# -- a payment after a cancel or a failure ---------------------------------------------------------------------


@pytest.mark.parametrize("ended_by", ["buyer_cancel", "failure"])
@pytest.mark.parametrize("tickets_left", [True, False])
async def test_a_payment_after_the_order_ended(paused: LiveServer, ended_by: str, tickets_left: bool) -> None:
    order, tt_id = await placed(paused, quantity=2, available=2)
    events = await pay(paused, order)
    if ended_by == "buyer_cancel":
        ended = await paused.box.payments.cancel_pending(order.id)  # Stripe refuses to expire the paid session
    else:
        ended = await lifecycle.fail_order(paused.box.db, order.id, reason="the delayed payment failed")
    assert ended.changed and ended.status in ("canceled", "failed")
    assert await counters(paused.box.db, tt_id) == (2, 0, 0)
    if not tickets_left:
        await reservations.reserve(paused.box.db, order_request(order.event_id, (tt_id, 1)))
    for kind in ("payment_intent.succeeded", "checkout.session.completed", "charge.succeeded"):
        await deliver(paused, events[kind])
    seen = await kinds(paused, order.id)
    if tickets_left:
        assert await state(paused, order.id) == ("confirmed", 0, ["valid", "valid"])
        assert stripe_refunded(paused, events) == 0
        assert await counters(paused.box.db, tt_id) == (2, 2, 0)
        assert (seen["order.confirmed"], seen["order.refunded"]) == (1, 0)
    else:
        assert await state(paused, order.id) == ("refunded", 3000, [])
        assert stripe_refunded(paused, events) == 3000
        assert await counters(paused.box.db, tt_id) == (2, 0, 1)
        assert (seen["order.confirmed"], seen["order.refunded"]) == (0, 1)
    before = (await state(paused, order.id), await counters(paused.box.db, tt_id), stripe_refunded(paused, events))
    await settle(paused)
    after = (await state(paused, order.id), await counters(paused.box.db, tt_id), stripe_refunded(paused, events))
    assert after == before
    assert await kinds(paused, order.id) == seen


async def test_every_event_of_a_late_payment_at_once_refunds_it_once(paused: LiveServer) -> None:
    """Expired, tickets gone, and the session completed, the intent succeeded and the charge succeeded delivered
    together (twice each, as Stripe may): one refund of the whole amount at Stripe, recorded once. A delivery that
    fails is retried, as Stripe retries a 5xx."""
    order, tt_id = await placed(paused, quantity=2, available=2)
    events = await pay(paused, order)
    await lifecycle.expire_order(paused.box.db, order.id, force=True)
    await reservations.reserve(paused.box.db, order_request(order.event_id, (tt_id, 2)))
    batch = [e for e in events.values() for _ in range(2)]
    results = await asyncio.gather(*(deliver(paused, e) for e in batch), return_exceptions=True)
    for event, result in zip(batch, results, strict=True):
        if isinstance(result, BaseException):
            await deliver(paused, event)  # Stripe's retry
    assert await state(paused, order.id) == ("refunded", 3000, [])
    assert stripe_refunded(paused, events) == 3000
    assert paused.box.sandbox is not None
    pi = events["payment_intent.succeeded"]["data"]["object"]["id"]
    assert len([r for r in paused.box.sandbox.refunds.values() if r["payment_intent"] == pi]) == 1
    assert (await kinds(paused, order.id))["order.refunded"] == 1
    assert await counters(paused.box.db, tt_id) == (2, 0, 2)
