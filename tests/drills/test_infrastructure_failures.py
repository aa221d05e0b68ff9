"""Drills: Redis stopped and restarted during a sale, Redis hung (SIGSTOP) and resumed, PostgreSQL connections dropped
during a sale, SMTP down for the whole sale. Each asserts the end state, never timings."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select, text

from boxoffice.db import Database
from boxoffice.notifications.models import EmailMessage
from boxoffice.ticketing.models import Order, OrderLine
from tests.helpers import Inbox, eventually, make_event, make_ticket
from tests.processes import boxoffice, free_port, server_env, wait_up

REDIS_SERVER = shutil.which("redis-server")


def redis_process(port: int, tmp: Path) -> subprocess.Popen[bytes]:
    assert REDIS_SERVER is not None
    return subprocess.Popen(
        [
            REDIS_SERVER,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def wait_port(port: int) -> None:
    for _ in range(200):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            await asyncio.sleep(0.05)
    raise AssertionError(f"port {port} did not open")


async def frames(stream: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    async for line in stream.aiter_lines():
        if line.startswith("data: "):
            yield json.loads(line[6:])


@dataclass
class RedisSale:
    """A Boxoffice server on its own Redis, a sale of 100 tickets, and a client watching its live availability."""

    redis: subprocess.Popen[bytes]
    redis_port: int
    url: str
    client: httpx.AsyncClient
    updates: AsyncIterator[dict[str, Any]]
    ticket_id: str
    event_id: str

    async def buy(self, email: str) -> int:
        r = await self.client.post(
            f"{self.url}/api/v1/events/{self.event_id}/orders",
            json={"email": email, "lines": [{"ticket_id": self.ticket_id, "quantity": 1}]},
        )
        return r.status_code

    async def until_available(self, available: int, timeout: float) -> None:
        """Read the live stream until it shows ``available`` tickets left (it catches up after Redis is back)."""
        while True:
            update = await asyncio.wait_for(anext(self.updates), timeout)
            if update.get("type") == "availability" and update["ticket_types"][0]["available"] == available:
                return


@asynccontextmanager
async def redis_sale(fresh_pg: tuple[str, Database], tmp_path: Path) -> AsyncIterator[RedisSale]:
    pg_url, pg_db = fresh_pg
    if REDIS_SERVER is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is required for this drill under CI")
        pytest.skip("no redis-server binary")
    redis_port, port = free_port(), free_port()
    redis = redis_process(redis_port, tmp_path)
    await wait_port(redis_port)
    env = server_env(pg_url, port, tmp_path, BOXOFFICE_REDIS_URL=f"redis://127.0.0.1:{redis_port}/0")
    server = boxoffice(port, env, tmp_path / "server.log").start()
    event = await make_event(pg_db)
    tt = await make_ticket(pg_db, event.id, quantity=100)
    url = f"http://127.0.0.1:{port}"
    sale: RedisSale | None = None
    try:
        await wait_up(f"{url}/healthz")
        async with (
            httpx.AsyncClient(timeout=30) as client,
            client.stream("GET", f"{url}/api/v1/events/{event.id}/stream") as sse,
        ):
            sale = RedisSale(redis, redis_port, url, client, frames(sse), tt.id, event.id)
            assert (await asyncio.wait_for(anext(sale.updates), 15))["ticket_types"][0]["available"] == 100
            yield sale
    finally:
        server.stop()
        redis = sale.redis if sale is not None else redis
        redis.send_signal(signal.SIGCONT)  # a hung one must wake to end
        redis.terminate()
        redis.wait(10)


async def test_redis_down_and_back_during_a_sale(fresh_pg: tuple[str, Database], tmp_path: Path) -> None:
    async with redis_sale(fresh_pg, tmp_path) as sale:
        assert await sale.buy("redis0@example.com") == 201
        sale.redis.terminate()
        sale.redis.wait(10)
        during = await asyncio.gather(*(sale.buy(f"redis{n}@example.com") for n in range(1, 11)))
        assert during == [201] * 10  # pub/sub degrades, sales go on
        ready = (await sale.client.get(f"{sale.url}/readyz")).json()
        assert ready["checks"]["pubsub"].startswith("degraded")
        sale.redis = redis_process(sale.redis_port, tmp_path)
        await wait_port(sale.redis_port)
        await sale.until_available(89, timeout=30)  # the stream catches up once the broker reconnects
        assert await sale.buy("redis11@example.com") == 201


async def test_redis_hung_during_a_sale_then_resumed(fresh_pg: tuple[str, Database], tmp_path: Path) -> None:
    """A Redis that stops answering (SIGSTOP: its connections stay open, nothing comes back) must not stop sales."""
    async with redis_sale(fresh_pg, tmp_path) as sale:
        assert await sale.buy("hung0@example.com") == 201
        sale.redis.send_signal(signal.SIGSTOP)
        during = await asyncio.gather(*(sale.buy(f"hung{n}@example.com") for n in range(1, 11)))
        assert during == [201] * 10  # nothing on the order path waits for Redis
        assert (await sale.client.get(f"{sale.url}/healthz")).status_code == 200
        sale.redis.send_signal(signal.SIGCONT)
        await sale.until_available(89, timeout=60)  # the stream reaches the current availability once Redis answers
        assert await sale.buy("hung11@example.com") == 201


async def test_postgres_connections_dropped_during_a_sale(fresh_pg: tuple[str, Database], tmp_path: Path) -> None:
    pg_url, pg_db = fresh_pg
    port = free_port()
    server = boxoffice(port, server_env(pg_url, port, tmp_path), tmp_path / "server.log").start()
    event = await make_event(pg_db)
    tt = await make_ticket(pg_db, event.id, quantity=500)
    url = f"http://127.0.0.1:{port}"
    statuses: list[int] = []
    retry_after: list[str] = []
    try:
        await wait_up(f"{url}/healthz")
        async with httpx.AsyncClient(timeout=30) as client:

            async def buyer(n: int) -> None:
                for k in range(15):
                    r = await client.post(
                        f"{url}/api/v1/events/{event.id}/orders",
                        json={"email": f"pg{n}-{k}@example.com", "lines": [{"ticket_id": tt.id, "quantity": 1}]},
                    )
                    statuses.append(r.status_code)
                    if r.status_code == 503:
                        retry_after.append(r.headers.get("retry-after", ""))

            async def drop_connections() -> None:
                for _ in range(3):
                    await asyncio.sleep(0.3)
                    async with pg_db.read() as session:
                        await session.execute(
                            text(
                                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                            )
                        )

            await asyncio.gather(*(buyer(n) for n in range(8)), drop_connections())

            # One drop that certainly lands inside a request: the ticket type's row is locked, so the reservation
            # waits in PostgreSQL (seen in pg_stat_activity: the statement, or on PostgreSQL the function that runs
            # it, ``locked_first``); its connection is terminated there.
            async with pg_db.engine.connect() as blocker:
                transaction = await blocker.begin()
                await blocker.execute(text("SELECT id FROM ticket_types WHERE id = :id FOR UPDATE"), {"id": tt.id})
                waiting = (
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' "
                    "AND (query LIKE '%ticket_types%' OR query LIKE '%boxoffice_reserve_%')"
                )
                pids: list[int] = []
                for attempt in range(20):
                    inside = asyncio.create_task(
                        client.post(
                            f"{url}/api/v1/events/{event.id}/orders",
                            json={
                                "email": f"inside{attempt}@example.com",
                                "lines": [{"ticket_id": tt.id, "quantity": 1}],
                            },
                        )
                    )
                    while not inside.done() and not pids:
                        async with pg_db.read() as session:
                            pids = list((await session.scalars(text(waiting))).all())
                        await asyncio.sleep(0.02)
                    if pids:
                        break
                    # it ended before reaching the lock (a pooled connection the drops above had killed: 503)
                    statuses.append((await inside).status_code)
                assert pids, "no reservation ever waited on the locked row"
                async with pg_db.read() as session:
                    for pid in pids:
                        await session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
                answer = await inside
                await transaction.rollback()
            assert answer.status_code == 503 and answer.headers.get("retry-after")
            assert answer.headers["content-type"].startswith("application/problem+json")
            statuses.append(answer.status_code)

            async def recovered() -> bool:
                r = await client.post(
                    f"{url}/api/v1/events/{event.id}/orders",
                    json={"email": "after@example.com", "lines": [{"ticket_id": tt.id, "quantity": 1}]},
                )
                return r.status_code == 201

            await eventually(recovered, timeout=30)
    finally:
        server.stop()
    assert set(statuses) <= {201, 503}, sorted(set(statuses))
    assert 503 in statuses
    assert all(value for value in retry_after)
    # None half-applied: every order has its line, and the hold counter equals the held lines.
    async with pg_db.read() as session:
        orders = await session.scalar(select(func.count()).select_from(Order).where(Order.event_id == event.id))
        lines = await session.scalar(
            select(func.coalesce(func.sum(OrderLine.quantity), 0))
            .join(Order, Order.id == OrderLine.order_id)
            .where(Order.event_id == event.id, Order.status == "pending")
        )
        held = await session.scalar(text("SELECT held_count FROM ticket_types WHERE id = :id"), {"id": tt.id})
    assert held == lines == orders
    assert orders is not None and orders >= statuses.count(201)


async def test_smtp_down_for_the_whole_sale_then_up(fresh_pg: tuple[str, Database], tmp_path: Path) -> None:
    pg_url, pg_db = fresh_pg
    smtp_port, port = free_port(), free_port()
    env = server_env(
        pg_url,
        port,
        tmp_path,
        BOXOFFICE_SMTP_URL=f"smtp://127.0.0.1:{smtp_port}?timeout=2",
        BOXOFFICE_EMAIL_RETRY_SECONDS="0.5",
    )
    server = boxoffice(port, env, tmp_path / "server.log").start()
    event = await make_event(pg_db)
    tt = await make_ticket(pg_db, event.id, base_price_cents=0, quantity=50)  # free: confirmed at once
    url = f"http://127.0.0.1:{port}"
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    try:
        await wait_up(f"{url}/healthz")
        async with httpx.AsyncClient(timeout=30) as client:
            for n in range(8):
                r = await client.post(
                    f"{url}/api/v1/events/{event.id}/orders",
                    json={"email": f"smtp{n}@example.com", "lines": [{"ticket_id": tt.id, "quantity": 1}]},
                )
                assert r.status_code == 201 and r.json()["status"] == "confirmed"

        async def attempted() -> bool:
            async with pg_db.read() as session:
                rows = (await session.scalars(select(EmailMessage).where(EmailMessage.event_id == event.id))).all()
            return len(rows) == 8 and all(row.attempts >= 1 and row.status == "pending" for row in rows)

        await eventually(attempted, timeout=30)
        controller.start()

        async def delivered() -> bool:
            async with pg_db.read() as session:
                sent = await session.scalar(
                    select(func.count())
                    .select_from(EmailMessage)
                    .where(EmailMessage.event_id == event.id, EmailMessage.status == "sent")
                )
            return sent == 8

        await eventually(delivered, timeout=60)
    finally:
        server.stop()
        controller.stop(no_assert=True)
    ids = inbox.message_ids()
    assert len(ids) == 8 and len(set(ids)) == 8
