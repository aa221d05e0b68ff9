"""Instructions and CPU per order, and per webhook confirmation, in one web process (not part of the test suite).

The application is called in this process as Uvicorn would call it (an ASGI ``http`` scope per request: every
middleware, FastAPI's routing, dependencies, validation and the answer's encoding run), with no HTTP server and no
load generator in between, against a PostgreSQL database of its own and a standalone ``boxoffice sandbox`` process
(0 ms) for the Checkout Sessions, as the flash-sale benchmark serves it (``BOXOFFICE_ENV=production``, the limits
per address off, the held-tickets cap per email on), made as ``boxoffice serve`` makes it (its heap settled once
started). ``orders``: one-ticket orders of one ticket type (``--lines N``: one of each of N ticket types),
``POST /api/v1/events/{id}/orders``, ``--concurrency`` at a time; with ``--sold-out`` the warm-up sells every ticket
and the measured orders are answered 409, once the last order's kept sale has aged out. ``webhooks``: signed
``checkout.session.completed`` events for orders reserved beforehand, ``POST /webhooks/stripe``. ``page`` and
``tickets``: the buyer's event page and ticket list, as browsers ask for them again and again while a sale opens;
``stream``: the page's live stream, opened and left once its first availability frame has come.

On a machine shared with other work the CPU time per request swings; the instruction count does not. With
``--callgrind`` the run starts itself again under ``valgrind --tool=callgrind`` with instrumentation off, turns it on
for the measured requests only (after ``--warmup`` requests) and reports instructions per request::

    .venv/bin/python -m benchmarks.web_cpu orders --callgrind            # instructions per order
    .venv/bin/python -m benchmarks.web_cpu webhooks --callgrind          # instructions per confirmation
    .venv/bin/python -m benchmarks.web_cpu orders -n 2000                # CPU ms per order (noisy)
    .venv/bin/python -m benchmarks.web_cpu orders --sold-out --callgrind # a sold-out answer, after the sale
    .venv/bin/python -m benchmarks.web_cpu orders --lines 2 --callgrind  # an order of two ticket types
    .venv/bin/python -m benchmarks.web_cpu page -n 2000                  # the event page (tickets: the list)
    .venv/bin/python -m benchmarks.web_cpu page --page-cache-seconds 0   # ... rendered for each request
    .venv/bin/python -m benchmarks.web_cpu stream -n 3000                # the page's live stream, opened and left
    py-spy record -r 500 -f raw -o orders.txt -- .venv/bin/python -m benchmarks.web_cpu orders -n 3000
    .venv/bin/python -m benchmarks.web_cpu summarize orders.txt          # where the samples went, by frame
    .venv/bin/python -m benchmarks.web_cpu parts orders.txt              # ... by part of the request

About 570 lines: the driver, its Valgrind wrapper, the statement listing and the profile summaries are one tool.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import glob
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import text

from benchmarks.flash_sale import (
    API_KEY,
    WEBHOOK_SECRET,
    _tree_cpu,
    bench_database,
    free_port,
    make_sale,
    process,
    wait_http,
)
from benchmarks.services import sandbox_args
from boxoffice.db import Database
from boxoffice.payments.webhooks import sign_payload
from boxoffice.settings import Settings
from boxoffice.ticketing import reserve as reservations
from boxoffice.ticketing import voucher_codes
from boxoffice.ticketing.plan import LineRequest, OrderRequest
from boxoffice.web.app import create_app

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable

_CONTROL_C = """
#include <valgrind/callgrind.h>
void measure_start(void) { CALLGRIND_ZERO_STATS; CALLGRIND_START_INSTRUMENTATION; }
void measure_stop(void) { CALLGRIND_STOP_INSTRUMENTATION; CALLGRIND_DUMP_STATS_AT("measured"); }
"""

ASGI = Callable[
    [dict[str, Any], Callable[[], Awaitable[dict[str, Any]]], Callable[[dict[str, Any]], Awaitable[None]]],
    Awaitable[None],
]


class Measure:
    """Callgrind's instrumentation turned on and off from inside the process (its client requests, from a small C
    library built on the spot); a no-op outside Valgrind."""

    def __init__(self, enabled: bool) -> None:
        self._lib: Any = None
        if enabled:
            folder = Path(tempfile.mkdtemp(prefix="web-cpu-"))
            (folder / "control.c").write_text(_CONTROL_C)
            subprocess.run(
                ["gcc", "-shared", "-fPIC", "-O1", "-o", str(folder / "control.so"), str(folder / "control.c")],
                check=True,
            )
            self._lib = ctypes.CDLL(str(folder / "control.so"))

    def start(self) -> None:
        if self._lib is not None:
            self._lib.measure_start()

    def stop(self) -> None:
        if self._lib is not None:
            self._lib.measure_stop()


def _scope(path: str, method: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    """An ASGI ``http`` scope as Uvicorn makes it."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1:8000"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }


