"""Scale-out check: four web processes started as separate services on four ports, sharing PostgreSQL and Redis.

    .venv/bin/python -m benchmarks.scale_out                       # 2,000 tickets, 64 clients; results/scale-out.json
    .venv/bin/python -m benchmarks.scale_out --tickets 500         # a short run

Four ``boxoffice serve --port P`` (one process each, ``BOXOFFICE_RUN_WORKER=false``) and one ``boxoffice worker``,
with ``BOXOFFICE_REDIS_URL`` (pub/sub across processes), the standalone sandbox answering at once. Before the sale,
``--subscribers`` live streams per port (``GET /api/v1/events/{id}/stream``) are opened; the load client's
connections are spread evenly over the four ports; the sale of one ticket type runs until it is sold out. Then:
the rate; oversell read from the database (``sold + held`` against the quantity, and against the tickets of the
event's live orders); and the live updates. For reference, the same sale through one of the four ports alone follows.

What a live stream owes its client is the current state, not every message: availability coalesces per ticket type
(a slow stream sends fewer frames, each with the newest figures; ``realtime/broker.py``). So a stream "missed" a
ticket type when the last figures it showed for it are not the final ones: those of the newest availability message
the outbox published for that type, which must also be the database's counters. Reported per stream: the
availability frames received (live, and the state sent whole: first, then again after a reconnect or a resync),
whether a frame ever went back to an older outbox id, and the ticket types missed; and in all, the (stream, ticket
type) pairs missed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from benchmarks.flash_sale import (
    RESULTS,
    CpuMeter,
    bench_database,
    free_port,
    is_sold_out,
    make_sale,
    redis_url,
    wait_http,
    warm_up,
)
from benchmarks.loadgen import LoadResult, run_load
from benchmarks.report import _table
from benchmarks.services import box_env, process, sandbox_args, serve_args, stop_on_sigterm, worker_args
from boxoffice.db import Database
from boxoffice.outbox.models import OutboxMessage
from boxoffice.ticketing.models import Order, OrderLine, TicketType

PORTS = 4


Figures = dict[str, int]  # sold, held, available of one ticket type


def figures_of(entry: dict[str, Any]) -> Figures:
    return {"sold": int(entry["sold"]), "held": int(entry["held"]), "available": int(entry["available"])}


class Subscriber:
    """One live stream of an event's availability, read as the buyer page reads it: the last figures of each ticket
    type, and how many frames came (live ones carry their outbox ``id``; the state sent whole has none)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.frames = 0  # live availability frames
        self.snapshots = 0  # the state sent whole: first, then again after a broker reconnect or a resync
        self.went_back = 0  # live frames with an outbox id below an earlier frame's
        self.last_id = 0
        self.shown: dict[str, Figures] = {}  # ticket type id -> the figures last shown
        self.changed_at: dict[str, float] = {}  # ticket type id -> when (Unix time) its figures last changed
        self.open = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def _read(self) -> None:
        async with (
            httpx.AsyncClient(timeout=httpx.Timeout(10, read=None)) as client,
            client.stream("GET", self.url) as response,
        ):
            response.raise_for_status()
            current: int | None = None
            kind = ""
            async for line in response.aiter_lines():
                if line.startswith("id: "):
                    current = int(line[4:])
                elif line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: ") and kind == "availability":
                    if current is None:
                        self.snapshots += 1
                    else:
                        self.frames += 1
                        self.went_back += current < self.last_id
                        self.last_id = max(self.last_id, current)
                    for entry in json.loads(line[6:]).get("ticket_types") or []:
                        figures = figures_of(entry)
                        if self.shown.get(str(entry["id"])) != figures:
                            self.shown[str(entry["id"])] = figures
                            self.changed_at[str(entry["id"])] = time.time()
                    self.open.set()  # the first state arrived: subscribed
                elif not line:
                    current, kind = None, ""

    def missed(self, final: dict[str, Figures]) -> list[str]:
        """The ticket types whose last figures shown are not the final ones."""
        return sorted(tt for tt, figures in final.items() if self.shown.get(tt) != figures)

    def delay_ms(self, since: dict[str, datetime]) -> float:
        """How long after ``since`` (per ticket type) this stream showed the final figures, the slowest type's."""
        return max((self.changed_at[tt] - at.timestamp()) * 1000 for tt, at in since.items())

    def start(self) -> None:
        self.task = asyncio.create_task(self._read())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
                await self.task


def reconnects(logs: Path) -> int:
    """Times a web process lost its Redis pub/sub connection (each resends the current state to its streams)."""
    return sum(
        path.read_text(errors="replace").count("Redis pub/sub connection lost") for path in logs.glob("serve-*.log")
    )


