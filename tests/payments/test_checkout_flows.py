"""Every payment path through the official SDK against the local Stripe sandbox, end to end over HTTP."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select

from boxoffice.events import service as events
from boxoffice.notifications.delivery import list_emails
from boxoffice.outbox.models import OutboxMessage
from boxoffice.ticketing.orders import confirm_order, expire_order, get_order
from boxoffice.ticketing.reserve import reserve
from tests.helpers import counters, eventually, make_event, make_ticket, order_request, order_status
from tests.server import LiveServer


async def place(
    shop: LiveServer, *lines: tuple[str, int] | tuple[str, int, int | None], **kw: object
) -> tuple[str, str]:
    event_id = str(kw.pop("event_id"))
    placed = await shop.box.payments.place_order(order_request(event_id, *lines, **kw))
    assert placed.checkout_url is not None
    assert placed.order.stripe_checkout_session_id is not None
    return placed.order.id, placed.order.stripe_checkout_session_id


async def status_is(shop: LiveServer, order_id: str, status: str) -> None:
    async def check() -> bool:
        return await order_status(shop.box.db, order_id) == status

    await eventually(check)


async def outbox_kinds(shop: LiveServer, order_id: str) -> Counter[str]:
    async with shop.box.db.read() as session:
        rows = (await session.scalars(select(OutboxMessage).where(OutboxMessage.topics.is_not(None)))).all()
    return Counter(r.kind for r in rows if r.payload.get("order_id") == order_id)


async def test_paid_on_the_hosted_page_confirms_exactly_once(shop: LiveServer) -> None:
    event = await make_event(shop.box.db)
    tt = await make_ticket(shop.box.db, event.id, quantity=5, tippable=True)
    placed = await shop.box.payments.place_order(order_request(event.id, (tt.id, 2), tip_cents=300))
    order = placed.order
    assert placed.checkout_url and placed.checkout_url.startswith(shop.url + "/_sandbox/stripe/")
    page = await shop.client.get(placed.checkout_url)
    assert page.status_code == 200 and "$33.00" in page.text

    assert shop.box.sandbox is not None
    sandbox_session = shop.box.sandbox.sessions[order.stripe_checkout_session_id]  # type: ignore[index]
    assert sandbox_session["metadata"] == {"order_id": order.id, "event_id": event.id}
    assert sandbox_session["client_reference_id"] == order.id
    assert sandbox_session["customer_email"] == order.email
    assert sandbox_session["amount_total"] == 3300
    assert sandbox_session["expires_at"] == int(order.expires_at.timestamp())

    assert order.stripe_checkout_session_id is not None
    await shop.box.sandbox.complete_session(order.stripe_checkout_session_id, "pay")
    await status_is(shop, order.id, "confirmed")
    await shop.box.sandbox.wait_for_deliveries()
    assert await counters(shop.box.db, tt.id) == (5, 2, 0)
    stored = await get_order(shop.box.db, order.id)
    assert stored.stripe_payment_intent_id and stored.stripe_payment_intent_id.startswith("pi_")
    holders = await events.list_participants(shop.box.db, event.id, role="ticket_holder")
    assert len(holders) == 1 and holders[0][0].status == "confirmed_with_order"
    assert (await outbox_kinds(shop, order.id))["order.confirmed"] == 1

    async def emailed() -> bool:
        emails = await list_emails(shop.box.db, event.id)
        return len(emails) == 1 and emails[0].status == "sent"

    await eventually(emailed)


async def test_declined_card_keeps_the_hold_then_pay_confirms(shop: LiveServer) -> None:
    event = await make_event(shop.box.db)
    tt = await make_ticket(shop.box.db, event.id, quantity=3)
    order_id, session_id = await place(shop, (tt.id, 1), event_id=event.id)
    assert shop.box.sandbox is not None
    await shop.box.sandbox.complete_session(session_id, "decline")
    await shop.box.sandbox.wait_for_deliveries()
    order = await get_order(shop.box.db, order_id)
    assert order.status == "pending" and "declined" in (order.failure_reason or "")
    assert await counters(shop.box.db, tt.id) == (3, 0, 1)
    await shop.box.sandbox.complete_session(session_id, "pay")
    await status_is(shop, order_id, "confirmed")


async def test_delayed_payment_success_and_failure(shop: LiveServer) -> None:
    event = await make_event(shop.box.db)
    tt = await make_ticket(shop.box.db, event.id, quantity=4)
    ok_id, ok_session = await place(shop, (tt.id, 1), event_id=event.id)
    bad_id, bad_session = await place(shop, (tt.id, 1), event_id=event.id)
    before = await get_order(shop.box.db, ok_id)
    assert shop.box.sandbox is not None
    await shop.box.sandbox.complete_session(ok_session, "delayed_success")
    await shop.box.sandbox.complete_session(bad_session, "delayed_failure")
    await shop.box.sandbox.wait_for_deliveries()
    waiting = await get_order(shop.box.db, ok_id)
    assert waiting.status == "pending" and waiting.expires_at > before.expires_at  # hold kept for the bank debit
    assert await counters(shop.box.db, tt.id) == (4, 0, 2)
    await shop.box.sandbox.resolve_delayed_payments()
    await status_is(shop, ok_id, "confirmed")
    await status_is(shop, bad_id, "failed")
    await shop.box.sandbox.wait_for_deliveries()
    assert await counters(shop.box.db, tt.id) == (4, 1, 0)


async def test_abandoned_session_expires_and_releases(shop: LiveServer) -> None:
    event = await make_event(shop.box.db)
    tt = await make_ticket(shop.box.db, event.id, quantity=2)
    order_id, session_id = await place(shop, (tt.id, 2), event_id=event.id)
    assert await counters(shop.box.db, tt.id) == (2, 0, 2)
    assert shop.box.sandbox is not None
    await shop.box.sandbox.expire_session(session_id)
    await status_is(shop, order_id, "expired")
    assert await counters(shop.box.db, tt.id) == (2, 0, 0)


async def test_buyer_cancel_expires_the_stripe_session(shop: LiveServer) -> None:
    event = await make_event(shop.box.db)
    tt = await make_ticket(shop.box.db, event.id, quantity=2)
    order_id, session_id = await place(shop, (tt.id, 1), event_id=event.id)
    result = await shop.box.payments.cancel_pending(order_id)
    assert result.changed and result.status == "canceled"
    assert shop.box.sandbox is not None
    assert shop.box.sandbox.sessions[session_id]["status"] == "expired"
    await shop.box.sandbox.wait_for_deliveries()
    assert await order_status(shop.box.db, order_id) == "canceled"
    assert await counters(shop.box.db, tt.id) == (2, 0, 0)


async def test_refunds_full_and_partial_follow_the_webhook(shop: LiveServer) -> None:
    event = await make_event(shop.box.db)
    tt = await make_ticket(shop.box.db, event.id, quantity=3)
    order_id, session_id = await place(shop, (tt.id, 2), event_id=event.id)
    assert shop.box.sandbox is not None
    await shop.box.sandbox.complete_session(session_id, "pay")
    await status_is(shop, order_id, "confirmed")
    refund = await shop.box.payments.refund(order_id, 1000)
    assert refund.amount_cents == 1000 and refund.refund_id.startswith("re_")
    await status_is(shop, order_id, "partially_refunded")
    assert (await get_order(shop.box.db, order_id)).refunded_cents == 1000
    assert await counters(shop.box.db, tt.id) == (3, 2, 0)
    rest = await shop.box.payments.refund(order_id)
    assert rest.amount_cents == 2000
    await status_is(shop, order_id, "refunded")
    assert await counters(shop.box.db, tt.id) == (3, 0, 0)


async def test_late_payment_is_confirmed_when_tickets_remain_else_refunded(shop: LiveServer) -> None:
    event = await make_event(shop.box.db)
    tt = await make_ticket(shop.box.db, event.id, quantity=1)
    order_id, session_id = await place(shop, (tt.id, 1), event_id=event.id)
    await expire_order(shop.box.db, order_id, force=True)  # our sweeper got there first
    assert shop.box.sandbox is not None
    await shop.box.sandbox.complete_session(session_id, "pay")
    await status_is(shop, order_id, "confirmed")
    assert await counters(shop.box.db, tt.id) == (1, 1, 0)

    tt2 = await make_ticket(shop.box.db, event.id, quantity=1)
    late_id, late_session = await place(shop, (tt2.id, 1), event_id=event.id)
    await expire_order(shop.box.db, late_id, force=True)
    winner = await reserve(shop.box.db, order_request(event.id, (tt2.id, 1)))
    await confirm_order(shop.box.db, winner.id)
    await shop.box.sandbox.complete_session(late_session, "pay")
    await status_is(shop, late_id, "refunded")
    late = await get_order(shop.box.db, late_id)
    assert late.refunded_cents == late.total_cents
    assert "refunded automatically" in (late.failure_reason or "")
    assert await counters(shop.box.db, tt2.id) == (1, 1, 0)
