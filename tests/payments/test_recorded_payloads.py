"""Stripe's official example event payloads (shared/stripe/fixtures), signed with a test secret, through the
webhook endpoint of a Boxoffice configured with a test-mode key."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from boxoffice.payments.webhooks import sign_payload
from boxoffice.ticketing.orders import get_order
from boxoffice.ticketing.reserve import reserve
from tests.helpers import SHARED, counters, make_event, make_ticket, order_request
from tests.server import LiveServer, live_server

FIXTURES = SHARED / "stripe" / "fixtures"
SECRET = "whsec_recorded_payload_test_0001"
OLD_SECRET = "whsec_recorded_payload_test_0000"


@pytest.fixture(scope="module")
async def keyed(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LiveServer]:
    assert FIXTURES.is_dir(), f"the Stripe fixtures are missing at {FIXTURES}"
    async with live_server(
        pg_url,
        stripe_secret_key="sk_test_recordedpayloads0001",
        stripe_webhook_secrets=f"{SECRET},{OLD_SECRET}",
        stripe_api_base="http://127.0.0.1:9",  # never called by these events
        mail_dir=str(tmp_path_factory.mktemp("mail")),
    ) as srv:
        yield srv


def story(name: str, *, order_id: str, event_id: str, suffix: str) -> bytes:
    """A fixture with our ids in, and its event, session and PaymentIntent ids made unique to this test."""
    raw = (FIXTURES / f"event.{name}.json").read_text()
    raw = raw.replace("{{order_id}}", order_id).replace("{{event_id}}", event_id)
    for prefix in ("pi_1PgafyB7WZ01zgkWSjxsAJo", "cs_test_", "ch_1PgafuB7WZ01zgkWXYmPNZs8"):
        raw = raw.replace(prefix, prefix + suffix)
    event = json.loads(raw)
    event["id"] = f"{event['id']}_{suffix}"
    return json.dumps(event).encode()


async def send(srv: LiveServer, body: bytes, secret: str = SECRET) -> dict[str, object]:
    response = await srv.client.post(
        "/webhooks/stripe", content=body, headers={"Stripe-Signature": sign_payload(body, [secret])}
    )
    assert response.status_code == 200, response.text
    result: dict[str, object] = response.json()
    return result


async def order_of_3300(srv: LiveServer) -> tuple[str, str, str]:
    """Two tickets at 15.00 USD and a 3.00 tip: the fixtures' story."""
    event = await make_event(srv.box.db)
    tt = await make_ticket(srv.box.db, event.id, base_price_cents=1500, currency="usd", quantity=10, tippable=True)
    order = await reserve(srv.box.db, order_request(event.id, (tt.id, 2), tip_cents=300))
    assert order.total_cents == 3300
    return order.id, event.id, tt.id


async def test_story_a_card_paid_then_partially_refunded(keyed: LiveServer) -> None:
    order_id, event_id, tt_id = await order_of_3300(keyed)
    sfx = secrets.token_hex(4)
    first = await send(keyed, story("checkout.session.completed", order_id=order_id, event_id=event_id, suffix=sfx))
    assert str(first["outcome"]).startswith("confirmed")
    again = await send(keyed, story("checkout.session.completed", order_id=order_id, event_id=event_id, suffix=sfx))
    assert again["outcome"] == "duplicate"
    pi = await send(
        keyed, story("payment_intent.succeeded", order_id=order_id, event_id=event_id, suffix=sfx), OLD_SECRET
    )
    assert str(pi["outcome"]).startswith("unchanged")
    assert await counters(keyed.box.db, tt_id) == (10, 2, 0)
    refund = await send(keyed, story("charge.refunded", order_id=order_id, event_id=event_id, suffix=sfx))
    assert "partially_refunded" in str(refund["outcome"])
    for other in ("refund.created", "charge.dispute.created"):
        ignored = await send(keyed, story(other, order_id=order_id, event_id=event_id, suffix=sfx))
        assert str(ignored["outcome"]).startswith("ignored")
    order = await get_order(keyed.box.db, order_id)
    assert (order.status, order.refunded_cents) == ("partially_refunded", 1500)
    assert order.stripe_payment_intent_id == f"pi_1PgafyB7WZ01zgkWSjxsAJo{sfx}3"