async def outbox_high_water(db: Database) -> int:
    async with db.read() as session:
        return int(await session.scalar(select(func.coalesce(func.max(OutboxMessage.id), 0))) or 0)


async def published_availability(
    db: Database, event_id: str, after: int
) -> tuple[int, int, dict[str, Figures], dict[str, datetime], dict[str, datetime]]:
    """The event's availability messages after ``after``: how many were published, how many are not yet, and each
    ticket type's figures in the newest published message that names it (the final state a stream must show), with
    when that message was made (in its order's transaction) and marked published (after the broker took it)."""
    async with db.read() as session:
        rows = await session.execute(
            select(OutboxMessage.id, OutboxMessage.published_at, OutboxMessage.payload, OutboxMessage.created_at)
            .where(
                OutboxMessage.kind == "availability",
                OutboxMessage.id > after,
                OutboxMessage.payload["event_id"].as_string() == event_id,
            )
            .order_by(OutboxMessage.id)
        )
        published, waiting = 0, 0
        final: dict[str, Figures] = {}
        made: dict[str, datetime] = {}
        marked: dict[str, datetime] = {}
        for _, published_at, payload, created_at in rows:
            if published_at is None:
                waiting += 1
                continue
            published += 1
            for entry in payload.get("ticket_types") or []:
                final[str(entry["id"])] = figures_of(entry)
                made[str(entry["id"])] = created_at
                marked[str(entry["id"])] = published_at
        return published, waiting, final, made, marked


async def database_figures(db: Database, event_id: str) -> dict[str, Figures]:
    """Each ticket type's figures from its counters, as the outbox computes them."""
    async with db.read() as session:
        rows = await session.execute(
            select(
                TicketType.id,
                TicketType.quantity,
                TicketType.sold_count,
                TicketType.held_count,
                TicketType.reserved_count,
            ).where(TicketType.event_id == event_id)
        )
        return {
            str(tt): {"sold": sold, "held": held, "available": max(quantity - sold - held - reserved, 0)}
            for tt, quantity, sold, held, reserved in rows
        }


async def oversell_check(db: Database, ticket_id: str) -> dict[str, Any]:
    async with db.read() as session:
        quantity, sold, held = (
            await session.execute(
                select(TicketType.quantity, TicketType.sold_count, TicketType.held_count).where(
                    TicketType.id == ticket_id
                )
            )
        ).one()
        in_orders = await session.scalar(
            select(func.coalesce(func.sum(OrderLine.quantity), 0))
            .join(Order, Order.id == OrderLine.order_id)
            .where(OrderLine.ticket_type_id == ticket_id, Order.status.in_(("pending", "confirmed")))
        )
    return {
        "quantity": int(quantity),
        "sold": int(sold),
        "held": int(held),
        "tickets_in_live_orders": int(in_orders or 0),
        "oversold": sold + held > quantity or int(in_orders or 0) > quantity,
        "counters_match_orders": sold + held == int(in_orders or 0),
    }


def merged(results: list[LoadResult], clients: int) -> dict[str, Any]:
    """The four parts of a spread sale as one: successes added, the longest part's duration."""
    total = LoadResult(clients=clients, duration_s=max(r.duration_s for r in results), successes=0)
    for r in results:
        total.successes += r.successes
        total.latencies_ms += r.latencies_ms
        total.errors.update(r.errors)
    return total.summary()


async def sale(db: Database, bases: list[str], args: argparse.Namespace, pids: dict[str, Any]) -> dict[str, Any]:
    """A sale of its own through ``bases``."""
    event_id, ids = await make_sale(db, types=1, per_type=args.tickets)
    return await sale_on(db, bases, args, pids, event_id, ids[0])


