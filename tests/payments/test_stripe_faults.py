"""Stripe misbehaving: 5xx, timeouts, a revoked key, duplicated and reordered webhooks, rolled webhook secrets.
Boxoffice runs with a test-mode key against a standalone sandbox, exactly as with STRIPE_API_BASE in production."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from boxoffice.outbox.models import OutboxMessage
from boxoffice.payments.gateway import StripeKeyRejected, StripeUnavailable
from boxoffice.sandbox import RunningSandbox, run_sandbox
from boxoffice.ticketing.orders import list_orders, list_tickets
from tests.helpers import counters, eventually, make_event, make_ticket, order_request, order_status
from tests.server import LiveServer, live_server

KEY = "sk_test_faults000000000000000001"
NEW = "whsec_faults_new_0000000000001"
OLD = "whsec_faults_old_0000000000001"


@dataclass
class Rig:
    shop: LiveServer
    stripe: RunningSandbox


@pytest.fixture(scope="module")
async def rig(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Rig]:
    async with run_sandbox(api_keys={KEY}, webhook_secrets=[NEW], retry_schedule=[0.05, 0.1, 0.2, 0.4]) as stripe:
        shop_server = live_server(
            pg_url,
            stripe_secret_key=KEY,
            stripe_webhook_secrets=f"{NEW},{OLD}",
            stripe_api_base=stripe.url,
            stripe_timeout_seconds=1.0,
            mail_dir=str(tmp_path_factory.mktemp("mail")),
        )
        async with shop_server as shop:
            stripe.sandbox.config.webhook_url = shop.url + "/webhooks/stripe"
            yield Rig(shop, stripe)


@pytest.fixture(autouse=True)
def clean_faults(rig: Rig) -> None:
    faults = rig.stripe.sandbox.faults
    for name, value in vars(type(faults)()).items():
        setattr(faults, name, value)
    rig.stripe.sandbox.config.webhook_secrets = [NEW]
    rig.stripe.sandbox.add_key(KEY)


async def sessions_for(rig: Rig, order_id: str) -> int:
    return sum(1 for s in rig.stripe.sandbox.sessions.values() if s["client_reference_id"] == order_id)


async def test_5xx_are_retried_with_the_same_key_into_one_session(rig: Rig) -> None:
    event = await make_event(rig.shop.box.db)
    tt = await make_ticket(rig.shop.box.db, event.id, quantity=2)
    rig.stripe.sandbox.faults.fail_next = 2
    placed = await rig.shop.box.payments.place_order(order_request(event.id, (tt.id, 1)))
    assert placed.checkout_url and placed.order.status == "pending"
    assert await sessions_for(rig, placed.order.id) == 1


async def test_final_5xx_fails_the_order_and_releases_the_hold(rig: Rig) -> None:
    event = await make_event(rig.shop.box.db)
    tt = await make_ticket(rig.shop.box.db, event.id, quantity=2)
    rig.stripe.sandbox.faults.fail_next = 50
    with pytest.raises(StripeUnavailable):
        await rig.shop.box.payments.place_order(order_request(event.id, (tt.id, 2)))
    orders = await list_orders(rig.shop.box.db, event.id)
    assert [o.status for o in orders] == ["failed"]
    assert await counters(rig.shop.box.db, tt.id) == (2, 0, 0)
    assert await sessions_for(rig, orders[0].id) == 0


async def test_timeouts_are_retried_then_fail_cleanly(rig: Rig) -> None:
    event = await make_event(rig.shop.box.db)
    tt = await make_ticket(rig.shop.box.db, event.id, quantity=2)
    faults = rig.stripe.sandbox.faults
    faults.hang_seconds, faults.hang_next = 2.0, 1
    placed = await rig.shop.box.payments.place_order(order_request(event.id, (tt.id, 1)))
    assert placed.order.status == "pending" and await sessions_for(rig, placed.order.id) == 1
    faults.hang_next = 50
    with pytest.raises(StripeUnavailable):
        await rig.shop.box.payments.place_order(order_request(event.id, (tt.id, 1)))
    statuses = sorted(o.status for o in await list_orders(rig.shop.box.db, event.id))
    assert statuses == ["failed", "pending"]
    assert await counters(rig.shop.box.db, tt.id) == (2, 0, 1)


async def test_revoked_key_leaves_the_order_retryable_and_readyz_reports_it(rig: Rig) -> None:
    event = await make_event(rig.shop.box.db)
    tt = await make_ticket(rig.shop.box.db, event.id, quantity=2)
    rig.stripe.sandbox.revoke_key(KEY)
    with pytest.raises(StripeKeyRejected) as exc:
        await rig.shop.box.payments.place_order(order_request(event.id, (tt.id, 1)))
    assert "Stripe rejected the API key (test mode)" in exc.value.detail and KEY not in exc.value.detail
    (order,) = await list_orders(rig.shop.box.db, event.id)
    assert order.status == "pending" and await counters(rig.shop.box.db, tt.id) == (2, 0, 1)
    ready = await rig.shop.client.get("/readyz")
    assert ready.status_code == 503 and "key rejected" in ready.json()["checks"]["stripe"]
    assert KEY not in ready.text
    rig.stripe.sandbox.add_key(KEY)
    url = await rig.shop.box.payments.start_checkout(order.id)
    assert url.startswith(rig.stripe.url)
    assert (await rig.shop.client.get("/readyz")).status_code == 200


async def test_duplicated_and_reordered_webhooks_confirm_once(rig: Rig) -> None:
    event = await make_event(rig.shop.box.db)
    tt = await make_ticket(rig.shop.box.db, event.id, quantity=3)
    placed = await rig.shop.box.payments.place_order(order_request(event.id, (tt.id, 2)))
    faults = rig.stripe.sandbox.faults
    faults.webhook_duplicate = True
    faults.webhook_reorder = True
    assert placed.order.stripe_checkout_session_id
    await rig.stripe.sandbox.complete_session(placed.order.stripe_checkout_session_id, "pay")
    rig.stripe.sandbox.flush_webhooks()
    await rig.stripe.sandbox.wait_for_deliveries()

    async def confirmed() -> bool:
        return await order_status(rig.shop.box.db, placed.order.id) == "confirmed"

    await eventually(confirmed)
    async with rig.shop.box.db.read() as session:
        kinds = Counter(
            (
                await session.scalars(
                    select(OutboxMessage.kind).where(OutboxMessage.payload["order_id"].as_string() == placed.order.id)
                )
            ).all()
        )
    assert kinds["order.confirmed"] == 1
    assert await counters(rig.shop.box.db, tt.id) == (3, 2, 0)
    assert len(await list_tickets(rig.shop.box.db, placed.order.id)) == 2
    deliveries = [d for d in rig.stripe.sandbox.deliveries if d.delivered]
    assert len(deliveries) >= 6  # three events, each twice


async def test_rolled_webhook_secrets(rig: Rig) -> None:
    event = await make_event(rig.shop.box.db)
    tt = await make_ticket(rig.shop.box.db, event.id, quantity=3)
    sandbox = rig.stripe.sandbox
    sandbox.config.webhook_secrets = [OLD]  # Stripe still signing with the old secret: accepted
    a = await rig.shop.box.payments.place_order(order_request(event.id, (tt.id, 1)))
    await sandbox.complete_session(str(a.order.stripe_checkout_session_id), "pay")
    await sandbox.wait_for_deliveries()
    assert await order_status(rig.shop.box.db, a.order.id) == "confirmed"

    sandbox.config.webhook_secrets = ["whsec_unknown_secret_00000001"]  # a secret we do not have: 400, retried
    b = await rig.shop.box.payments.place_order(order_request(event.id, (tt.id, 1)))
    await sandbox.complete_session(str(b.order.stripe_checkout_session_id), "pay")
    await sandbox.wait_for_deliveries()
    assert await order_status(rig.shop.box.db, b.order.id) == "pending"
    failed = [d for d in sandbox.deliveries if d.given_up]
    assert failed and all(status == 400 for d in failed for status in d.statuses)
    async with rig.shop.box.db.read() as session:
        from boxoffice.payments.models import StripeEvent

        assert (
            await session.scalar(
                select(func.count()).select_from(StripeEvent).where(StripeEvent.order_id == b.order.id)
            )
            == 0
        )
