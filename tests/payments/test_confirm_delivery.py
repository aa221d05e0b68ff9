"""A paid Checkout Session's delivery counted, confirmed and marked processed in one call (PostgreSQL): the same
``stripe_events`` row and order as the step-by-step path, a duplicate counted and nothing more, concurrent copies of
one event confirming once, an order it cannot confirm counted once and judged on the general path, and the
step-by-step path taking over where the function cannot be made."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, text

from boxoffice.db import Database
from boxoffice.payments import confirm_delivery
from boxoffice.payments.models import StripeEvent
from boxoffice.payments.service import Payments
from boxoffice.payments.webhooks import WebhookProcessor, sign_payload
from boxoffice.ticketing import confirm_pg, locked_first
from boxoffice.ticketing.models import Order, OrderEvent, Ticket
from boxoffice.ticketing.reserve import reserve
from tests.helpers import counters, make_event, make_ticket, order_request, order_status
from tests.payments.signed_events import made_event

pytestmark = pytest.mark.usefixtures("pg_db")

SECRET = "whsec_test_confirm_delivery"


class NoGateway:
    """No Stripe call is expected on these paths."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"unexpected Stripe call: {name}")


def processor(db: Database) -> WebhookProcessor:
    payments = Payments(db, NoGateway(), public_url="http://shop.test", token_key=b"k", hold=timedelta(minutes=30))  # type: ignore[arg-type]
    return WebhookProcessor(db, payments, [SECRET])


def session_completed(order: Order, *, amount: int | None = None) -> bytes:
    """A ``checkout.session.completed`` paying ``order`` (``amount``: another amount than its total)."""
    session = {
        "id": f"cs_test_{secrets.token_hex(8)}",
        "object": "checkout.session",
        "payment_status": "paid",
        "amount_total": order.total_cents if amount is None else amount,
        "currency": order.currency,
        "payment_intent": f"pi_{secrets.token_hex(8)}",
        "client_reference_id": order.id,
        "metadata": {"order_id": order.id, "event_id": order.event_id},
    }
    return json.dumps(made_event("checkout.session.completed", session)).encode()


async def deliver(hooks: WebhookProcessor, payload: bytes) -> Any:
    return await hooks.receive(payload, sign_payload(payload, [SECRET]))


async def stripe_event(db: Database, event_id: str) -> StripeEvent:
    async with db.read() as session:
        return (await session.scalars(select(StripeEvent).where(StripeEvent.id == event_id))).one()


async def written_for(db: Database, order_id: str) -> tuple[int, list[tuple[str, str]]]:
    async with db.read() as session:
        tickets = len((await session.scalars(select(Ticket).where(Ticket.order_id == order_id))).all())
        history = [
            (h.from_status, h.to_status)
            for h in (await session.scalars(select(OrderEvent).where(OrderEvent.order_id == order_id))).all()
        ]
    return tickets, history


async def a_pending_order(db: Database, quantity: int = 1) -> Order:
    event = await make_event(db)
    tt = await make_ticket(db, event.id, quantity=10, base_price_cents=2500)
    return await reserve(db, order_request(event.id, (tt.id, quantity)))


@pytest.fixture
def step_by_step() -> Iterator[None]:
    """The one-call path off: its function cannot run (as where the TEMPORARY privilege is refused)."""
    locked_first.ENABLED = False
    try:
        yield
    finally:
        locked_first.ENABLED = True


@pytest.mark.parametrize("one_call", [True, False], ids=["one call", "step by step"])
async def test_both_paths_record_the_same_event_and_confirm_once(
    pg_db: Database, one_call: bool, request: pytest.FixtureRequest
) -> None:
    if not one_call:
        request.getfixturevalue("step_by_step")
    hooks = processor(pg_db)
    order = await a_pending_order(pg_db, quantity=2)
    payload = session_completed(order)
    event = json.loads(payload)

    first = await deliver(hooks, payload)
    again = await deliver(hooks, payload)

    assert (first.outcome, first.duplicate) == ("confirmed: order confirmed", False)
    assert again.duplicate
    row = await stripe_event(pg_db, event["id"])
    assert (row.type, row.object_id, row.livemode, row.order_id) == (
        "checkout.session.completed",
        event["data"]["object"]["id"],
        False,
        order.id,
    )
    assert (row.outcome, row.detail, row.deliveries) == ("confirmed: order confirmed", "confirmed: order confirmed", 2)
    assert row.processed_at is not None and row.processed_at >= row.received_at
    assert await order_status(pg_db, order.id) == "confirmed"
    assert await written_for(pg_db, order.id) == (2, [("pending", "confirmed")])
    assert await counters(pg_db, order.lines[0].ticket_type_id) == (10, 2, 0)