async def run(args: argparse.Namespace) -> dict[str, Any]:
    logs = Path(tempfile.mkdtemp(prefix="boxoffice-scale-out-"))
    print(f"logs: {logs}", flush=True)
    redis = await redis_url()
    if redis is None:
        raise SystemExit("the scale-out check needs Redis (BOXOFFICE_BENCH_REDIS_URL or 127.0.0.1:6379)")
    async with bench_database() as (db_url, _dsn):
        db = Database(db_url, pool_size=2)
        sandbox_port, ports = free_port(), [free_port() for _ in range(PORTS)]
        bases = [f"http://127.0.0.1:{port}" for port in ports]
        env = box_env(db_url, bases[0], sandbox_port, logs, redis)
        with contextlib.ExitStack() as stack:
            stack.enter_context(
                process(sandbox_args(sandbox_port, f"{bases[0]}/webhooks/stripe"), env, logs / "sandbox.log")
            )
            webs = [
                stack.enter_context(
                    process(
                        serve_args(port),
                        {**env, "BOXOFFICE_RUN_WORKER": "false", "BOXOFFICE_PUBLIC_URL": base},
                        logs / f"serve-{port}.log",
                    )
                )
                for port, base in zip(ports, bases, strict=True)
            ]
            worker = stack.enter_context(process(worker_args(), env, logs / "worker.log"))
            await wait_http(f"http://127.0.0.1:{sandbox_port}/_sandbox/health")
            for base in bases:
                await wait_http(f"{base}/healthz")
            pids = {"web": tuple(w.pid for w in webs), "worker": worker.pid}
            for base in bases:  # every process warmed up, as a service up before a sale opens
                warm_event, warm_ids = await make_sale(db, types=1, per_type=100)
                await warm_up(
                    f"{base}/api/v1/events/{warm_event}/orders",
                    lambda i, t=warm_ids[0]: {
                        "email": f"w{i}@example.com",
                        "name": "W",
                        "lines": [{"ticket_id": t, "quantity": 1}],
                    },
                    clients=args.clients // PORTS,
                )
            # The spread sale, with live streams open on every port.
            event_id, ids = await make_sale(db, types=1, per_type=args.tickets)
            await asyncio.sleep(2)  # the outbox publishes the ticket type's creation first
            start_id = await outbox_high_water(db)
            subscribers = [
                Subscriber(f"{base}/api/v1/events/{event_id}/stream") for base in bases for _ in range(args.subscribers)
            ]
            for s in subscribers:
                s.start()
            await asyncio.wait_for(asyncio.gather(*(s.open.wait() for s in subscribers)), 30)
            spread = await sale_on(db, bases, args, pids, event_id, ids[0])
            published = 0
            final: dict[str, Figures] = {}
            made: dict[str, datetime] = {}
            marked: dict[str, datetime] = {}
            for _ in range(240):  # until the outbox has published everything and every stream shows it (2 minutes)
                published, waiting, final, made, marked = await published_availability(db, event_id, start_id)
                if not waiting and all(not s.missed(final) for s in subscribers):
                    break
                await asyncio.sleep(0.5)
            for s in subscribers:
                await s.stop()
            in_database = await database_figures(db, event_id)
            received: list[dict[str, Any]] = [
                {
                    "port": int(s.url.split(":")[2].split("/")[0]),
                    "frames": s.frames,
                    "states_resent": s.snapshots - 1,
                    "went_back": s.went_back,
                    "missed_ticket_types": s.missed(final),
                    # end to end (outbox and broker), and after the outbox marked it published (the broker alone;
                    # below 0 when the stream showed it before the mark, which follows the publish)
                    "final_shown_after_ms": None if s.missed(final) else round(s.delay_ms(made), 1),
                    "final_shown_after_marked_ms": None if s.missed(final) else round(s.delay_ms(marked), 1),
                    "last_available": sum(f["available"] for f in s.shown.values()),
                }
                for s in subscribers
            ]
            spread["live_updates"] = {
                "published": published,
                "ticket_types": len(final),
                "final": final,
                "final_is_database": final == in_database,
                "available_in_database": sum(f["available"] for f in in_database.values()),
                "received": received,
                "missed": sum(len(r["missed_ticket_types"]) for r in received),
                "went_back": sum(r["went_back"] for r in received),
                "final_shown_after_ms": max((r["final_shown_after_ms"] or 0.0) for r in received),
                "final_shown_after_marked_ms": max((r["final_shown_after_marked_ms"] or 0.0) for r in received),
                "broker_reconnects_logged": reconnects(logs),
            }
            one = await sale(db, bases[:1], args, {"web": webs[0].pid, "worker": worker.pid})
        await db.dispose()
    return {
        "when": datetime.now(UTC).isoformat(),
        "tickets": args.tickets,
        "clients": args.clients,
        "spread": spread,
        "one_port": one,
    }


