"""Vouchers and short holds through Stripe Checkout (the official SDK against the local sandbox): the discounted
amounts per line and in total, the code named on its lines, refunds of what was paid; a hold shorter than Stripe's
30-minute minimum closes its Checkout Session when it ends, and a payment completing in the same moment goes through
the paid-after-expiry path."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from boxoffice.errors import InvalidInput
from boxoffice.events import service as events
from boxoffice.payments import closures
from boxoffice.ticketing import voucher_codes
from boxoffice.ticketing.orders import get_order
from boxoffice.ticketing.refunds import list_refunds
from tests.helpers import counters, eventually, make_event, make_ticket, order_request, order_status
from tests.server import LiveServer


async def test_checkout_charges_the_discounted_lines_and_names_the_code(shop: LiveServer) -> None:
    box, sandbox = shop.box, shop.box.sandbox
    assert sandbox is not None
    event = await make_event(box.db, title="Voucher Night")
    ga = await make_ticket(box.db, event.id, title="GA", base_price_cents=2500, tippable=True)
    vip = await make_ticket(box.db, event.id, title="VIP", base_price_cents=9999)
    flex = await make_ticket(
        box.db,
        event.id,
        title="Supporter",
        pricing_model="flexible",
        minimum_price_cents=1000,
        suggested_price_cents=3000,
    )
    await voucher_codes.create_vouchers(
        box.db, event.id, {"code": "Friends15", "discount": {"percent": 15}, "ticket_ids": [ga.id, vip.id, flex.id]}
    )
    request = order_request(event.id, (ga.id, 2), (vip.id, 1), (flex.id, 1, 1100), tip_cents=250)
    placed = await box.payments.place_order(dataclasses.replace(request, voucher="friends15"))
    order = placed.order
    # 2500 - 375 = 2125; 9999 - 1499 (1499.85 rounded down) = 8500; 1100 - 165 = 935, kept at the minimum 1000
    assert [line.unit_prices for line in order.lines] == [[2125, 2125], [8500], [1000]]
    assert order.total_cents == 2 * 2125 + 8500 + 1000 + 250
    assert order.stripe_checkout_session_id
    session = sandbox.session(order.stripe_checkout_session_id)
    assert (session["amount_subtotal"], session["amount_total"]) == (order.total_cents, order.total_cents)
    items = sandbox.line_items[order.stripe_checkout_session_id]
    assert sorted((i["quantity"], i["price"]["unit_amount"]) for i in items) == [
        (1, 250),
        (1, 1000),
        (1, 8500),
        (2, 2125),
    ]
    assert sum(i["amount_total"] for i in items) == order.total_cents
    params = await box.payments.checkout_params(order)
    described = {
        i["price_data"]["product_data"]["name"]: i["price_data"]["product_data"].get("description")
        for i in params["line_items"]
    }
    assert described["GA"].startswith("Code Friends15: $25.00, now $21.25 each")
    assert described["VIP"].startswith("Code Friends15: $99.99, now $85.00 each")
    assert described["Supporter"].startswith("Code Friends15: $11.00, now $10.00 each")
    assert "Code" not in described["Tip"]


async def test_a_discounted_order_refunds_what_was_paid_never_more(shop: LiveServer) -> None:
    box, sandbox = shop.box, shop.box.sandbox
    assert sandbox is not None
    event = await make_event(box.db)
    tt = await make_ticket(box.db, event.id, quantity=5, base_price_cents=4000)
    await voucher_codes.create_vouchers(box.db, event.id, {"code": "HALF", "discount": {"percent": 50}})
    placed = await box.payments.place_order(dataclasses.replace(order_request(event.id, (tt.id, 2)), voucher="half"))
    order_id, session_id = placed.order.id, placed.order.stripe_checkout_session_id
    assert session_id is not None and placed.order.total_cents == 4000
    await sandbox.complete_session(session_id, "pay")

    async def confirmed() -> bool:
        return await order_status(box.db, order_id) == "confirmed"

    await eventually(confirmed)
    with pytest.raises(InvalidInput) as too_much:
        await box.payments.refund(order_id, 4001)
    assert too_much.value.errors[0].amount("remaining_cents") == 4000
    refund = await box.payments.refund(order_id)
    assert refund.amount_cents == 4000
    intent = sandbox.payment_intent((await get_order(box.db, order_id)).stripe_payment_intent_id or "")
    assert sandbox.charge(intent["latest_charge"])["amount_refunded"] == 4000
    assert [r.amount_cents for r in await list_refunds(box.db, order_id)] == [4000]


async def short_hold_order(shop: LiveServer, quantity: int = 1) -> tuple[str, str, str]:
    box = shop.box
    event = await make_event(box.db)
    await events.update_event(box.db, event.id, events.EventInput(hold_minutes=5))
    tt = await make_ticket(box.db, event.id, quantity=quantity)
    placed = await box.payments.place_order(order_request(event.id, (tt.id, 1)))
    assert placed.order.stripe_checkout_session_id is not None
    return tt.id, placed.order.id, placed.order.stripe_checkout_session_id


async def test_a_short_hold_closes_its_checkout_session_when_it_ends(shop: LiveServer) -> None:
    box, sandbox = shop.box, shop.box.sandbox
    assert sandbox is not None
    tt_id, order_id, session_id = await short_hold_order(shop)
    order = await get_order(box.db, order_id)
    assert timedelta(minutes=4) < order.expires_at - order.created_at <= timedelta(minutes=5)
    session = sandbox.session(session_id)
    assert session["expires_at"] - order.created_at.timestamp() >= 30 * 60  # Stripe's minimum, kept
    assert await closures.close_due(box.db, box.gateway) == []  # not yet
    closed = await closures.close_due(box.db, box.gateway, now=order.expires_at + timedelta(seconds=1))
    assert [(c.order_id, c.outcome) for c in closed] == [(order_id, "expired")]
    assert sandbox.session(session_id)["status"] == "expired"
    assert await order_status(box.db, order_id) == "expired"
    assert await counters(box.db, tt_id) == (1, 0, 0)
    # done once: a later round has nothing to close
    assert await closures.close_due(box.db, box.gateway, now=order.expires_at + timedelta(minutes=1)) == []


@pytest.mark.parametrize("tickets_left", [True, False])
async def test_a_payment_in_the_same_moment_takes_the_paid_after_expiry_path(
    shop: LiveServer, tickets_left: bool
) -> None:
    box, sandbox = shop.box, shop.box.sandbox
    assert sandbox is not None
    tt_id, order_id, session_id = await short_hold_order(shop)
    order = await get_order(box.db, order_id)
    sandbox.faults.webhook_paused = True  # the payment completes; its webhook is still on its way
    try:
        await sandbox.complete_session(session_id, "pay")
        closed = await closures.close_due(box.db, box.gateway, now=order.expires_at + timedelta(seconds=1))
        assert [(c.order_id, c.outcome) for c in closed] == [(order_id, "not open")]
        assert await order_status(box.db, order_id) == "expired"
        if not tickets_left:  # someone bought the ticket the hold gave back
            await box.payments.reserve(order_request(order.event_id, (tt_id, 1)))
    finally:
        sandbox.faults.webhook_paused = False
    sandbox.retry_deliveries()
    expected = "confirmed" if tickets_left else "refunded"

    async def settled() -> bool:
        return await order_status(box.db, order_id) == expected

    await eventually(settled)
    assert await counters(box.db, tt_id) == ((1, 1, 0) if tickets_left else (1, 0, 1))
