"""Webhook delivery: Stripe's signature scheme checked with the SDK's own verifier, retries, and delivery faults."""

from __future__ import annotations

import time

import httpx
import pytest
import stripe

from boxoffice.sandbox import RunningSandbox, sign
from tests.sandbox.support import KEY, OLD_SECRET, SECRET, WebhookReceiver, checkout_params, eventually, sdk

PAID = ["charge.succeeded", "payment_intent.succeeded", "checkout.session.completed"]


def verify(received: WebhookReceiver, secret: str = SECRET) -> list[stripe.Event]:
    """Every received delivery, verified as Boxoffice verifies them."""
    return [stripe.Webhook.construct_event(r.body, r.signature, secret) for r in received.received]


async def paid_session(sb: RunningSandbox) -> str:
    session = await sdk(sb.url).v1.checkout.sessions.create_async(checkout_params())
    await sb.sandbox.complete_session(session.id, "pay")
    return session.id


async def test_a_payment_delivers_signed_events(hooked: RunningSandbox, receiver: WebhookReceiver) -> None:
    session_id = await paid_session(hooked)
    await hooked.sandbox.wait_for_deliveries()
    events = verify(receiver)
    assert [e.type for e in events] == PAID
    completed = events[-1]
    assert completed.id.startswith("evt_") and completed.livemode is False
    assert completed.api_version == "2026-10-28.endive" and completed.created <= time.time()
    session = completed.data.object
    assert isinstance(session, stripe.checkout.Session)
    assert (session.id, session.status, session.payment_status) == (session_id, "complete", "paid")
    assert session.metadata is not None and session.metadata["order_id"] == "ord_1"
    assert receiver.received[0].event["request"] == {"id": None, "idempotency_key": None}  # from the hosted page
    assert all(d.delivered and d.statuses == [200] for d in hooked.sandbox.deliveries)
    stored = await sdk(hooked.url).v1.events.retrieve_async(completed.id)
    assert stored.pending_webhooks == 0 and stored.type == "checkout.session.completed"


async def test_event_objects_are_snapshots(hooked: RunningSandbox, receiver: WebhookReceiver) -> None:
    session = await sdk(hooked.url).v1.checkout.sessions.create_async(checkout_params())
    await hooked.sandbox.complete_session(session.id, "delayed_success")
    await hooked.sandbox.resolve_delayed_payments()
    await hooked.sandbox.wait_for_deliveries()
    by_type = {r.event["type"]: r.event["data"]["object"] for r in receiver.received}
    assert by_type["checkout.session.completed"]["payment_status"] == "unpaid"  # as it was then
    assert by_type["checkout.session.async_payment_succeeded"]["payment_status"] == "paid"
    assert by_type["payment_intent.processing"]["status"] == "processing"
    assert by_type["payment_intent.succeeded"]["status"] == "succeeded"


async def test_two_active_secrets_give_two_valid_signatures(hooked: RunningSandbox, receiver: WebhookReceiver) -> None:
    hooked.sandbox.config.webhook_secrets = [SECRET, OLD_SECRET]  # a rolled secret, the old one still active
    await paid_session(hooked)
    await hooked.sandbox.wait_for_deliveries()
    for delivery in receiver.received:
        parts = [p.split("=", 1) for p in delivery.signature.split(",")]
        assert [k for k, _ in parts].count("v1") == 2 and parts[0][0] == "t"
    assert len(verify(receiver, SECRET)) == len(verify(receiver, OLD_SECRET)) == 3
    with pytest.raises(stripe.SignatureVerificationError):
        verify(receiver, "whsec_not_the_right_one")


def test_signature_is_hmac_sha256_over_timestamp_and_body() -> None:
    body = b'{"id": "evt_1", "object": "event"}'
    header = sign(body, [SECRET], 1_700_000_000)
    expected = stripe.WebhookSignature._compute_signature(f"1700000000.{body.decode()}", SECRET)
    assert header.startswith(f"t=1700000000,v1={expected},v0=")


async def test_failed_deliveries_are_retried_with_fresh_signatures(
    hooked: RunningSandbox, receiver: WebhookReceiver
) -> None:
    receiver.script = [500, 503]
    session = await sdk(hooked.url).v1.checkout.sessions.create_async(checkout_params())
    await hooked.sandbox.expire_session(session.id)
    await hooked.sandbox.wait_for_deliveries()
    (delivery,) = hooked.sandbox.deliveries
    assert (delivery.statuses, delivery.attempts, delivery.delivered) == ([500, 503, 200], 3, True)
    assert len(verify(receiver)) == 3 and len({r.body for r in receiver.received}) == 1
    # Each attempt is signed afresh (its own t and v0), the body being the same.
    assert len({r.signature for r in receiver.received}) == 3