async def _exchange(app: ASGI, scope: dict[str, Any], body: bytes, until: bytes | None = None) -> tuple[int, bytes]:
    """The request through the ASGI application; the answer's status and body. With ``until`` the client leaves
    once that has arrived (or the answer ended); without it, it never leaves."""
    gone = asyncio.Event()
    delivered = False
    status = 0
    answer = bytearray()

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            answer.extend(message.get("body", b""))
            if until is not None and (until in answer or not message.get("more_body", False)):
                gone.set()

    await app(scope, receive, send)
    return status, bytes(answer)


async def call(
    app: ASGI, path: str, body: bytes, headers: list[tuple[bytes, bytes]], method: str = "POST"
) -> tuple[int, bytes]:
    """One request (a POST unless ``method`` says otherwise) through the ASGI application, as Uvicorn makes it."""
    sent = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers]
    return await _exchange(app, _scope(path, method, sent), body)


async def first_frames(app: ASGI, path: str, until: bytes) -> tuple[int, bytes]:
    """A live stream opened through the ASGI application, read until ``until`` arrives, then left (the client goes
    away, as a browser leaving the page)."""
    return await _exchange(app, _scope(path, "GET", [(b"accept", b"text/event-stream")]), b"", until)


async def run_all(jobs: list[Callable[[], Awaitable[None]]], concurrency: int) -> None:
    queue = list(reversed(jobs))

    async def runner() -> None:
        while queue:
            await queue.pop()()

    await asyncio.gather(*(runner() for _ in range(concurrency)))


@contextlib.asynccontextmanager
async def served(db_url: str, page_cache_seconds: float | None = None) -> AsyncIterator[tuple[Any, str]]:
    """The application (its lifespan started) and a sandbox process answering Checkout Sessions at 0 ms; the event
    page kept as the settings' default keeps it unless ``page_cache_seconds`` says otherwise (0: every request
    renders it)."""
    sandbox_port = free_port()
    public = "http://127.0.0.1:8000"
    logs = Path(tempfile.mkdtemp(prefix="web-cpu-logs-"))
    sandbox = sandbox_args(sandbox_port, f"{public}/webhooks/stripe")
    env = {key: value for key, value in os.environ.items() if not key.startswith("LD_PRELOAD")}
    with process(sandbox, env, logs / "sandbox.log"):
        await wait_http(f"http://127.0.0.1:{sandbox_port}/_sandbox/health")
        kept: dict[str, Any] = {} if page_cache_seconds is None else {"page_cache_seconds": page_cache_seconds}
        settings = Settings(
            env="production",
            database_url=db_url,
            public_url=public,
            secret_key=secrets.token_urlsafe(32),
            log_level="WARNING",
            mail_dir=str(logs / "mail"),
            order_rate_per_minute=0,
            max_held_tickets_per_address=0,
            run_worker=False,
            stripe_secret_key=API_KEY,
            stripe_webhook_secrets=WEBHOOK_SECRET,
            stripe_api_base=f"http://127.0.0.1:{sandbox_port}",
            **kept,
        )
        app = create_app(settings, settle_heap=True)  # as `boxoffice serve` makes it
        async with app.router.lifespan_context(app):
            yield app, public


def order_body(ticket_ids: list[str], i: int, voucher: str | None = None) -> bytes:
    lines = [{"ticket_id": ticket_id, "quantity": 1} for ticket_id in ticket_ids]
    order: dict[str, Any] = {"email": f"buyer{i}@example.com", "name": f"Buyer {i}", "lines": lines}
    if voucher is not None:
        order["voucher"] = voucher
    return json.dumps(order).encode()


