"""Drill: SIGKILL the server while webhooks are being processed and while checkouts are being created, restart it,
let the sandbox retry its webhooks. Every paid order ends confirmed exactly once, with one ticket holder and one
email; every unpaid hold is released by its expiry; sold + held never exceeds the quantity at any sampled moment.

Runs in CI with 24 buyers; ``BOXOFFICE_DRILL_BUYERS=200`` for the full size."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from collections import Counter
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import func, select, text

from boxoffice.clock import utcnow
from boxoffice.db import Database
from boxoffice.events import service as events
from boxoffice.notifications.models import EmailMessage
from boxoffice.outbox.models import OutboxMessage
from boxoffice.ticketing import service as ticketing
from tests.helpers import eventually, make_event, make_ticket
from tests.processes import boxoffice, free_port, sandbox, server_env, wait_up

BUYERS = int(os.environ.get("BOXOFFICE_DRILL_BUYERS", "24"))


async def test_sigkill_during_webhooks_and_checkout(fresh_pg: tuple[str, Database], tmp_path: Path) -> None:
    pg_url, pg_db = fresh_pg
    key, secret = f"sk_test_drill{secrets.token_hex(8)}", f"whsec_drill{secrets.token_hex(8)}"
    sb_port, box_port = free_port(), free_port()
    box_url, sb_url = f"http://127.0.0.1:{box_port}", f"http://127.0.0.1:{sb_port}"
    stripe = sandbox(
        sb_port, key=key, webhook_url=f"{box_url}/webhooks/stripe", secret=secret, log=tmp_path / "sandbox.log"
    )
    env = server_env(
        pg_url,
        box_port,
        tmp_path,
        STRIPE_SECRET_KEY=key,
        STRIPE_WEBHOOK_SECRETS=secret,
        STRIPE_API_BASE=sb_url,
        BOXOFFICE_EMAIL_RETRY_SECONDS="0.5",
    )
    server = boxoffice(box_port, env, tmp_path / "server.log")
    event = await make_event(pg_db)
    quantity = BUYERS * 2
    tt = await make_ticket(pg_db, event.id, quantity=quantity)
    violations: list[tuple[int, int, int]] = []
    sampling = True

    async def sample() -> None:
        while sampling:
            async with pg_db.read() as session:
                row = (
                    await session.execute(
                        text("SELECT quantity, sold_count, held_count FROM ticket_types WHERE id = :id"), {"id": tt.id}
                    )
                ).one()
            if row[1] + row[2] > row[0]:
                violations.append(tuple(row))
            await asyncio.sleep(0.02)

    sampler = asyncio.create_task(sample())
    stripe.start()
    server.start()
    try:
        await wait_up(f"{sb_url}/_sandbox/health")
        await wait_up(f"{box_url}/healthz")
        async with httpx.AsyncClient(timeout=30) as client:

            async def buy(i: int) -> tuple[str, str, int]:
                qty = 1 + i % 2
                r = await client.post(
                    f"{box_url}/api/v1/events/{event.id}/orders",
                    json={
                        "email": f"drill{i}@example.com",
                        "name": f"Buyer {i}",
                        "lines": [{"ticket_id": tt.id, "quantity": qty}],
                    },
                )
                assert r.status_code == 201, r.text
                body = r.json()
                return body["id"], body["checkout_url"].rsplit("/", 1)[-1], qty

            orders = await asyncio.gather(*(buy(i) for i in range(BUYERS)))
            paid, unpaid = orders[: BUYERS * 3 // 4], orders[BUYERS * 3 // 4 :]

            async def pay(session_id: str) -> None:
                r = await client.post(f"{sb_url}/_sandbox/complete", json={"session_id": session_id, "outcome": "pay"})
                assert r.status_code == 200, r.text

            # Kill the server while the webhooks of the first payments are being processed.
            first = asyncio.gather(*(pay(s) for _, s, _ in paid[: len(paid) // 2]))
            await asyncio.sleep(0.15)
            server.kill()
            await first
            await asyncio.gather(*(pay(s) for _, s, _ in paid[len(paid) // 2 :]))  # paid while the server is down
            server.start()
            await wait_up(f"{box_url}/healthz")

            # Kill it again in the middle of creating checkout sessions (Stripe answering slowly).
            await client.post(f"{sb_url}/_sandbox/faults", json={"checkout_latency_ms": 1500})
            in_flight = [
                asyncio.create_task(
                    client.post(
                        f"{box_url}/api/v1/events/{event.id}/orders",
                        json={"email": f"late{i}@example.com", "lines": [{"ticket_id": tt.id, "quantity": 1}]},
                    )
                )
                for i in range(3)
            ]
            await asyncio.sleep(0.7)
            server.kill()
            for task in in_flight:
                with contextlib.suppress(httpx.HTTPError):
                    await task
            await client.post(f"{sb_url}/_sandbox/faults", json={"checkout_latency_ms": 0})
            server.start()
            await wait_up(f"{box_url}/healthz")

            async def all_paid_confirmed() -> bool:
                statuses = [(await ticketing.get_order(pg_db, oid)).status for oid, _, _ in paid]
                return all(s == "confirmed" for s in statuses)

            await eventually(all_paid_confirmed, timeout=90)

            async def all_emailed() -> bool:
                async with pg_db.read() as session:
                    sent = await session.scalar(
                        select(func.count())
                        .select_from(EmailMessage)
                        .where(EmailMessage.event_id == event.id, EmailMessage.status == "sent")
                    )
                return sent == len(paid)

            await eventually(all_emailed, timeout=60)
            sessions = (await client.get(f"{sb_url}/_sandbox/sessions")).json()["data"]
    finally:
        sampling = False
        await sampler
        server.stop()
        stripe.stop()

    # Exactly once: one confirmation event, one email, one ticket holder per paid order.
    async with pg_db.read() as session:
        confirmations = Counter(
            (
                await session.scalars(
                    select(OutboxMessage.payload["order_id"].as_string()).where(OutboxMessage.kind == "order.confirmed")
                )
            ).all()
        )
        emails = Counter(
            (await session.scalars(select(EmailMessage.order_id).where(EmailMessage.event_id == event.id))).all()
        )
    for order_id, _, qty in paid:
        assert confirmations[order_id] == 1
        assert emails[order_id] == 1
        assert len(await ticketing.list_tickets(pg_db, order_id)) == qty
    holders = await events.list_participants(pg_db, event.id, role="ticket_holder")
    assert len(holders) == len(paid) and len({p.person_id for p, _ in holders}) == len(paid)
    # Nothing was charged twice: at most one Checkout Session per order.
    per_order = Counter(s["client_reference_id"] for s in sessions)
    assert max(per_order.values()) == 1

    # Unpaid holds end at their expiry.
    await ticketing.release_expired_holds(pg_db, now=utcnow() + timedelta(hours=2))
    for order_id, _, _ in unpaid:
        assert (await ticketing.get_order(pg_db, order_id)).status == "expired"
    final = await ticketing.get_ticket_type(pg_db, tt.id)
    assert final.sold_count == sum(q for _, _, q in paid)
    assert final.held_count == 0
    assert violations == []