@pytest.mark.parametrize(
    ("ending", "final"), [("async_payment_succeeded", "confirmed"), ("async_payment_failed", "failed")]
)
async def test_story_b_delayed_payment(keyed: LiveServer, ending: str, final: str) -> None:
    order_id, event_id, tt_id = await order_of_3300(keyed)
    sfx = secrets.token_hex(4)
    waiting = await send(
        keyed, story("checkout.session.completed.delayed_payment", order_id=order_id, event_id=event_id, suffix=sfx)
    )
    assert "hold kept" in str(waiting["outcome"])
    assert await counters(keyed.box.db, tt_id) == (10, 0, 2)
    await send(keyed, story(f"checkout.session.{ending}", order_id=order_id, event_id=event_id, suffix=sfx))
    assert (await get_order(keyed.box.db, order_id)).status == final
    assert await counters(keyed.box.db, tt_id) == ((10, 2, 0) if final == "confirmed" else (10, 0, 0))


async def test_story_c_declined_card_keeps_hold(keyed: LiveServer) -> None:
    order_id, event_id, _tt_id = await order_of_3300(keyed)
    result = await send(
        keyed, story("payment_intent.payment_failed", order_id=order_id, event_id=event_id, suffix=secrets.token_hex(4))
    )
    assert "hold kept" in str(result["outcome"])
    order = await get_order(keyed.box.db, order_id)
    assert order.status == "pending" and "declined" in (order.failure_reason or "")


async def test_story_d_expired_releases(keyed: LiveServer) -> None:
    order_id, event_id, tt_id = await order_of_3300(keyed)
    await send(
        keyed, story("checkout.session.expired", order_id=order_id, event_id=event_id, suffix=secrets.token_hex(4))
    )
    assert (await get_order(keyed.box.db, order_id)).status == "expired"
    assert await counters(keyed.box.db, tt_id) == (10, 0, 0)


async def test_amount_mismatch_does_not_confirm(keyed: LiveServer) -> None:
    event = await make_event(keyed.box.db)
    tt = await make_ticket(keyed.box.db, event.id, base_price_cents=1000, quantity=5, tippable=True)
    order = await reserve(keyed.box.db, order_request(event.id, (tt.id, 2), tip_cents=300))
    assert order.total_cents == 2300
    result = await send(
        keyed, story("checkout.session.completed", order_id=order.id, event_id=event.id, suffix=secrets.token_hex(4))
    )
    assert str(result["outcome"]).startswith("mismatch")
    stored = await get_order(keyed.box.db, order.id)
    assert stored.status == "pending" and "mismatch" in (stored.failure_reason or "")


@pytest.mark.parametrize(
    "header",
    ["", "t=1,v1=deadbeef", "garbage", "stale", "wrong-secret"],
)
async def test_bad_signatures_get_400_and_change_nothing(keyed: LiveServer, header: str) -> None:
    order_id, event_id, tt_id = await order_of_3300(keyed)
    body = story("checkout.session.completed", order_id=order_id, event_id=event_id, suffix=secrets.token_hex(4))
    if header == "stale":
        import time

        header = sign_payload(body, [SECRET], timestamp=int(time.time()) - 600)
    elif header == "wrong-secret":
        header = sign_payload(body, ["whsec_someone_else_0000000"])
    response = await keyed.client.post(
        "/webhooks/stripe", content=body, headers={"Stripe-Signature": header} if header else {}
    )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    assert (await get_order(keyed.box.db, order_id)).status == "pending"
    assert await counters(keyed.box.db, tt_id) == (10, 0, 2)