async def test_deliveries_are_given_up_after_the_schedule_then_resent(
    hooked: RunningSandbox, receiver: WebhookReceiver
) -> None:
    receiver.script = [500] * 4
    session = await sdk(hooked.url).v1.checkout.sessions.create_async(checkout_params())
    await hooked.sandbox.expire_session(session.id)
    await hooked.sandbox.wait_for_deliveries()
    (delivery,) = hooked.sandbox.deliveries
    assert delivery.given_up and delivery.statuses == [500, 500, 500, 500]  # first attempt + three retries
    event = hooked.sandbox.events[delivery.event_id]
    assert event["pending_webhooks"] == 1
    async with httpx.AsyncClient(base_url=hooked.url) as control:
        assert (await control.post("/_sandbox/webhooks/retry")).json() == {"requeued": 1}
        await hooked.sandbox.wait_for_deliveries()
        log = (await control.get("/_sandbox/deliveries")).json()["data"]
    assert log[0]["delivered"] and log[0]["statuses"][-1] == 200 and event["pending_webhooks"] == 0


async def test_an_unreachable_endpoint_counts_as_a_failure(hooked: RunningSandbox) -> None:
    hooked.sandbox.config.webhook_url = "http://127.0.0.1:9/webhooks/stripe"  # nothing listens on the discard port
    session = await sdk(hooked.url).v1.checkout.sessions.create_async(checkout_params())
    await hooked.sandbox.expire_session(session.id)
    await hooked.sandbox.wait_for_deliveries()
    (delivery,) = hooked.sandbox.deliveries
    assert delivery.given_up and all(isinstance(s, str) for s in delivery.statuses)


async def test_duplicated_events(hooked: RunningSandbox, receiver: WebhookReceiver) -> None:
    hooked.sandbox.faults.webhook_duplicate = True
    await paid_session(hooked)
    await hooked.sandbox.wait_for_deliveries()
    events = verify(receiver)
    assert len(events) == 6 and sorted(e.type for e in events) == sorted(PAID * 2)
    assert len({e.id for e in events}) == 3  # the same events, each delivered twice


async def test_reordered_events_are_held_until_flushed(hooked: RunningSandbox, receiver: WebhookReceiver) -> None:
    hooked.sandbox.faults.webhook_reorder = True
    await paid_session(hooked)
    await hooked.sandbox.wait_for_deliveries()
    assert receiver.received == [] and len(hooked.sandbox.webhooks.held) == 3
    async with httpx.AsyncClient(base_url=hooked.url) as control:
        assert (await control.post("/_sandbox/webhooks/flush")).json() == {"released": 3}
    await hooked.sandbox.wait_for_deliveries()
    await eventually(lambda: len(receiver.received) == 3, what="three deliveries")
    assert sorted(receiver.types()) == sorted(PAID)
    order = [d.event_type for d in hooked.sandbox.deliveries]
    assert order == list(reversed(PAID))  # queued newest first


async def test_reorder_batches_release_themselves(hooked: RunningSandbox, receiver: WebhookReceiver) -> None:
    faults = hooked.sandbox.faults
    faults.webhook_reorder, faults.webhook_reorder_batch, faults.webhook_reorder_mode = True, 3, "shuffle"
    await paid_session(hooked)  # three events: the batch is full, released at once
    await hooked.sandbox.wait_for_deliveries()
    assert sorted(receiver.types()) == sorted(PAID) and hooked.sandbox.webhooks.held == []