async def measure_orders(app: ASGI, db: Database, args: argparse.Namespace, measure: Measure) -> dict[str, Any]:
    # --sold-out: the warm-up sells every ticket, and each measured order is answered 409 (sold out)
    per_type = args.warmup + (0 if args.sold_out else args.n + 10)
    event_id, ids = await make_sale(db, types=args.lines, per_type=per_type)  # --lines: one of each per order
    path = f"/api/v1/events/{event_id}/orders"
    wanted = {201}
    code = None
    if args.voucher:
        code = "FLASH20"
        await voucher_codes.create_vouchers(
            db, event_id, {"code": code, "discount": {"percent": 20}, "max_uses": 10**6}
        )
    statuses: Counter[int] = Counter()

    def job(i: int) -> Callable[[], Awaitable[None]]:
        async def go() -> None:
            status, answer = await call(app, path, order_body(ids, i, code), [])
            statuses[status] += 1
            if status not in wanted:
                raise RuntimeError(f"order answered {status}: {answer[:300]!r}")

        return go

    await run_all([job(i) for i in range(args.warmup)], args.concurrency)
    if args.sold_out:
        # the answers after a sale, once the last order's kept sale (``kept_sales.KeptSales``) has aged out: the
        # buyers who keep trying long after the tickets are gone
        from boxoffice.ticketing import kept_sales  # here: the other modes also run against older code

        await asyncio.sleep(kept_sales.KEPT_SALE_SECONDS + 0.5)
        wanted = {409}
    return await measured([job(args.warmup + i) for i in range(args.n)], args, measure, statuses)


async def measure_views(app: ASGI, db: Database, args: argparse.Namespace, measure: Measure) -> dict[str, Any]:
    """What a buyer's browser asks before ordering, and asks again at every refresh while a sale opens: the event
    page (``page``, ``GET /e/{id}``), the ticket list (``tickets``, ``GET /api/v1/events/{id}/tickets``) or the
    page's live stream (``stream``, ``GET /api/v1/events/{id}/stream``: opened, read up to its first availability
    frame, left), of an event with three ticket types."""
    event_id, _ = await make_sale(db, types=3, per_type=100)
    path = {"page": f"/e/{event_id}", "tickets": f"/api/v1/events/{event_id}/tickets"}.get(
        args.what, f"/api/v1/events/{event_id}/stream"
    )
    statuses: Counter[int] = Counter()

    async def go() -> None:
        if args.what == "stream":
            status, answer = await first_frames(app, path, b"event: availability")
        else:
            status, answer = await call(app, path, b"", [], method="GET")
        statuses[status] += 1
        if status != 200:
            raise RuntimeError(f"{path} answered {status}: {answer[:300]!r}")

    await run_all([go] * args.warmup, args.concurrency)
    return await measured([go] * args.n, args, measure, statuses)


def completed_event(n: int, order_id: str, event_id: str, total: int) -> bytes:
    session = {
        "id": f"cs_test_web_cpu_{n}",
        "object": "checkout.session",
        "amount_total": total,
        "currency": "usd",
        "payment_status": "paid",
        "status": "complete",
        "payment_intent": f"pi_web_cpu_{n}",
        "client_reference_id": order_id,
        "metadata": {"order_id": order_id, "event_id": event_id},
    }
    event = {
        "id": f"evt_web_cpu_{n}",
        "object": "event",
        "type": "checkout.session.completed",
        "livemode": False,
        "created": int(time.time()),
        "data": {"object": session},
    }
    return json.dumps(event).encode()


async def measure_webhooks(app: ASGI, db: Database, args: argparse.Namespace, measure: Measure) -> dict[str, Any]:
    total = args.warmup + args.n
    event_id, ids = await make_sale(db, types=1, per_type=total)
    bodies = []
    for n in range(total):
        order = await reservations.reserve(
            db, OrderRequest(event_id=event_id, email=f"wh{n}@example.com", lines=[LineRequest(ids[0], 1)])
        )
        bodies.append(completed_event(n, order.id, event_id, order.total_cents))
    statuses: Counter[int] = Counter()

    def job(body: bytes) -> Callable[[], Awaitable[None]]:
        async def go() -> None:
            headers = [(b"stripe-signature", sign_payload(body, [WEBHOOK_SECRET]).encode())]
            status, answer = await call(app, "/webhooks/stripe", body, headers)
            statuses[status] += 1
            if status != 200 or b'"confirmed: order confirmed"' not in answer:
                raise RuntimeError(f"webhook answered {status}: {answer[:300]!r}")

        return go

    await run_all([job(b) for b in bodies[: args.warmup]], args.concurrency)
    return await measured([job(b) for b in bodies[args.warmup :]], args, measure, statuses)


