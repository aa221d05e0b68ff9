"""The worker's two costs: confirmation emails per second with one worker, and worker CPU per order in a sale.

```
.venv/bin/python -m benchmarks.emails                       # this checkout alone
.venv/bin/python -m benchmarks.emails --base /tmp/base/src  # and another checkout's src/, alternately, same run
.venv/bin/python -m benchmarks.emails --instructions        # instructions per email / per order (valgrind)
```

One PostgreSQL database of its own (found as the tests find it, dropped afterwards) and Redis (127.0.0.1:6379).

- **emails**: ``--emails`` confirmed orders (one ticket each, as in the flash sale) are seeded once and their
  confirmation emails queued (QR code, HTML, text, ``.ics``). Then, for each code under test in turn, every email
  is set back to pending and a child process, the one worker, sends them all with ``Mailer`` as ``boxoffice worker``
  does (to ``.eml`` files, then to an SMTP server running in another process). Reported: emails/s (wall) and the
  child's CPU ms per email, and for SMTP the server's CPU per email (it shares the machine: on 2 cores the sender
  and the server together bound the wall rate).
- **orders**: a real ``boxoffice worker`` process (outbox with its handlers, Redis pub/sub, emails, hold sweeper)
  runs while this process reserves ``--orders`` orders at ``--rate`` orders/s; reported is the worker's CPU (user +
  system, from ``/proc``) from the first order until the outbox is drained, per order. The worker has a Stripe key
  of its own, as the flash sale's does, so it runs no in-process Stripe sandbox.
- ``--instructions``: the email child and an outbox drain child (``--drain``) run under ``valgrind --tool=callgrind``
  with two sizes; the difference of the instruction counts over the difference of the sizes is the cost of one more
  email / one more order, free of start-up costs and of the machine's noise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import func, select, text

from boxoffice import migrate
from boxoffice.db import Database
from boxoffice.notifications.delivery import queue_emails
from boxoffice.outbox.dispatcher import OutboxDispatcher
from boxoffice.outbox.models import OutboxMessage
from boxoffice.ticketing.orders import confirm_order
from boxoffice.ticketing.reserve import reserve
from tests import pg
from tests.helpers import make_event, make_ticket, order_request

ROOT = Path(__file__).resolve().parent.parent
REDIS = "redis://127.0.0.1:6379/0"
SECRET = "benchmark-secret-key-for-ticket-codes"


def _env(src: str | None) -> dict[str, str]:
    env = dict(os.environ)
    paths = [p for p in (src, str(ROOT)) if p]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# ---- children (run in their own process, with the code under test first on the path) ----


async def child_send(database_url: str, transport: str, limit: int | None) -> dict[str, Any]:
    from boxoffice.notifications.delivery import Mailer
    from boxoffice.notifications.transport import FileTransport, SMTPTransport

    db = Database(database_url)
    folder = tempfile.mkdtemp(prefix="bench-mail-")
    sink: Any = FileTransport(folder) if transport == "file" else SMTPTransport.from_url(transport)
    mailer = Mailer(db, sink, secret=SECRET.encode(), sender="Box <box@example.com>", public_url="http://x.test")
    sent = 0
    cpu, wall = _cpu(), time.perf_counter()
    while limit is None or sent < limit:
        done = await (mailer.deliver_due() if limit is None else mailer.deliver_due(limit=limit - sent))
        if not done:
            break
        sent += done
    wall, cpu = time.perf_counter() - wall, _cpu() - cpu
    await db.dispose()
    return {"sent": sent, "wall": wall, "cpu": cpu}


async def child_drain(database_url: str) -> dict[str, Any]:
    """Drain the outbox as the worker does (its handlers, Redis pub/sub), in batches, until it is empty."""
    from boxoffice.container import Boxoffice
    from tests.server import settings_for

    box = Boxoffice(settings_for(database_url, redis_url=REDIS, secret_key=SECRET, run_worker=False))
    await box.broker.start()
    handled = 0
    cpu, wall = _cpu(), time.perf_counter()
    while n := await box.dispatcher.drain_once():
        handled += n
    wall, cpu = time.perf_counter() - wall, _cpu() - cpu
    await box.broker.stop()
    await box.db.dispose()
    return {"handled": handled, "wall": wall, "cpu": cpu}


def child_sink(port: int) -> None:
    from aiosmtpd.controller import Controller

    class Discard:
        async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
            return "250 OK"

    controller = Controller(Discard(), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    sys.stdin.read()
    controller.stop()


# ---- the parent ----


async def seed_emails(db: Database, count: int) -> None:
    event = await make_event(db, title="Benchmark night")
    tt = await make_ticket(db, event.id, quantity=count)
    gate = asyncio.Semaphore(8)

    async def one(i: int) -> None:
        async with gate:
            order = await reserve(db, order_request(event.id, (tt.id, 1), email=f"buyer{i}@example.com"))
            await confirm_order(db, order.id)

    await asyncio.gather(*(one(i) for i in range(count)))
    dispatcher = OutboxDispatcher(db, handlers=[queue_emails])
    while await dispatcher.drain_once():
        pass


async def reset_emails(db: Database) -> int:
    async with db.transaction() as session:
        result = await session.execute(
            text(
                "UPDATE email_messages SET status = 'pending', attempts = 0, sent_at = NULL, locked_until = NULL, "
                "last_error = NULL, next_attempt_at = now() - interval '1 second'"
            )
        )
    return int(getattr(result, "rowcount", 0))


def run_child(args: list[str], src: str | None, *, valgrind: Path | None = None) -> tuple[dict[str, Any], str]:
    cmd = [sys.executable, "-m", "benchmarks.emails", *args]
    if valgrind is not None:
        cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={valgrind}", *cmd]
    done = subprocess.run(cmd, env=_env(src), cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"child {args[0]} failed: {done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def collected(stderr: str) -> int:
    match = re.search(r"Collected : (\d+)", stderr)
    if match is None:
        raise RuntimeError("valgrind printed no instruction count")
    return int(match.group(1))


async def outbox_backlog(db: Database) -> int:
    async with db.read() as session:
        return int(
            await session.scalar(
                select(func.count()).select_from(OutboxMessage).where(OutboxMessage.published_at.is_(None))
            )
            or 0
        )


async def measure_orders(db: Database, database_url: str, src: str | None, orders: int, rate: float) -> dict[str, Any]:
    """A real ``boxoffice worker`` while orders arrive at ``rate``: its CPU per order."""
    env = _env(src) | {
        "BOXOFFICE_DATABASE_URL": database_url,
        "BOXOFFICE_REDIS_URL": REDIS,
        "BOXOFFICE_SECRET_KEY": SECRET,
        "BOXOFFICE_LOG_LEVEL": "WARNING",
        "BOXOFFICE_MAIL_DIR": tempfile.mkdtemp(prefix="bench-worker-mail-"),
        # A Stripe account of its own, as the flash sale's worker has (its sandbox runs apart): without one the
        # worker would start the in-process sandbox, whose webhook loop wakes 50 times a second (half of an idle
        # worker's CPU) and which no production worker runs. The worker calls no Stripe API during the sale.
        "STRIPE_SECRET_KEY": "sk_test_benchmark0000000000000001",
        "STRIPE_WEBHOOK_SECRETS": "whsec_benchmark000000000000000001",
        "STRIPE_API_BASE": "http://127.0.0.1:9",
    }
    event = await make_event(db, title="Sale")
    tt = await make_ticket(db, event.id, quantity=orders)
    command = [sys.executable, "-c", "from boxoffice.cli import main; main()", "worker"]
    worker = subprocess.Popen(command, env=env, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    try:
        assert worker.stderr is not None
        while "worker running" not in worker.stderr.readline():
            if worker.poll() is not None:
                raise RuntimeError("the worker did not start")
        proc = psutil.Process(worker.pid)
        await asyncio.sleep(1.0)
        before = sum(proc.cpu_times()[:2])
        start = time.perf_counter()
        gate = asyncio.Semaphore(16)

        async def one(i: int) -> None:
            async with gate:
                await reserve(db, order_request(event.id, (tt.id, 1), email=f"sale{i}@example.com"))

        tasks = []
        for i in range(orders):
            tasks.append(asyncio.create_task(one(i)))
            await asyncio.sleep(max(start + (i + 1) / rate - time.perf_counter(), 0))
        await asyncio.gather(*tasks)
        sold = time.perf_counter() - start
        while await outbox_backlog(db):
            await asyncio.sleep(0.05)
        cpu = sum(proc.cpu_times()[:2]) - before
    finally:
        worker.terminate()
        worker.wait(30)
    return {"orders": orders, "rate": orders / sold, "cpu_ms_per_order": cpu * 1000 / orders}


async def run(args: argparse.Namespace) -> None:
    admin_url, _ = await pg.find_server()
    url, name = await pg.create_database(admin_url)
    database_url = pg.to_sqlalchemy_url(url)
    variants: list[tuple[str, str | None]] = [("this", None)]
    if args.base:
        variants = [("base", args.base), *variants]
    sink: subprocess.Popen[str] | None = None
    try:
        await migrate.upgrade(database_url)
        db = Database(database_url)
        await seed_emails(db, args.emails)
        port = 20000 + os.getpid() % 20000
        sink = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.emails", "_sink", str(port)],
            env=_env(None),
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert sink.stdout is not None
        sink.stdout.readline()
        sink_proc = psutil.Process(sink.pid)
        transports = {"file": "file", "smtp": f"smtp://127.0.0.1:{port}?timeout=10"}
        if args.instructions:
            await instructions(db, database_url, variants, transports["file"], args.emails)
            return
        for round_ in range(1, args.rounds + 1):
            for label, src in variants:
                for kind, transport in transports.items():
                    await reset_emails(db)
                    sink_cpu = sum(sink_proc.cpu_times()[:2])
                    result, _ = run_child(["_send", database_url, transport], src)
                    sink_cpu = sum(sink_proc.cpu_times()[:2]) - sink_cpu
                    sink_note = ""
                    if kind == "smtp":
                        sink_note = f", SMTP sink CPU {sink_cpu * 1000 / result['sent']:.2f} ms/email"
                    print(
                        f"round {round_} {label:>4} emails/{kind}: {result['sent']} sent, "
                        f"{result['sent'] / result['wall']:.0f} emails/s, "
                        f"worker CPU {result['cpu'] * 1000 / result['sent']:.2f} ms/email{sink_note}",
                        flush=True,
                    )
                if args.orders:
                    sale = await measure_orders(db, database_url, src, args.orders, args.rate)
                    print(
                        f"round {round_} {label:>4} orders: {sale['orders']} at {sale['rate']:.0f}/s, "
                        f"worker CPU {sale['cpu_ms_per_order']:.3f} ms/order",
                        flush=True,
                    )
        await db.dispose()
    finally:
        if sink is not None and sink.stdin is not None:
            sink.stdin.close()
            sink.wait(10)
        await pg.drop_database(admin_url, name)


async def instructions(
    db: Database, database_url: str, variants: list[tuple[str, str | None]], file: str, emails: int
) -> None:
    small, large = max(emails // 6, 1), emails
    with tempfile.TemporaryDirectory() as tmp:
        for label, src in variants:
            counts = []
            for n in (small, large):
                await reset_emails(db)
                _, err = run_child(["_send", database_url, file, "--limit", str(n)], src, valgrind=Path(tmp) / "e.out")
                counts.append(collected(err))
            per_email = (counts[1] - counts[0]) / (large - small)
            small, large = 20, 120  # orders
            counts = []
            event = await make_event(db, title="Drain")
            tt = await make_ticket(db, event.id, quantity=2 * large)
            for n in (small, large):
                for i in range(n):
                    await reserve(db, order_request(event.id, (tt.id, 1), email=f"d{n}-{i}@example.com"))
                _, err = run_child(["_drain", database_url], src, valgrind=Path(tmp) / "d.out")
                counts.append(collected(err))
            per_order = (counts[1] - counts[0]) / (large - small)
            small, large = max(emails // 6, 1), emails
            print(
                f"{label:>4}: {per_email / 1e6:.2f} M instructions per email, "
                f"{per_order / 1e6:.3f} M instructions per order (outbox drain)",
                flush=True,
            )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1].startswith("_"):
        mode, rest = sys.argv[1], sys.argv[2:]
        if mode == "_sink":
            child_sink(int(rest[0]))
            return
        if mode == "_send":
            limit = int(rest[3]) if len(rest) > 3 else None
            print(json.dumps(asyncio.run(child_send(rest[0], rest[1], limit))))
            return
        if mode == "_drain":
            print(json.dumps(asyncio.run(child_drain(rest[0]))))
            return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--emails", type=int, default=1000, help="confirmation emails sent per measurement")
    parser.add_argument("--orders", type=int, default=2000, help="orders reserved while the worker runs (0: skip)")
    parser.add_argument("--rate", type=float, default=200.0, help="orders per second during the sale")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--base", help="another checkout's src/ folder, measured alternately with this one")
    parser.add_argument("--instructions", action="store_true", help="count instructions with valgrind instead")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
