"""Soak: a sustained sale of N minutes on the production set-up, with the resident memory of every process sampled
each second.

    .venv/bin/python -m benchmarks.soak                 # 10 minutes, results/soak.json and results/soak.svg
    .venv/bin/python -m benchmarks.soak --minutes 2     # a short run (soak-short.json / .svg)

Boxoffice as ``flash_sale`` serves it (``boxoffice serve --workers 2`` with ``BOXOFFICE_RUN_WORKER=false``, one
``boxoffice worker``, PostgreSQL, Redis, the standalone sandbox). One event with the shortest hold (5 minutes) and
three ticket types of a million tickets each: the sale never sells out. Orders (one line, of one of the three types;
or 1 to ``--max-lines`` lines) arrive at a steady ``--rate`` per second (open loop: each is due at its own time,
whatever the answers before it); ``--paid`` of them are paid at the sandbox (which sends Boxoffice its signed
webhook), the rest stay pending until their hold expires and the worker's sweeper releases them. The first
``--warmup`` minutes are a warm-up: memory growth is measured from their end. The ``.eml`` files of the confirmation
emails are deleted every 30 s (disk, not memory).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select

from benchmarks.flash_sale import RESULTS, bench_database, free_port, redis_url, wait_http
from benchmarks.loadgen import Connection, ProtocolError
from benchmarks.report import _table
from benchmarks.rss import GROWTH_HEAD, RssRecorder, growth, growth_rows, process_names, svg_chart
from benchmarks.services import box_env, process, sandbox_args, serve_args, stop_on_sigterm, worker_args
from boxoffice.db import Database
from boxoffice.events import service as events
from boxoffice.ticketing.models import Order
from boxoffice.ticketing.ticket_types import create_ticket_type

QUANTITY = 1_000_000  # the most a ticket type may have


async def make_event(db: Database) -> tuple[str, list[str]]:
    start = datetime.now(UTC) + timedelta(days=30)
    event = await events.create_event(
        db,
        "soak-organizer@example.com",
        events.EventInput(
            title="Soak", starts_at=start, ends_at=start + timedelta(hours=3), timezone="UTC", hold_minutes=5
        ),
    )
    ids = []
    for i in range(3):
        tt = await create_ticket_type(
            db, event.id, {"title": f"Soak {i}", "base_price_cents": 2500, "currency": "usd", "quantity": QUANTITY}
        )
        ids.append(tt.id)
    return event.id, ids


class Sale:
    """The open-loop load: order ``i`` is due at ``start + i / rate``; ``clients`` connections take them in turn."""

    def __init__(
        self, box_url: str, sandbox_url: str, event_id: str, ids: list[str], *, rate: float, paid: float, lines: int
    ) -> None:
        self.box, self.sandbox = urlsplit(box_url), urlsplit(sandbox_url)
        self.path = f"/api/v1/events/{event_id}/orders"
        self.ids, self.rate, self.paid_share, self.max_lines = ids, rate, paid, lines
        self.rng = random.Random(7)
        self.next = 0
        self.statuses: dict[str, int] = {}
        self.latencies_ms: list[float] = []
        self.placed = self.paid = self.pay_errors = 0
        self.late = 0  # orders sent more than a second after they were due (the servers fell behind)

    def body(self, i: int) -> bytes:
        count = self.rng.randint(1, self.max_lines)
        lines = [{"ticket_id": t, "quantity": 1} for t in self.rng.sample(self.ids, count)]
        return json.dumps({"email": f"soak{i}@example.com", "name": f"Buyer {i}", "lines": lines}).encode()

    async def client(self, start: float, until: float) -> None:
        shop = Connection(self.box.hostname or "127.0.0.1", self.box.port or 80)
        stripe = Connection(self.sandbox.hostname or "127.0.0.1", self.sandbox.port or 80)
        try:
            while True:
                i, self.next = self.next, self.next + 1
                due = start + i / self.rate
                if due >= until:
                    return
                now = time.monotonic()
                if due > now:
                    await asyncio.sleep(due - now)
                elif now - due > 1:
                    self.late += 1
                t0 = time.perf_counter()
                try:
                    reply = await shop.post(self.path, self.body(i))
                except (OSError, ProtocolError, asyncio.IncompleteReadError) as exc:
                    self.statuses[type(exc).__name__] = self.statuses.get(type(exc).__name__, 0) + 1
                    await shop.close()
                    continue
                self.latencies_ms.append((time.perf_counter() - t0) * 1000)
                self.statuses[str(reply.status_code)] = self.statuses.get(str(reply.status_code), 0) + 1
                if reply.status_code != 201:
                    continue
                self.placed += 1
                if self.rng.random() >= self.paid_share:
                    continue  # left pending: its hold expires
                session = urlsplit(reply.json()["checkout_url"]).path.rsplit("/", 1)[-1]
                done = None
                for _ in range(2):  # once more on a new connection: the sandbox closes one idle for 5 s
                    try:
                        done = await stripe.post(f"/_sandbox/sessions/{session}/complete", b'{"outcome": "pay"}')
                        break
                    except (OSError, ProtocolError, asyncio.IncompleteReadError):
                        await stripe.close()
                if done is not None and done.status_code == 200:
                    self.paid += 1
                else:
                    self.pay_errors += 1
                    kind = f"pay:{done.status_code if done is not None else 'transport'}"
                    self.statuses[kind] = self.statuses.get(kind, 0) + 1
        finally:
            await shop.close()
            await stripe.close()


async def purge_mail(folder: Path, stop: asyncio.Event) -> None:
    while not stop.is_set():
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), 30)
        for path in folder.glob("*.eml"):
            with contextlib.suppress(OSError):
                path.unlink()


async def order_counts(db: Database, event_id: str) -> dict[str, int]:
    async with db.read() as session:
        rows = await session.execute(
            select(Order.status, func.count()).where(Order.event_id == event_id).group_by(Order.status)
        )
        return {str(status): int(n) for status, n in rows}


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))], 1)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    logs = Path(tempfile.mkdtemp(prefix="boxoffice-soak-"))
    print(f"logs: {logs}", flush=True)
    (logs / "mail").mkdir()
    async with bench_database() as (db_url, _dsn):
        db = Database(db_url, pool_size=2)
        redis = await redis_url()
        event_id, ids = await make_event(db)
        sandbox_port, box_port = free_port(), free_port()
        box_url, sandbox_url = f"http://127.0.0.1:{box_port}", f"http://127.0.0.1:{sandbox_port}"
        env = box_env(db_url, box_url, sandbox_port, logs, redis)
        with (
            process(sandbox_args(sandbox_port, f"{box_url}/webhooks/stripe"), dict(os.environ), logs / "sb.log") as sb,
            process(serve_args(box_port, 2), {**env, "BOXOFFICE_RUN_WORKER": "false"}, logs / "serve.log") as web,
            process(worker_args(), env, logs / "worker.log") as worker,
        ):
            await wait_http(f"{sandbox_url}/_sandbox/health")
            await wait_http(f"{box_url}/healthz")
            await asyncio.sleep(3)  # both web workers up
            names = process_names({"web": web.pid})
            names.update({"worker": worker.pid, "sandbox (test tool)": sb.pid})
            sale = Sale(box_url, sandbox_url, event_id, ids, rate=args.rate, paid=args.paid, lines=args.max_lines)
            stop = asyncio.Event()
            purger = asyncio.create_task(purge_mail(logs / "mail", stop))
            seconds = args.minutes * 60
            with RssRecorder(names) as recorder:
                start = time.monotonic()
                await asyncio.gather(*(sale.client(start, start + seconds) for _ in range(args.clients)))
                elapsed = time.monotonic() - start

                async def settled() -> dict[str, int]:  # the last webhooks confirm their orders
                    deadline = time.monotonic() + 180
                    while True:
                        counts = await order_counts(db, event_id)
                        if counts.get("confirmed", 0) >= sale.paid or time.monotonic() > deadline:
                            return counts
                        await asyncio.sleep(1)

                counts = await settled()
            stop.set()
            await purger
        await db.dispose()
    warmup_s = args.warmup * 60
    errors = [
        line for line in (logs / "serve.log").read_text(errors="replace").splitlines() if '"level": "error"' in line
    ]
    return {
        "server_errors_logged": len(errors),
        "deadlocks_logged": sum("deadlock detected" in line for line in errors),
        "when": datetime.now(UTC).isoformat(),
        "cpus": os.cpu_count(),
        "minutes": args.minutes,
        "warmup_minutes": args.warmup,
        "rate_asked": args.rate,
        "rate_per_s": round(sale.placed / elapsed, 1),
        "clients": args.clients,
        "max_lines": args.max_lines,
        "orders_placed": sale.placed,
        "paid_at_sandbox": sale.paid,
        "pay_errors": sale.pay_errors,
        "late": sale.late,
        "statuses": sale.statuses,
        "p50_ms": percentile(sale.latencies_ms, 50),
        "p99_ms": percentile(sale.latencies_ms, 99),
        "orders": counts,
        "series": recorder.series,
        "growth": growth(recorder.series, warmup_s),
    }


def render(result: dict[str, Any], chart: str) -> str:
    """The README's soak section body: what ran, the orders, memory growth after warm-up, and the chart."""
    orders = result["orders"]
    statuses = ", ".join(f"{n} x {code}" for code, n in sorted(result["statuses"].items()))
    lines = [
        f"Run of {result['when'][:16].replace('T', ' ')} UTC: {result['minutes']} minutes at {result['rate_asked']} "
        f"orders/s asked ({result['rate_per_s']} placed/s, {result['clients']} connections), the first "
        f"{result['warmup_minutes']} minutes counted as warm-up.",
        "",
        f"Orders: {result['orders_placed']} placed ({statuses}; p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms, "
        f"{result['late']} sent more than 1 s late), {result['paid_at_sandbox']} paid at the sandbox "
        f"({result['pay_errors']} payment errors); in the database: "
        + ", ".join(f"{n} {status}" for status, n in sorted(orders.items()))
        + f". Errors in the web processes' log: {result['server_errors_logged']} "
        f"({result['deadlocks_logged']} of them PostgreSQL deadlocks).",
        "",
        *_table(GROWTH_HEAD, growth_rows(result["growth"])),
        "",
        f"![RSS of every process, sampled each second]({chart})",
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the sale (default 10)")
    parser.add_argument("--warmup", type=float, help="minutes of warm-up (default a fifth of the run, at most 2)")
    parser.add_argument("--rate", type=float, default=15.0, help="orders per second (default 15)")
    parser.add_argument("--paid", type=float, default=0.7, help="share of the orders paid (default 0.7)")
    parser.add_argument("--clients", type=int, default=16, help="connections (default 16)")
    parser.add_argument(
        "--max-lines",
        type=int,
        default=1,
        choices=(1, 2, 3),
        help="lines per order, 1 to this (default 1: multi-line orders paid concurrently deadlock, see the README)",
    )
    args = parser.parse_args()
    if args.warmup is None:
        args.warmup = min(2.0, args.minutes / 5)
    stop_on_sigterm()
    result = asyncio.run(run(args))
    name = "soak" if args.minutes >= 10 else "soak-short"
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=1))
    title = f"Soak, {result['minutes']:g} minutes at {result['rate_asked']:g} orders/s: RSS of every process"
    (RESULTS / f"{name}.svg").write_text(svg_chart(result["series"], title=title, warmup_s=args.warmup * 60, every=5))
    print(render(result, f"results/{name}.svg"))
    return 0 if result["pay_errors"] == 0 and result["orders"].get("confirmed", 0) == result["paid_at_sandbox"] else 1


if __name__ == "__main__":
    sys.exit(main())