async def test_non_ascii_signature_is_a_400_problem(keyed: LiveServer) -> None:
    order_id, event_id, tt_id = await order_of_3300(keyed)
    body = story("checkout.session.completed", order_id=order_id, event_id=event_id, suffix=secrets.token_hex(4))
    good = sign_payload(body, [SECRET])
    for bad in (good + ",v1=\u00e9t\u00e9", good.split(",v1=")[0] + ",v1=\u2603\u2603"):
        response = await keyed.client.post(
            "/webhooks/stripe", content=body, headers={b"Stripe-Signature": bad.encode("utf-8")}
        )
        assert response.status_code == 400, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["type"].endswith("bad-signature")
    assert (await get_order(keyed.box.db, order_id)).status == "pending"
    assert await counters(keyed.box.db, tt_id) == (10, 0, 2)


async def stripe_event_rows(srv: LiveServer, event_id: str) -> int:
    from sqlalchemy import func, select

    from boxoffice.payments.models import StripeEvent

    async with srv.box.db.read() as session:
        return int(await session.scalar(select(func.count()).where(StripeEvent.id == event_id)) or 0)


async def test_livemode_mismatch_is_refused_logged_once_and_changes_nothing(
    keyed: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    order_id, event_id, tt_id = await order_of_3300(keyed)
    event = json.loads(
        story("checkout.session.completed", order_id=order_id, event_id=event_id, suffix=secrets.token_hex(4))
    )
    assert event["livemode"] is False  # as recorded from Stripe in test mode
    event["livemode"] = True  # a live payment reported to a test-mode deployment
    body = json.dumps(event).encode()
    caplog.set_level("WARNING", logger="boxoffice.webhooks")
    for _ in range(3):  # Stripe retries a refused event: it is logged once
        response = await keyed.client.post(
            "/webhooks/stripe", content=body, headers={"Stripe-Signature": sign_payload(body, [SECRET])}
        )
        assert response.status_code == 400, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["type"].endswith("livemode-mismatch")
    logged = [r for r in caplog.records if "livemode" in r.getMessage()]
    assert len(logged) == 1 and getattr(logged[0], "stripe_event_id", None) == event["id"]
    assert (await get_order(keyed.box.db, order_id)).status == "pending"
    assert await counters(keyed.box.db, tt_id) == (10, 0, 2)
    assert await stripe_event_rows(keyed, event["id"]) == 0


async def test_live_key_refuses_test_mode_events(keyed: LiveServer) -> None:
    order_id, event_id, tt_id = await order_of_3300(keyed)
    body = story("checkout.session.completed", order_id=order_id, event_id=event_id, suffix=secrets.token_hex(4))
    keyed.box.webhooks.livemode = True  # as with a live key
    try:
        response = await keyed.client.post(
            "/webhooks/stripe", content=body, headers={"Stripe-Signature": sign_payload(body, [SECRET])}
        )
    finally:
        keyed.box.webhooks.livemode = False
    assert response.status_code == 400 and response.json()["type"].endswith("livemode-mismatch")
    assert (await get_order(keyed.box.db, order_id)).status == "pending"
    assert await counters(keyed.box.db, tt_id) == (10, 0, 2)
    assert await stripe_event_rows(keyed, json.loads(body)["id"]) == 0
    # The same event in its own mode goes through.
    assert str((await send(keyed, body))["outcome"]).startswith("confirmed")


async def test_signed_garbage_is_rejected(keyed: LiveServer) -> None:
    for body in (b"not json", b"[]", b'{"id": 1}'):
        response = await keyed.client.post(
            "/webhooks/stripe", content=body, headers={"Stripe-Signature": sign_payload(body, [SECRET])}
        )
        assert response.status_code == 400


def test_fixture_dir_is_the_shared_one() -> None:
    assert Path(FIXTURES).resolve().parts[-3:] == ("shared", "stripe", "fixtures")
