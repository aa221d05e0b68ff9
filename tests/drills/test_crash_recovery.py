"""Drill: SIGKILL the server while webhooks are being processed, while checkouts are being created and while an
email is being sent, restart it, let the sandbox retry its webhooks. Every paid order ends confirmed exactly once,
with one ticket holder and one email; the orders killed mid-checkout are resumed by their buyers' retries with one
Checkout Session each; every unpaid hold is released by its expiry; sold + held never exceeds the quantity at any
sampled moment. Each kill is checked to have landed inside the step it targets before it is made.

Runs in CI with 24 buyers; ``BOXOFFICE_DRILL_BUYERS=200`` for the full size."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import threading
from collections import Counter
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session
from sqlalchemy import func, select, text

from boxoffice.clock import utcnow
from boxoffice.db import Database
from boxoffice.events import service as events
from boxoffice.notifications.models import EmailMessage
from boxoffice.outbox.models import OutboxMessage
from boxoffice.ticketing.orders import get_order, list_orders, list_tickets, release_expired_holds
from boxoffice.ticketing.ticket_types import get_ticket_type
from tests.helpers import Inbox, eventually, make_event, make_ticket, until_answered, waiting_on_locks
from tests.processes import boxoffice, free_port, paid_server, server_env, wait_up

BUYERS = int(os.environ.get("BOXOFFICE_DRILL_BUYERS", "24"))


async def test_sigkill_during_webhooks_and_checkout(fresh_pg: tuple[str, Database], tmp_path: Path) -> None:
    pg_url, pg_db = fresh_pg
    pair = paid_server(
        pg_url,
        tmp_path,
        BOXOFFICE_EMAIL_RETRY_SECONDS="0.5",
        BOXOFFICE_EMAIL_CLAIM_SECONDS="2",
        BOXOFFICE_OUTBOX_CLAIM_SECONDS="2",
    )
    server, stripe, box_url, sb_url = pair.server, pair.stripe, pair.box_url, pair.sb_url
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

            # Kill the server while the webhooks of the first payments are being processed: the ticket type's row is
            # locked, so their confirmations wait inside PostgreSQL (seen in pg_stat_activity) when the kill comes.
            async with pg_db.engine.connect() as blocker:
                transaction = await blocker.begin()
                await blocker.execute(text("SELECT id FROM ticket_types WHERE id = :id FOR UPDATE"), {"id": tt.id})
                first = asyncio.gather(*(pay(s) for _, s, _ in paid[: len(paid) // 2]))

                async def confirmations_waiting() -> bool:
                    return await waiting_on_locks(pg_db) >= 1

                await eventually(confirmations_waiting, timeout=30)
                server.kill()
                await transaction.rollback()
            await first
            assert not any(
                [(await get_order(pg_db, oid)).status == "confirmed" for oid, _, _ in paid[: len(paid) // 2]]
            )  # the kill came before any of them was confirmed
            await asyncio.gather(*(pay(s) for _, s, _ in paid[len(paid) // 2 :]))  # paid while the server is down
            server.start()
            await wait_up(f"{box_url}/healthz")

            # Kill it again in the middle of creating checkout sessions (Stripe answering slowly): every late order
            # is seen committed without its session before the kill.
            await client.post(f"{sb_url}/_sandbox/faults", json={"checkout_latency_ms": 5000})
            late = [
                (
                    f"late-{i}-{secrets.token_hex(8)}",
                    {"email": f"late{i}@example.com", "lines": [{"ticket_id": tt.id, "quantity": 1}]},
                )
                for i in range(3)
            ]

            async def order_late(key: str, body: dict[str, Any]) -> httpx.Response:
                return await client.post(
                    f"{box_url}/api/v1/events/{event.id}/orders", json=body, headers={"Idempotency-Key": key}
                )

            in_flight = [asyncio.create_task(order_late(key, body)) for key, body in late]

            async def late_in_checkout() -> bool:
                orders = await list_orders(pg_db, event.id, limit=1000)
                return sum(1 for o in orders if o.email.startswith("late") and o.checkout_url is None) == len(late)

            await eventually(late_in_checkout, timeout=30)
            server.kill()
            for task in in_flight:
                with contextlib.suppress(httpx.HTTPError):
                    await task
            await client.post(f"{sb_url}/_sandbox/faults", json={"checkout_latency_ms": 0})
            server.start()
            await wait_up(f"{box_url}/healthz")
            # Their buyers retry with the same key: each gets their order back, its checkout resumed.
            resumed = []
            for key, body in late:
                r = await until_answered(partial(order_late, key, body))
                assert r.status_code == 201 and r.json()["checkout_url"], r.text
                resumed.append(r.json()["id"])
            assert len(set(resumed)) == len(late)

            async def all_paid_confirmed() -> bool:
                statuses = [(await get_order(pg_db, oid)).status for oid, _, _ in paid]
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
        assert len(await list_tickets(pg_db, order_id)) == qty
    holders = await events.list_participants(pg_db, event.id, role="ticket_holder")
    assert len(holders) == len(paid) and len({p.person_id for p, _ in holders}) == len(paid)
    # Nothing was charged twice: at most one Checkout Session per order.
    per_order = Counter(s["client_reference_id"] for s in sessions)
    assert max(per_order.values()) == 1
    assert all(per_order[order_id] == 1 for order_id in resumed)  # the resumed ones got exactly one

    # Unpaid holds end at their expiry.
    await release_expired_holds(pg_db, now=utcnow() + timedelta(hours=2))
    for order_id, _, _ in unpaid:
        assert (await get_order(pg_db, order_id)).status == "expired"
    final = await get_ticket_type(pg_db, tt.id)
    assert final.sold_count == sum(q for _, _, q in paid)
    assert final.held_count == 0
    assert violations == []


class BlockingInbox(Inbox):
    """An SMTP server whose first DATA waits (in its own thread's loop) until released: the drill kills the sender
    while it is there, inside the send."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()
        self._first = True

    async def handle_DATA(self, server: object, session: Session, envelope: Envelope) -> str:
        if self._first:
            self._first = False
            self.entered.set()
            await asyncio.get_running_loop().run_in_executor(None, self.release.wait, 60)
            return "451 try again later"  # the sender is dead by now: nothing was accepted
        return await super().handle_DATA(server, session, envelope)


async def test_sigkill_while_an_email_is_being_sent(fresh_pg: tuple[str, Database], tmp_path: Path) -> None:
    pg_url, pg_db = fresh_pg
    smtp_port, port = free_port(), free_port()
    env = server_env(
        pg_url,
        port,
        tmp_path,
        BOXOFFICE_SMTP_URL=f"smtp://127.0.0.1:{smtp_port}?timeout=60",
        BOXOFFICE_EMAIL_RETRY_SECONDS="0.5",
        BOXOFFICE_EMAIL_CLAIM_SECONDS="2",
        BOXOFFICE_OUTBOX_CLAIM_SECONDS="2",
    )
    server = boxoffice(port, env, tmp_path / "server.log")
    event = await make_event(pg_db)
    tt = await make_ticket(pg_db, event.id, base_price_cents=0, quantity=10)  # free: confirmed and emailed at once
    url = f"http://127.0.0.1:{port}"
    inbox = BlockingInbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    server.start()
    try:
        await wait_up(f"{url}/healthz")
        async with httpx.AsyncClient(timeout=30) as client:
            orders = []
            for n in range(3):
                r = await client.post(
                    f"{url}/api/v1/events/{event.id}/orders",
                    json={"email": f"mail{n}@example.com", "lines": [{"ticket_id": tt.id, "quantity": 1}]},
                )
                assert r.status_code == 201 and r.json()["status"] == "confirmed", r.text
                orders.append(r.json()["id"])

        async def sending() -> bool:
            return inbox.entered.is_set()

        await eventually(sending, timeout=30)
        async with pg_db.read() as session:
            claimed = (
                await session.scalars(
                    select(EmailMessage).where(EmailMessage.event_id == event.id, EmailMessage.attempts >= 1)
                )
            ).all()
        assert claimed and all(e.status == "pending" and e.locked_until for e in claimed)  # inside the send
        server.kill()
        inbox.release.set()
        server.start()

        async def all_sent() -> list[EmailMessage] | None:
            async with pg_db.read() as session:
                rows = list(
                    (await session.scalars(select(EmailMessage).where(EmailMessage.event_id == event.id))).all()
                )
            return rows if len(rows) == 3 and all(e.status == "sent" for e in rows) else None

        sent = await eventually(all_sent, timeout=60)
    finally:
        server.stop()
        inbox.release.set()
        controller.stop(no_assert=True)
    assert sorted(e.order_id for e in sent) == sorted(orders)
    assert max(e.attempts for e in sent) >= 2  # the interrupted one was sent again after its claim ran out
    ids = inbox.message_ids()
    assert len(ids) == 3 and len(set(ids)) == 3  # each order's email accepted once