async def test_the_one_call_path_does_the_work_in_one_transaction(
    pg_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The delivery took the one-call path, not the step-by-step one (which would also have confirmed it)."""
    calls: list[str] = []
    original = confirm_pg.run_in_transaction

    async def spy(db: Database, function: Any, params: dict[str, Any]) -> Any:
        calls.append(function.name)
        return await original(db, function, params)

    monkeypatch.setattr(confirm_delivery, "run_in_transaction", spy)
    monkeypatch.setattr(confirm_pg, "run_in_transaction", spy)
    hooks = processor(pg_db)
    order = await a_pending_order(pg_db)
    outcome = await deliver(hooks, session_completed(order))
    assert outcome.outcome == "confirmed: order confirmed"
    assert calls == ["boxoffice_confirm_delivery"]


async def test_concurrent_copies_of_one_event_confirm_once_and_all_count(pg_db: Database) -> None:
    hooks = processor(pg_db)
    order = await a_pending_order(pg_db)
    payload = session_completed(order)
    outcomes = await asyncio.gather(*(deliver(hooks, payload) for _ in range(6)))
    assert sorted(o.duplicate for o in outcomes) == [False] + [True] * 5
    row = await stripe_event(pg_db, json.loads(payload)["id"])
    assert row.deliveries == 6
    assert await written_for(pg_db, order.id) == (1, [("pending", "confirmed")])
    assert await counters(pg_db, order.lines[0].ticket_type_id) == (10, 1, 0)


async def test_distinct_events_for_one_order_confirm_it_once(pg_db: Database) -> None:
    """``checkout.session.completed`` sent as two events (two ids): the second is processed, and changes nothing."""
    hooks = processor(pg_db)
    order = await a_pending_order(pg_db)
    first, second = session_completed(order), session_completed(order)
    outcomes = await asyncio.gather(deliver(hooks, first), deliver(hooks, second))
    assert not any(o.duplicate for o in outcomes)
    assert sorted(o.outcome for o in outcomes) == ["confirmed: order confirmed", "unchanged: order confirmed"]
    assert await written_for(pg_db, order.id) == (1, [("pending", "confirmed")])
    for payload in (first, second):
        row = await stripe_event(pg_db, json.loads(payload)["id"])
        assert row.deliveries == 1 and row.processed_at is not None and row.order_id == order.id


async def test_an_order_it_cannot_confirm_is_counted_once_and_judged_on_the_general_path(pg_db: Database) -> None:
    hooks = processor(pg_db)
    order = await a_pending_order(pg_db)
    payload = session_completed(order, amount=order.total_cents - 1)
    outcome = await deliver(hooks, payload)
    assert outcome.outcome == "mismatch: not confirmed"
    row = await stripe_event(pg_db, json.loads(payload)["id"])
    assert (row.deliveries, row.outcome, row.order_id) == (1, "mismatch: not confirmed", order.id)
    assert row.processed_at is not None
    assert await order_status(pg_db, order.id) == "pending"
    assert await written_for(pg_db, order.id) == (0, [])
    assert (await deliver(hooks, payload)).duplicate
    assert (await stripe_event(pg_db, json.loads(payload)["id"])).deliveries == 2


async def test_a_delivery_for_an_unknown_order_is_counted_once(pg_db: Database) -> None:
    hooks = processor(pg_db)
    order = await a_pending_order(pg_db)
    body = json.loads(session_completed(order))
    body["data"]["object"]["metadata"]["order_id"] = body["data"]["object"]["client_reference_id"] = "ord_unknown"
    payload = json.dumps(body).encode()
    outcome = await deliver(hooks, payload)
    assert outcome.outcome == "ignored: unknown order"
    row = await stripe_event(pg_db, body["id"])
    assert (row.deliveries, row.outcome) == (1, "ignored: unknown order")
    assert await order_status(pg_db, order.id) == "pending"


async def test_a_delivery_whose_transaction_fails_leaves_nothing_counted(
    pg_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The count is part of the call's transaction: a call whose COMMIT fails leaves no trace (rolled back), its
    connection goes on serving, and Stripe's retry is processed as the first delivery."""
    hooks = processor(pg_db)
    order = await a_pending_order(pg_db)
    payload = session_completed(order)

    class Died(Exception):
        pass

    original = locked_first._on_driver
    sent: list[str] = []

    async def commit_fails(raw: Any, method: str, sql: str, *args: Any) -> Any:
        sent.append(sql.split()[0])
        if sql == "COMMIT":
            raise Died
        return await original(raw, method, sql, *args)

    monkeypatch.setattr(locked_first, "_on_driver", commit_fails)
    with pytest.raises(Died):
        await deliver(hooks, payload)
    monkeypatch.undo()
    assert sent[-4:] == ["BEGIN", "SELECT", "COMMIT", "ROLLBACK"]
    async with pg_db.read() as session:
        assert await session.get(StripeEvent, json.loads(payload)["id"]) is None
    assert await order_status(pg_db, order.id) == "pending"

    retried = await deliver(hooks, payload)
    assert retried.outcome == "confirmed: order confirmed"
    assert (await stripe_event(pg_db, json.loads(payload)["id"])).deliveries == 1


async def test_a_delivery_cancelled_while_it_waits_for_the_order_leaves_nothing_done(pg_db: Database) -> None:
    """The web process dies (here: its request is cancelled) while the call waits for the order's row: the call
    was inside BEGIN, so when the row is free and the call ends, PostgreSQL finds its client gone and rolls it
    back instead of committing it; nothing is counted or confirmed, and Stripe's retry confirms the order."""
    hooks = processor(pg_db)
    order = await a_pending_order(pg_db)
    payload = session_completed(order)
    blocker = Database(pg_db.url, pool_size=1)
    try:
        async with blocker.engine.connect() as holding:
            await holding.execute(text("SELECT 1 FROM orders WHERE id = :id FOR UPDATE"), {"id": order.id})
            task = asyncio.create_task(deliver(hooks, payload))
            waiting = await _backend_waiting_for_a_lock(pg_db, "boxoffice_confirm_delivery")
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await holding.rollback()  # the row is free: the call ends, and finds its client gone
        for _ in range(250):
            async with pg_db.read() as session:
                gone = not await session.scalar(
                    text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": waiting}
                )
            if gone:
                break
            await asyncio.sleep(0.02)
        assert gone
    finally:
        await blocker.dispose()
    async with pg_db.read() as session:
        assert await session.get(StripeEvent, json.loads(payload)["id"]) is None
    assert await order_status(pg_db, order.id) == "pending"
    assert await written_for(pg_db, order.id) == (0, [])

    retried = await deliver(hooks, payload)
    assert retried.outcome == "confirmed: order confirmed"
    assert (await stripe_event(pg_db, json.loads(payload)["id"])).deliveries == 1


async def _backend_waiting_for_a_lock(db: Database, function: str) -> int:
    """The pid of the backend whose query calls ``function`` and waits for a lock (once it does)."""
    for _ in range(250):
        async with db.read() as session:
            pid = await session.scalar(
                text(
                    "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE :calls "
                    "AND pid <> pg_backend_pid()"
                ),
                {"calls": f"%{function}%"},
            )
        if pid is not None:
            return int(pid)
        await asyncio.sleep(0.02)
    raise AssertionError(f"no call of {function} waited for a lock")


async def test_without_the_function_the_step_by_step_path_counts_once(pg_db: Database, step_by_step: None) -> None:
    hooks = processor(pg_db)
    order = await a_pending_order(pg_db)
    payload = session_completed(order)
    assert (await deliver(hooks, payload)).outcome == "confirmed: order confirmed"
    row = await stripe_event(pg_db, json.loads(payload)["id"])
    assert (row.deliveries, row.order_id) == (1, order.id)
    assert await written_for(pg_db, order.id) == (1, [("pending", "confirmed")])


@pytest.mark.parametrize("metadata", ["ord_not_a_mapping", ["ord_x"], None])
async def test_metadata_that_is_not_an_object_falls_back_to_the_client_reference(
    pg_db: Database, metadata: Any
) -> None:
    hooks = processor(pg_db)
    order = await a_pending_order(pg_db)
    body = json.loads(session_completed(order))
    body["data"]["object"]["metadata"] = metadata
    outcome = await deliver(hooks, json.dumps(body).encode())
    assert outcome.outcome == "confirmed: order confirmed"
    assert (await stripe_event(pg_db, body["id"])).order_id == order.id
