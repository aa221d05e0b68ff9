"""Money paths that a review found unproven: two partial refunds before Stripe's webhook, refunds racing each other,
a retried refund, a refund whose answer was lost, and a buyer's retry after the order committed but the request
died (PostgreSQL, the official SDK against the sandbox, over real HTTP)."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import httpx
import pytest

from boxoffice.accounts.service import create_api_key
from boxoffice.payments import service as payments_service
from boxoffice.ticketing import refunds, tokens
from boxoffice.ticketing.orders import get_order, list_orders
from boxoffice.ticketing.plan import LineRequest, OrderRequest
from boxoffice.ticketing.ticket_types import get_ticket_type
from tests.helpers import eventually, make_event, make_ticket, order_status, unique_email
from tests.server import LiveServer


async def paid_order(shop: LiveServer, *, price: int = 3000, quantity: int = 1) -> tuple[str, str, dict[str, str]]:
    """A confirmed order of ``price`` and an API key of its organizer: (order id, payment intent id, auth)."""
    organizer = unique_email("org")
    event = await make_event(shop.box.db, organizer=organizer)
    tt = await make_ticket(shop.box.db, event.id, base_price_cents=price, quantity=10)
    _, key = await create_api_key(shop.box.db, organizer)
    placed = await shop.box.payments.place_order(
        OrderRequest(event_id=event.id, email=unique_email(), lines=[LineRequest(tt.id, quantity)])
    )
    assert shop.box.sandbox is not None and placed.order.stripe_checkout_session_id
    await shop.box.sandbox.complete_session(placed.order.stripe_checkout_session_id, "pay")

    async def confirmed() -> str | None:
        order = await get_order(shop.box.db, placed.order.id)
        return order.stripe_payment_intent_id if order.status == "confirmed" else None

    intent = await eventually(confirmed)
    return placed.order.id, intent, {"Authorization": f"Bearer {key}"}


def refunded_at_stripe(shop: LiveServer, intent: str) -> int:
    assert shop.box.sandbox is not None
    charge = shop.box.sandbox.payment_intent(intent)["latest_charge"]
    return int(shop.box.sandbox.charge(charge)["amount_refunded"])


async def refund(shop: LiveServer, order_id: str, auth: dict[str, str], body: dict[str, Any], **headers: str) -> Any:
    return await shop.client.post(f"/api/v1/orders/{order_id}/refunds", json=body, headers=auth | headers)


async def test_two_partial_refunds_before_the_webhook_both_move_money(shop: LiveServer) -> None:
    order_id, intent, auth = await paid_order(shop)
    assert shop.box.sandbox is not None
    shop.box.sandbox.faults.webhook_paused = True  # charge.refunded has not arrived when the second refund is asked
    try:
        first = await refund(shop, order_id, auth, {"amount_cents": 1000})
        second = await refund(shop, order_id, auth, {"amount_cents": 1000})
        assert first.status_code == second.status_code == 202, (first.text, second.text)
        assert first.json()["refund_id"] != second.json()["refund_id"]
        assert refunded_at_stripe(shop, intent) == 2000
        # 1000 is left: asking 1001 changes nothing, at Stripe or here
        over = await refund(shop, order_id, auth, {"amount_cents": 1001})
        assert over.status_code == 422 and over.json()["errors"][0]["field"] == "amount_cents"
        # quoted as the organizer sees money, the integer beside it for programs
        assert (
            "$10.00 not yet refunded" in over.json()["detail"] and over.json()["errors"][0]["remaining_cents"] == 1000
        )
        rest = await refund(shop, order_id, auth, {})
        assert rest.status_code == 202 and rest.json()["amount_cents"] == 1000
        nothing = await refund(shop, order_id, auth, {})
        assert nothing.status_code == 409
        assert refunded_at_stripe(shop, intent) == 3000
    finally:
        shop.box.sandbox.faults.webhook_paused = False
    assert await eventually(lambda: _status_is(shop, order_id, "refunded"))
    order = await get_order(shop.box.db, order_id)
    assert order.refunded_cents == 3000
    assert [(r.amount_cents, r.status) for r in await refunds.list_refunds(shop.box.db, order_id)] == [
        (1000, "succeeded"),
        (1000, "succeeded"),
        (1000, "succeeded"),
    ]


async def _status_is(shop: LiveServer, order_id: str, status: str) -> bool:
    return await order_status(shop.box.db, order_id) == status


async def test_a_retried_refund_with_its_idempotency_key_is_the_same_refund(shop: LiveServer) -> None:
    order_id, intent, auth = await paid_order(shop)
    first = await refund(shop, order_id, auth, {"amount_cents": 700}, **{"Idempotency-Key": "refund-1"})
    again = await refund(shop, order_id, auth, {"amount_cents": 700}, **{"Idempotency-Key": "refund-1"})
    assert first.status_code == again.status_code == 202
    assert first.json() == again.json()
    assert refunded_at_stripe(shop, intent) == 700
    other = await refund(shop, order_id, auth, {"amount_cents": 800}, **{"Idempotency-Key": "refund-1"})
    assert other.status_code == 422 and other.json()["errors"][0]["field"] == "Idempotency-Key"
    # the same key on another order is another refund
    other_order, other_intent, other_auth = await paid_order(shop)
    elsewhere = await refund(shop, other_order, other_auth, {"amount_cents": 700}, **{"Idempotency-Key": "refund-1"})
    assert elsewhere.status_code == 202 and refunded_at_stripe(shop, other_intent) == 700
    assert refunded_at_stripe(shop, intent) == 700


async def test_concurrent_refunds_never_refund_more_than_was_paid(shop: LiveServer) -> None:
    order_id, intent, auth = await paid_order(shop)
    answers = await asyncio.gather(*(refund(shop, order_id, auth, {"amount_cents": 1000}) for _ in range(8)))
    assert sorted(a.status_code for a in answers).count(202) == 3
    assert all(a.status_code in (202, 409, 422) for a in answers)
    assert refunded_at_stripe(shop, intent) == 3000

    # a full and a partial refund at once: the full one refunds whatever is left when its turn comes (all of it, or
    # the 1 the partial one left), the partial one fits or is refused; never more than was paid
    order_id, intent, auth = await paid_order(shop)
    full, part = await asyncio.gather(
        refund(shop, order_id, auth, {}), refund(shop, order_id, auth, {"amount_cents": 2999})
    )
    assert full.status_code == 202
    if part.status_code == 202:  # the partial one went first
        assert (part.json()["amount_cents"], full.json()["amount_cents"]) == (2999, 1)
    else:
        assert part.status_code in (409, 422) and full.json()["amount_cents"] == 3000
    assert refunded_at_stripe(shop, intent) == 3000


async def test_a_refund_racing_charge_refunded_ends_exact(shop: LiveServer) -> None:
    """Refunds asked while charge.refunded events of earlier ones arrive: the order ends with what Stripe refunded."""
    order_id, intent, auth = await paid_order(shop, price=2000, quantity=2)  # 4000
    results = []
    for _ in range(4):
        results.append(await refund(shop, order_id, auth, {"amount_cents": 1000}))
        await asyncio.sleep(0)  # let webhooks interleave
    assert [r.status_code for r in results] == [202] * 4
    assert await eventually(lambda: _status_is(shop, order_id, "refunded"))
    order = await get_order(shop.box.db, order_id)
    assert order.refunded_cents == refunded_at_stripe(shop, intent) == 4000


async def test_a_refund_stripe_never_answered_is_sent_again_once(shop: LiveServer) -> None:
    order_id, intent, auth = await paid_order(shop)
    assert shop.box.sandbox is not None
    shop.box.sandbox.faults.fail_next = 10  # Stripe down for every retry of the SDK
    try:
        down = await refund(shop, order_id, auth, {"amount_cents": 1200})
    finally:
        shop.box.sandbox.faults.fail_next = 0
    assert down.status_code == 503 and down.headers["content-type"].startswith("application/problem+json")
    assert refunded_at_stripe(shop, intent) == 0
    (recorded,) = await refunds.list_refunds(shop.box.db, order_id)
    assert recorded.status == "requested"
    # it counts against what is left while unanswered: no double refund by asking again
    assert (await refund(shop, order_id, auth, {"amount_cents": 1900})).status_code == 422
    assert await shop.box.payments.resend_unanswered_refunds(older_than=timedelta(0)) == 1
    assert await shop.box.payments.resend_unanswered_refunds(older_than=timedelta(0)) == 0
    assert refunded_at_stripe(shop, intent) == 1200
    (sent,) = await refunds.list_refunds(shop.box.db, order_id)
    assert sent.status == "succeeded" and sent.stripe_refund_id


async def test_a_refund_stripe_refuses_is_recorded_failed_and_frees_its_amount(shop: LiveServer) -> None:
    order_id, intent, auth = await paid_order(shop)
    assert shop.box.sandbox is not None
    # refunded in Stripe's dashboard behind our back, webhook not yet here: Stripe refuses what we think is left
    shop.box.sandbox.faults.webhook_paused = True
    try:
        shop.box.sandbox.create_refund({"payment_intent": intent, "amount": 2500})
        refused = await refund(shop, order_id, auth, {"amount_cents": 1000})
        assert refused.status_code == 502 and "Stripe refused" in refused.json()["detail"], refused.text
        (failed,) = await refunds.list_refunds(shop.box.db, order_id)
        assert failed.status == "failed" and failed.failure_reason
        assert refunded_at_stripe(shop, intent) == 2500
    finally:
        shop.box.sandbox.faults.webhook_paused = False
    assert await eventually(lambda: _status_is(shop, order_id, "partially_refunded"))
    ok = await refund(shop, order_id, auth, {"amount_cents": 500})
    assert ok.status_code == 202 and refunded_at_stripe(shop, intent) == 3000


# -- a buyer's retry after a crash -------------------------------------------------------------------------------


def order_body(ticket_id: str, email: str) -> dict[str, Any]:
    return {"email": email, "name": "Retry", "lines": [{"ticket_id": ticket_id, "quantity": 2}]}


async def post_order(shop: LiveServer, event_id: str, body: dict[str, Any], key: str) -> httpx.Response:
    return await shop.client.post(
        f"/api/v1/events/{event_id}/orders",
        content=json.dumps(body),
        headers={"Content-Type": "application/json", "Idempotency-Key": key},
    )


async def test_a_retry_after_the_order_committed_gets_that_order_and_its_checkout(
    shop: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = await make_event(shop.box.db)
    tt = await make_ticket(shop.box.db, event.id, quantity=5)
    body = order_body(tt.id, unique_email())
    key = "0b7d8e0c-5f7e-4d7e-9b1e-7a1f0c2d3e4f"
    # The first request reserved (committed) and died before creating the Checkout Session or answering.
    request = OrderRequest(
        event_id=event.id,
        email=body["email"],
        name=body["name"],
        lines=[LineRequest(tt.id, 2)],
        idempotency_key=tokens.idempotency_ref(f"orders:{event.id}", key),
        fingerprint=tokens.fingerprint(json.dumps(body).encode()),
    )
    crashed = (await shop.box.payments.reserve_once_per_key(request)).order
    assert crashed.status == "pending" and crashed.stripe_checkout_session_id is None

    # Right away, the first request may still be running: come back shortly, nothing is created twice
    soon = await post_order(shop, event.id, body, key)
    assert soon.status_code == 409 and int(soon.headers["retry-after"]) >= 1
    assert soon.headers["content-type"].startswith("application/problem+json") and "token" not in soon.json()

    monkeypatch.setattr(payments_service, "REPLAY_GRACE", timedelta(0))
    retry = await post_order(shop, event.id, body, key)
    assert retry.status_code == 201, retry.text
    data = retry.json()
    assert data["id"] == crashed.id and retry.headers["idempotent-replayed"] == "true"
    assert data["checkout_url"] and data["token"] == shop.box.payments.order_token(crashed)
    again = await post_order(shop, event.id, body, key)
    assert again.json()["checkout_url"] == data["checkout_url"]  # one Checkout Session, whatever the retries
    assert shop.box.sandbox is not None
    assert len([s for s in shop.box.sandbox.list_sessions() if s["client_reference_id"] == crashed.id]) == 1
    assert len(await list_orders(shop.box.db, event.id)) == 1

    # the token opens the order; the same key with another body (a guess with another email) gets nothing
    seen = await shop.client.get(f"/api/v1/orders/{crashed.id}", headers={"Authorization": f"Bearer {data['token']}"})
    assert seen.status_code == 200
    guessed = await post_order(shop, event.id, order_body(tt.id, "attacker@example.com"), key)
    assert guessed.status_code == 422 and data["token"] not in guessed.text and crashed.id not in guessed.text
    assert len(await list_orders(shop.box.db, event.id)) == 1


async def test_concurrent_retries_with_one_key_make_one_order(shop: LiveServer) -> None:
    event = await make_event(shop.box.db)
    tt = await make_ticket(shop.box.db, event.id, quantity=50)
    body = order_body(tt.id, unique_email())
    answers = await asyncio.gather(*(post_order(shop, event.id, body, "same-key-burst-0001") for _ in range(12)))
    assert all(a.status_code in (201, 409) for a in answers), [a.text for a in answers]
    assert len({a.json()["id"] for a in answers if a.status_code == 201}) == 1
    assert all("retry-after" in a.headers for a in answers if a.status_code == 409)
    orders = await list_orders(shop.box.db, event.id)
    assert len(orders) == 1
    tt_now = await get_ticket_type(shop.box.db, tt.id)
    assert tt_now.held_count == 2  # the losers took nothing


async def test_a_key_whose_checkout_could_not_start_may_order_again(shop: LiveServer) -> None:
    event = await make_event(shop.box.db)
    tt = await make_ticket(shop.box.db, event.id, quantity=5)
    body = order_body(tt.id, unique_email())
    assert shop.box.sandbox is not None
    shop.box.sandbox.faults.fail_next = 10
    try:
        down = await post_order(shop, event.id, body, "key-stripe-down-1")
    finally:
        shop.box.sandbox.faults.fail_next = 0
    assert down.status_code == 503
    (failed,) = await list_orders(shop.box.db, event.id)
    assert failed.status == "failed" and failed.idempotency_key is None
    retry = await post_order(shop, event.id, body, "key-stripe-down-1")
    assert retry.status_code == 201 and retry.json()["id"] != failed.id and "idempotent-replayed" not in retry.headers


async def test_the_running_worker_sends_an_unanswered_refund_again(
    shop: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    order_id, intent, auth = await paid_order(shop)
    assert shop.box.sandbox is not None
    shop.box.sandbox.faults.fail_next = 10  # Stripe down for every retry of the SDK
    try:
        assert (await refund(shop, order_id, auth, {"amount_cents": 900})).status_code == 503
    finally:
        shop.box.sandbox.faults.fail_next = 0
    assert refunded_at_stripe(shop, intent) == 0
    monkeypatch.setattr(payments_service, "REFUND_RESEND_AFTER", timedelta(0))  # at once rather than after a minute

    async def sent() -> bool:
        return [r.status for r in await refunds.list_refunds(shop.box.db, order_id)] == ["succeeded"]

    assert await eventually(sent)  # by the worker's own loop, nobody calling it
    assert refunded_at_stripe(shop, intent) == 900