async def sale_on(
    db: Database, bases: list[str], args: argparse.Namespace, pids: dict[str, Any], event_id: str, ticket_id: str
) -> dict[str, Any]:
    """The spread sale on an event made beforehand (its streams are open)."""
    path = f"/api/v1/events/{event_id}/orders"

    def body(i: int) -> dict[str, Any]:
        return {
            "email": f"buyer{i}@example.com",
            "name": f"Buyer {i}",
            "lines": [{"ticket_id": ticket_id, "quantity": 1}],
        }

    per_port = args.clients // len(bases)
    with CpuMeter(**pids) as cpu:
        parts = await asyncio.gather(
            *(
                run_load(base + path, body, clients=per_port, target=args.tickets, is_sold_out=is_sold_out)
                for base in bases
            )
        )
    summary = merged(list(parts), per_port * len(bases))
    summary.update(ports=len(bases), cpu_ms_per_order=cpu.ms_per(summary["successes"]))
    summary.update(await oversell_check(db, ticket_id))
    return summary


def render(result: dict[str, Any]) -> str:
    rows = []
    for label, r in (("4 services, clients spread", result["spread"]), ("1 of them alone", result["one_port"])):
        cpu = r["cpu_ms_per_order"]
        rows.append(
            [
                label,
                r["clients"],
                f"{r['rate_per_s']:.1f}",
                f"{r['p50_ms']:.0f}",
                f"{r['p99_ms']:.0f}",
                f"{r['sold'] + r['held']} / {r['quantity']}" + (" **OVERSOLD**" if r["oversold"] else ""),
                r["tickets_in_live_orders"],
                ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in sorted(r["errors"].items())) or "none",
                f"{cpu.get('web', 0):.2f} / {cpu.get('worker', 0):.2f} / {cpu.get('postgres', 0):.2f}",
            ]
        )
    live = result["spread"]["live_updates"]
    per_port: dict[int, list[str]] = {}
    for s in live["received"]:
        resent = s["states_resent"]
        per_port.setdefault(s["port"], []).append(
            str(s["frames"]) + (f" (+{resent} state{'s' if resent != 1 else ''} resent)" if resent else "")
        )
    frames = "; ".join(f"port {port}: {', '.join(counts)}" for port, counts in per_port.items())
    streams = len(live["received"])
    pairs = streams * live["ticket_types"]
    final = (
        f"the database's ({live['available_in_database']} left)"
        if live["final_is_database"]
        else "**NOT the database's counters**"
    )
    verdict = (
        f"**Missed: none**: every stream's last figures were the final ones, {final}, for each ticket type "
        f"({pairs - live['missed']} of {pairs} stream and ticket type pairs)"
        if not live["missed"]
        else f"**Missed: {live['missed']} of {pairs} stream and ticket type pairs** ended on older figures than the "
        f"final ones ({final})"
    )
    lines = [
        f"Run of {result['when'][:16].replace('T', ' ')} UTC: one ticket type of {result['tickets']} tickets, "
        f"{result['clients']} clients.",
        "",
        *_table(
            (
                "served by",
                "clients",
                "orders/s",
                "p50 ms",
                "p99 ms",
                "sold + held / quantity",
                "tickets in live orders",
                "answers other than 201",
                "CPU ms per order: web / worker / postgres",
            ),
            rows,
        ),
        "",
        f"Live updates: the outbox published {live['published']} availability messages for the event during the "
        f"spread sale ({live['ticket_types']} ticket type{'s' if live['ticket_types'] != 1 else ''}); the "
        f"{streams} streams received these availability frames ({frames}). {verdict}. Frames that went back to an "
        f"older outbox id: {live['went_back']}. The final figures reached the slowest stream "
        f"{live['final_shown_after_ms']:.0f} ms after their message was made (in the order's transaction; outbox and "
        f"broker together), {live['final_shown_after_marked_ms']:.0f} ms after the outbox marked it published (which "
        f"it does after the broker took it; below 0: before the mark). Broker reconnections logged by the web "
        f"processes: {live['broker_reconnects_logged']}.",
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=2000, help="tickets in the sale (default 2,000)")
    parser.add_argument("--clients", type=int, default=64, help="concurrent clients, spread over 4 ports (default 64)")
    parser.add_argument("--subscribers", type=int, default=2, help="live streams per port (default 2)")
    args = parser.parse_args()
    stop_on_sigterm()
    result = asyncio.run(run(args))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "scale-out.json").write_text(json.dumps(result, indent=2))
    print(render(result))
    spread = result["spread"]
    live = spread["live_updates"]
    # A stream owes its client the current state, not every message (availability coalesces; after a broker
    # reconnect or a resync the state is sent whole): every stream must end on the final figures of every ticket
    # type, those the database holds, and never show older figures after newer ones.
    delivered = not live["missed"] and live["final_is_database"] and not live["went_back"]
    ok = not spread["oversold"] and not result["one_port"]["oversold"] and delivered
    return 0 if ok and spread["counters_match_orders"] else 1


if __name__ == "__main__":
    sys.exit(main())