async def backend_cpu(db: Database) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend connected to this benchmark's database (other work on the
    same server is not counted)."""
    async with db.read() as session:
        pids = (
            await session.scalars(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()"))
        ).all()
    return {pid: seconds for pid in pids if (seconds := _tree_cpu(pid))}  # a backend gone meanwhile: left out


async def wal_position(db: Database, *, checkpoint: bool = False) -> int:
    """How far PostgreSQL's write-ahead log has come, in bytes (after a checkpoint when asked, so that the pages the
    measured requests touch first are logged whole at its start, the same in every run)."""
    async with db.read() as session:
        if checkpoint:
            await session.execute(text("CHECKPOINT"))
        return int(await session.scalar(text("SELECT pg_current_wal_lsn() - '0/0'")) or 0)


async def measured(
    jobs: list[Callable[[], Awaitable[None]]], args: argparse.Namespace, measure: Measure, statuses: Counter[int]
) -> dict[str, Any]:
    statuses.clear()
    if args.statements:
        return await statements_of(jobs[0])
    wal_before = await wal_position(args.db, checkpoint=True)
    pg_before = await backend_cpu(args.db)
    cpu, wall = time.process_time(), time.perf_counter()
    measure.start()
    await run_all(jobs, args.concurrency)
    measure.stop()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    pg_after = await backend_cpu(args.db)
    wal = await wal_position(args.db) - wal_before
    pg = sum(seconds - pg_before.get(pid, 0.0) for pid, seconds in pg_after.items())
    return {
        "requests": len(jobs),
        "statuses": dict(statuses),
        "cpu_ms_per_request": round(cpu * 1000 / len(jobs), 3),
        # the backends of this benchmark's own database (a backend that started meanwhile counts whole)
        "postgres_cpu_ms_per_request": round(pg * 1000 / len(jobs), 3),
        # what PostgreSQL wrote to its log for them (the whole server's, after a checkpoint: on a quiet server,
        # what the requests wrote; unlike CPU time it does not swing with the machine)
        "wal_bytes_per_request": round(wal / len(jobs)),
        "per_second": round(len(jobs) / wall, 1),
    }


async def statements_of(job: Callable[[], Awaitable[None]]) -> dict[str, Any]:
    """The SQL statements one request sends (through SQLAlchemy, or on its driver connection), in order."""
    import asyncpg.connection
    import asyncpg.prepared_stmt

    sent: list[str] = []
    originals: list[tuple[Any, str, Any]] = []

    def spy_on(cls: Any, name: str, query_of: Callable[[Any, Any], str]) -> None:
        original = getattr(cls, name)
        originals.append((cls, name, original))

        def spy(self: Any, *a: Any, **k: Any) -> Any:
            sent.append(" ".join(query_of(self, a).split())[:200])
            return original(self, *a, **k)

        setattr(cls, name, spy)

    for name in ("execute", "fetch", "fetchrow", "fetchval", "executemany"):
        spy_on(asyncpg.connection.Connection, name, lambda _self, a: str(a[0]))
    for name in ("fetch", "fetchrow", "fetchval", "executemany"):
        spy_on(asyncpg.prepared_stmt.PreparedStatement, name, lambda self, _a: str(self.get_query()))
    try:
        await job()
    finally:
        for cls, name, original in originals:
            setattr(cls, name, original)
    return {"statements": len(sent), "sent": sent}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    measure = Measure(args.inside_callgrind)
    async with bench_database() as (db_url, _dsn):
        db = Database(db_url, pool_size=4)
        args.db = db
        try:
            async with served(db_url, args.page_cache_seconds) as (app, _public):
                if args.what == "orders":
                    return await measure_orders(app, db, args, measure)
                if args.what in ("page", "tickets", "stream"):
                    return await measure_views(app, db, args, measure)
                return await measure_webhooks(app, db, args, measure)
        finally:
            await db.dispose()


def under_callgrind(args: argparse.Namespace) -> int:
    folder = Path(tempfile.mkdtemp(prefix="web-cpu-callgrind-"))
    command = [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        f"--callgrind-out-file={folder}/callgrind.out",
        PY,
        "-m",
        "benchmarks.web_cpu",
        args.what,
        "-n",
        str(args.n),
        "--warmup",
        str(args.warmup),
        "--concurrency",
        str(args.concurrency),
        "--inside-callgrind",
        *(["--voucher"] if args.voucher else []),
        *(["--sold-out"] if args.sold_out else []),
        *(["--lines", str(args.lines)] if args.lines != 1 else []),
        *(["--page-cache-seconds", str(args.page_cache_seconds)] if args.page_cache_seconds is not None else []),
    ]
    done = subprocess.run(command, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        print(done.stderr[-3000:], file=sys.stderr)
        return done.returncode
    dumps = sorted(glob.glob(f"{folder}/callgrind.out.*"))
    instructions = 0
    for dump in dumps:
        with open(dump) as f:
            for line in f:
                if line.startswith("totals:"):  # the dump's own "summary:" line may say 0
                    instructions = max(instructions, int(line.split()[1]))
    print(
        json.dumps(
            {
                "what": args.what,
                "requests": args.n,
                "instructions_per_request": round(instructions / args.n),
                "callgrind_dump": dumps[0] if dumps else None,
            }
        )
    )
    return 0


# Where a request's samples go, by the first of these parts whose frame (a prefix) is on the sample's stack; what
# none of them holds is FastAPI's and the middlewares' own work (routing, the body's parsing and validation).
PARTS = (
    ("Checkout Session (the Stripe call)", "StripeGateway.create_checkout_session"),
    ("storing the session id and URL", "set_checkout_sessions"),
    ("reservation: checks, pricing, order objects", "_new_order"),
    ("reservation statement", "_reserve_fused"),
    ("reservation: checks, pricing, order objects", "Payments.reserve"),
    ("the 201 answer (order fields, encoding)", "order_fields"),
    ("confirmation statement(s)", "confirm_order"),
    ("confirmation statement(s)", "confirm_paid_in_one_statement"),
    ("reading the order", "WebhookProcessor._order_for"),
    ("delivery counted / marked processed", "WebhookProcessor._already_processed"),
    ("delivery counted / marked processed", "Database.execute_one"),
    ("signature check", "verify_signature"),
    ("other endpoint work", "create_order"),
    ("other endpoint work", "stripe_webhook"),
)


def parts(path: str, under: str) -> None:
    """The request's samples by ``PARTS``."""
    shares: Counter[str] = Counter()
    total = 0
    for line in Path(path).read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        frames = stack.split(";")
        if not any(frame.startswith(under) for frame in frames):
            continue
        total += int(count_text)
        part = next(
            (name for name, prefix in PARTS if any(frame.startswith(prefix) for frame in frames)),
            "FastAPI, middlewares, routing, body validation",
        )
        shares[part] += int(count_text)
    for name, count in shares.most_common():
        print(f"  {100 * count / max(total, 1):5.1f} %  {name}")


