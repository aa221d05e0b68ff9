"""Drill: a buyer's retry after the server died in the middle of creating their order.

Kills land inside the step they target, and the drill checks that they did before killing:
- inside the reservation: the ticket type's row is locked from another connection, so every reservation statement
  waits in PostgreSQL (seen in ``pg_stat_activity``); the server is SIGKILLed, then the lock released. The orphaned
  statements may still commit (the answer is lost, the order exists) or not: either way the retry must find or make
  exactly one order.
- inside the Checkout Session call: the sandbox answers slowly, and every order is seen committed without a session
  before the kill.
After a restart every buyer retries with the same ``Idempotency-Key`` and body (waiting when told ``Retry-After``):
each gets their one order back with a checkout URL, there is one order per buyer, one Checkout Session per order,
and exactly their tickets are held."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from boxoffice.db import Database
from boxoffice.ticketing.orders import list_orders
from boxoffice.ticketing.ticket_types import get_ticket_type
from tests.helpers import eventually, make_event, make_ticket, until_answered, waiting_on_locks
from tests.processes import paid_server, wait_up

PER_STEP = 6  # buyers killed in each step (below the server's pool of 10 connections)


async def test_every_buyer_gets_their_one_order_back_after_kills_in_each_step(
    fresh_pg: tuple[str, Database], tmp_path: Path
) -> None:
    pg_url, pg_db = fresh_pg
    paid = paid_server(pg_url, tmp_path)
    server, stripe, box_url, sb_url = paid.server, paid.stripe, paid.box_url, paid.sb_url
    event = await make_event(pg_db)
    tt = await make_ticket(pg_db, event.id, quantity=100)
    buyers: list[dict[str, Any]] = [
        {
            "key": str(uuid.uuid4()),
            "body": {
                "email": f"retry{i}@example.com",
                "name": f"Buyer {i}",
                "lines": [{"ticket_id": tt.id, "quantity": 1 + i % 3}],
            },
        }
        for i in range(2 * PER_STEP)
    ]
    in_reservation, in_checkout = buyers[:PER_STEP], buyers[PER_STEP:]

    async def post(client: httpx.AsyncClient, buyer: dict[str, Any]) -> httpx.Response:
        return await client.post(
            f"{box_url}/api/v1/events/{event.id}/orders", json=buyer["body"], headers={"Idempotency-Key": buyer["key"]}
        )

    async def orders_without_session(emails: set[str]) -> int:
        return sum(
            1
            for o in await list_orders(pg_db, event.id, limit=500)
            if o.email in emails and o.status == "pending" and o.stripe_checkout_session_id is None
        )

    stripe.start()
    server.start()
    try:
        await wait_up(f"{sb_url}/_sandbox/health")
        await wait_up(f"{box_url}/healthz")
        async with httpx.AsyncClient(timeout=60) as client:
            # 1. Killed inside the reservation.
            async with pg_db.engine.connect() as blocker:
                transaction = await blocker.begin()
                await blocker.execute(text("SELECT id FROM ticket_types WHERE id = :id FOR UPDATE"), {"id": tt.id})
                first = [asyncio.create_task(post(client, b)) for b in in_reservation]

                async def all_waiting() -> bool:
                    return await waiting_on_locks(pg_db) == PER_STEP

                await eventually(all_waiting, timeout=30)  # every reservation is inside its statement
                server.kill()
                for task in first:
                    with contextlib.suppress(httpx.HTTPError):
                        await task
                await transaction.commit()
            # 2. Killed inside the Checkout Session call.
            await client.post(f"{sb_url}/_sandbox/faults", json={"checkout_latency_ms": 5000})
            server.start()
            await wait_up(f"{box_url}/healthz")
            second = [asyncio.create_task(post(client, b)) for b in in_checkout]
            emails = {b["body"]["email"] for b in in_checkout}

            async def all_in_checkout() -> bool:
                return await orders_without_session(emails) == PER_STEP

            await eventually(all_in_checkout, timeout=30)  # every order committed, no session stored yet
            server.kill()
            for task in second:
                with contextlib.suppress(httpx.HTTPError):
                    await task
            await client.post(f"{sb_url}/_sandbox/faults", json={"checkout_latency_ms": 0})
            server.start()
            await wait_up(f"{box_url}/healthz")

            # 3. Every buyer retries with the same key and body until answered.
            async def retry(buyer: dict[str, Any]) -> dict[str, Any]:
                r = await until_answered(lambda: post(client, buyer))
                assert r.status_code == 201, r.text
                answer: dict[str, Any] = r.json()
                return answer

            answers = await asyncio.gather(*(retry(b) for b in buyers))
            sessions = (await client.get(f"{sb_url}/_sandbox/sessions")).json()["data"]
    finally:
        server.stop()
        stripe.stop()

    orders = await list_orders(pg_db, event.id, limit=500)
    by_email = {o.email: o for o in orders}
    assert len(orders) == len(buyers) == len(by_email)  # one order per buyer
    for buyer, answer in zip(buyers, answers, strict=True):
        order = by_email[buyer["body"]["email"]]
        assert answer["id"] == order.id and answer["status"] == "pending" and answer["checkout_url"]
        assert answer["token"]  # the retry carries the key and body of the first request: it gets the token
    for buyer in in_checkout:  # these orders existed before the kill: the retry returned them
        assert by_email[buyer["body"]["email"]].checkout_attempt == 0
    per_order = Counter(s["client_reference_id"] for s in sessions)
    assert set(per_order) == {o.id for o in orders} and max(per_order.values()) == 1
    final = await get_ticket_type(pg_db, tt.id)
    assert final.held_count == sum(b["body"]["lines"][0]["quantity"] for b in buyers)