async def test_pause_delay_and_drop(hooked: RunningSandbox, receiver: WebhookReceiver) -> None:
    faults = hooked.sandbox.faults
    faults.webhook_paused = True
    first = await paid_session(hooked)
    await hooked.sandbox.wait_for_deliveries()  # returns at once: paused is idle
    assert receiver.received == [] and len(hooked.sandbox.webhooks.pending()) == 3
    faults.webhook_paused = False
    await eventually(lambda: len(receiver.received) == 3, what="paused deliveries to go out")

    faults.webhook_delay_ms = 150
    client = sdk(hooked.url)
    delayed = await client.v1.checkout.sessions.create_async(checkout_params())
    queued = time.monotonic()
    await hooked.sandbox.expire_session(delayed.id)
    await hooked.sandbox.wait_for_deliveries()
    assert time.monotonic() - queued >= 0.15 and receiver.types()[-1] == "checkout.session.expired"
    faults.webhook_delay_ms = 0

    faults.webhook_drop_next = 1
    dropped = await client.v1.checkout.sessions.create_async(checkout_params())
    await hooked.sandbox.expire_session(dropped.id)
    kept = await client.v1.checkout.sessions.create_async(checkout_params())
    await hooked.sandbox.expire_session(kept.id)
    await hooked.sandbox.wait_for_deliveries()
    objects = [r.event["data"]["object"]["id"] for r in receiver.received]
    assert kept.id in objects and dropped.id not in objects and first in objects
    assert [d.dropped for d in hooked.sandbox.deliveries][-2:] == [True, False]


async def test_delayed_payments_settle_on_their_own(hooked: RunningSandbox, receiver: WebhookReceiver) -> None:
    client = sdk(hooked.url)
    good = await client.v1.checkout.sessions.create_async(checkout_params())
    bad = await client.v1.checkout.sessions.create_async(checkout_params())
    await hooked.sandbox.complete_session(good.id, "delayed_success")
    await hooked.sandbox.complete_session(bad.id, "delayed_failure")
    await eventually(lambda: not hooked.sandbox.pending_delayed_payments, what="delayed payments to settle")
    await hooked.sandbox.wait_for_deliveries()
    kinds = {(r.event["type"], r.event["data"]["object"]["id"]) for r in receiver.received}
    assert ("checkout.session.async_payment_succeeded", good.id) in kinds
    assert ("checkout.session.async_payment_failed", bad.id) in kinds
    failed = [r.event for r in receiver.received if r.event["type"] == "payment_intent.payment_failed"]
    assert failed and failed[0]["data"]["object"]["last_payment_error"]["payment_method"]["type"] == "us_bank_account"


async def test_open_sessions_expire_when_their_time_has_come(hooked: RunningSandbox, receiver: WebhookReceiver) -> None:
    session = await sdk(hooked.url).v1.checkout.sessions.create_async(checkout_params())
    hooked.sandbox.sessions[session.id]["expires_at"] = int(time.time()) - 1  # as if 31 minutes had passed
    await eventually(lambda: hooked.sandbox.sessions[session.id]["status"] == "expired", what="the sweeper")
    await hooked.sandbox.wait_for_deliveries()
    assert receiver.types() == ["checkout.session.expired"]
    expired = receiver.received[0].event["data"]["object"]
    assert (expired["status"], expired["payment_status"], expired["url"]) == ("expired", "unpaid", None)


async def test_refund_events_carry_their_request(hooked: RunningSandbox, receiver: WebhookReceiver) -> None:
    session_id = await paid_session(hooked)
    intent = hooked.sandbox.sessions[session_id]["payment_intent"]
    refund = await sdk(hooked.url).v1.refunds.create_async(
        {"payment_intent": intent, "amount": 1500}, {"idempotency_key": "refund-ord_1-1"}
    )
    await hooked.sandbox.wait_for_deliveries()
    refund_events = [r.event for r in receiver.received if r.event["type"] in ("refund.created", "charge.refunded")]
    assert [e["type"] for e in refund_events] == ["refund.created", "charge.refunded"]
    for event in refund_events:
        assert event["request"]["idempotency_key"] == "refund-ord_1-1"
        assert str(event["request"]["id"]).startswith("req_")
    assert refund_events[0]["data"]["object"]["id"] == refund.id
    charge = refund_events[1]["data"]["object"]
    assert (charge["amount_refunded"], charge["refunded"]) == (1500, False)


async def test_a_declined_card_emits_payment_failed(hooked: RunningSandbox, receiver: WebhookReceiver) -> None:
    session = await sdk(hooked.url, KEY).v1.checkout.sessions.create_async(checkout_params())
    await hooked.sandbox.complete_session(session.id, "decline")
    await hooked.sandbox.wait_for_deliveries()
    (failed,) = [e for e in verify(receiver) if e.type == "payment_intent.payment_failed"]
    intent = failed.data.object
    assert isinstance(intent, stripe.PaymentIntent) and intent.status == "requires_payment_method"
    assert intent.last_payment_error is not None and intent.last_payment_error.decline_code == "generic_decline"
    assert "checkout.session.completed" not in receiver.types()