# Frames whose inclusive share of the samples a summary gives (py-spy's raw format: "frame;frame;... count").
def summarize(path: str, top: int, under: str) -> None:
    """Each frame's share of the samples taken under the first frame that starts with ``under`` (the request's
    handling), counted once per sample (inclusive) and as the innermost frame (own)."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in Path(path).read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        frames = stack.split(";")
        roots = [i for i, frame in enumerate(frames) if frame.startswith(under)]
        if not roots:
            continue
        frames = frames[roots[0] :]
        total += count
        for frame in set(frames):
            inclusive[frame] += count
        own[frames[-1]] += count
    print(f"{total} samples under {under}")
    print("inclusive:")
    for frame, count in inclusive.most_common(top):
        print(f"  {100 * count / total:5.1f} %  {frame}")
    print("own:")
    for frame, count in own.most_common(top):
        print(f"  {100 * count / total:5.1f} %  {frame}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=["orders", "webhooks", "page", "tickets", "stream", "summarize", "parts"])
    parser.add_argument("file", nargs="?", help="summarize, parts: a py-spy raw profile")
    parser.add_argument("-n", type=int, default=300, help="measured requests")
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--under", default="FastAPI.__call__", help="summarize: the frame whose samples count")
    parser.add_argument("--callgrind", action="store_true", help="instructions per request, under Valgrind")
    parser.add_argument("--voucher", action="store_true", help="orders: every order uses one voucher (20 %% off)")
    parser.add_argument("--lines", type=int, default=1, help="orders: lines per order, each of a ticket type")
    parser.add_argument("--sold-out", action="store_true", help="orders: measured orders answered 409 (sold out)")
    parser.add_argument(
        "--page-cache-seconds", type=float, default=None, help="page: how long a rendering is kept (0: never)"
    )
    parser.add_argument("--statements", action="store_true", help="list the statements of one measured request")
    parser.add_argument("--inside-callgrind", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.what == "summarize":
        summarize(args.file, args.top, args.under)
        return 0
    if args.what == "parts":
        parts(args.file, args.under)
        return 0
    if args.callgrind:
        return under_callgrind(args)
    print(json.dumps({"what": args.what, **asyncio.run(run(args))}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
