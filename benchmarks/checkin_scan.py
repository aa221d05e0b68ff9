"""Check-in benchmark: 50 door scanners against Boxoffice on PostgreSQL, served as the README recommends for
production (``boxoffice serve --workers 2`` and one ``boxoffice worker``; Redis when it answers).

    .venv/bin/python -m benchmarks.checkin_scan             # full run, results in benchmarks/results/checkin.json
    .venv/bin/python -m benchmarks.checkin_scan --quick     # 2,000 tickets, for a smoke run

Each scanner is a paired door device (a token of its own) posting ``POST /api/v1/checkin-lists/{id}/scans`` with a
code and a nonce, as the scanner page does, in a closed loop over one keep-alive connection (``benchmarks.loadgen``).
Scenarios, one after the other on the same list:

- ``admit``: every ticket scanned once (each answer a 201: the door's normal work);
- ``rescan``: the same tickets again (each a 409 ``already_checked_in``: people scanned twice);
- ``race``: 50 scanners all scanning the same small set of tickets at once (exactly one 201 per ticket).

Before the measured runs, 1,000 tickets of their own are scanned (not measured), so that every worker has its
connections, prepared statements and device tokens in place. A stadium gate's 50,000 people in an hour is 14 scans/s;
the issue asks for 100 times that (1,400/s). Any second admission of a ticket, or any 5xx, fails the run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import psutil

from benchmarks.flash_sale import CpuMeter, bench_database, free_port, process, redis_url, wait_http
from benchmarks.loadgen import Connection, LoadResult, ProtocolError
from boxoffice.checkin import devices, lists
from boxoffice.checkin.rules import Scanner
from boxoffice.db import Database
from boxoffice.events import service as events
from boxoffice.notifications.codes import ticket_code
from boxoffice.ticketing.orders import confirm_order, list_tickets
from boxoffice.ticketing.plan import LineRequest, OrderRequest
from boxoffice.ticketing.reserve import reserve
from boxoffice.ticketing.ticket_types import create_ticket_type

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
PY = sys.executable
SCANNERS = 50
WARMUP = 1000
PER_ORDER = 1000
TARGET_PER_S = 1400  # 100 times a stadium gate (50,000 people an hour)


async def make_door(db: Database, tickets: int, secret: bytes) -> tuple[str, list[str], list[str]]:
    """An event with ``tickets`` sold tickets (orders of up to 1,000), its default list and a device per scanner.
    Returns the list id, the codes, and the device tokens."""
    start = datetime.now(UTC) + timedelta(days=1)
    event = await events.create_event(
        db,
        "bench-door@example.com",
        events.EventInput(title="Stadium", starts_at=start, ends_at=start + timedelta(hours=4), timezone="UTC"),
    )
    tt = await create_ticket_type(
        db, event.id, {"title": "Stand", "base_price_cents": 2500, "currency": "usd", "quantity": tickets}
    )
    codes: list[str] = []
    for n in range(0, tickets, PER_ORDER):
        quantity = min(PER_ORDER, tickets - n)
        order = await reserve(
            db,
            OrderRequest(
                event_id=event.id, email=f"fan-{n}@example.com", name=f"Fan {n}", lines=[LineRequest(tt.id, quantity)]
            ),
            max_quantity=PER_ORDER,
        )
        await confirm_order(db, order.id, payment_intent_id=f"pi_bench_{order.id}")
        codes.extend(ticket_code(t.id, t.code_version, secret) for t in await list_tickets(db, order.id))
    organizer = Scanner(organizer_id=event.organizer_id, can_undo=True, can_manage=True)
    (door,) = await lists.list_lists(db, event.id, organizer)
    tokens = [(await devices.create_device(db, event.id, f"Gate {i + 1}", organizer)).token for i in range(SCANNERS)]
    return door.id, codes, tokens


async def scan_all(url: str, list_id: str, tokens: Sequence[str], codes: Sequence[str]) -> LoadResult:
    """The 50 scanners in a closed loop over ``codes`` (each code taken by the next free scanner)."""
    host, port = url.removeprefix("http://").split(":")
    path = f"/api/v1/checkin-lists/{list_id}/scans"
    result = LoadResult(clients=len(tokens), duration_s=0.0, successes=0)
    todo = iter(codes)
    started = time.perf_counter()

    async def scanner(token: str) -> None:
        connection = Connection(host, int(port))
        auth = {"Authorization": f"Bearer {token}"}
        try:
            for code in todo:
                body = json.dumps({"code": code, "nonce": secrets.token_hex(8)}).encode()
                t0 = time.perf_counter()
                try:
                    reply = await asyncio.wait_for(connection.post(path, body, auth), 60)
                except (OSError, TimeoutError, ProtocolError, asyncio.IncompleteReadError) as exc:
                    result.errors[f"transport:{type(exc).__name__}"] += 1
                    await connection.close()
                    continue
                result.latencies_ms.append((time.perf_counter() - t0) * 1000)
                if reply.status_code == 201:
                    result.successes += 1
                else:
                    result.errors[f"{reply.status_code}:{reply.json().get('result', '')}"] += 1
        finally:
            await connection.close()

    await asyncio.gather(*(scanner(token) for token in tokens))
    result.duration_s = time.perf_counter() - started
    return result


async def admitted(dsn: str, list_id: str) -> tuple[int, int]:
    """(admitted rows, distinct tickets among them) of the list."""
    conn = await asyncpg.connect(dsn)
    try:
        row = await conn.fetchrow(
            "SELECT count(*), count(DISTINCT ticket_id) FROM checkins WHERE list_id = $1 AND undone_at IS NULL "
            "AND NOT duplicate",
            list_id,
        )
    finally:
        await conn.close()
    return int(row[0]), int(row[1])


def summary(name: str, result: LoadResult, cpu: CpuMeter, scans: int) -> dict[str, Any]:
    out = result.summary()
    out.pop("sellout_s", None)
    return {
        "scenario": name,
        "scans": scans,
        "seconds": round(result.duration_s, 3),
        **out,
        "scans_per_s": round(scans / result.duration_s, 1) if result.duration_s else 0.0,
        "cpu_ms_per_scan": cpu.ms_per(scans),
    }


async def main(args: argparse.Namespace) -> int:
    tickets = 2000 if args.quick else args.tickets
    race_tickets = 100 if args.quick else 200
    secret = secrets.token_urlsafe(32)
    logs = Path(tempfile.mkdtemp(prefix="boxoffice-checkin-bench-"))
    report: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0], "when": datetime.now(UTC).isoformat()},
        "workers": args.workers,
        "scanners": SCANNERS,
        "target_per_s": TARGET_PER_S,
        "runs": [],
    }
    stolen = getattr(psutil.cpu_times(), "steal", 0.0)
    failed = False
    async with bench_database() as (db_url, dsn):
        db = Database(db_url, pool_size=10)
        started = time.perf_counter()
        list_id, codes, tokens = await make_door(db, WARMUP + tickets + race_tickets, secret.encode())
        await db.dispose()
        print(f"set-up: {len(codes)} tickets, {len(tokens)} devices in {time.perf_counter() - started:.1f} s")
        warm, measured, raced = codes[:WARMUP], codes[WARMUP : WARMUP + tickets], codes[WARMUP + tickets :]
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "BOXOFFICE_ENV": "production",
            "BOXOFFICE_DATABASE_URL": db_url,
            "BOXOFFICE_PUBLIC_URL": url,
            "BOXOFFICE_SECRET_KEY": secret,
            "BOXOFFICE_LOG_LEVEL": "WARNING",
            "BOXOFFICE_MAIL_DIR": str(logs / "mail"),
            # production needs a Stripe key; nothing here calls Stripe (this port answers nothing)
            "STRIPE_SECRET_KEY": "sk_test_checkinbench00000000001",
            "STRIPE_WEBHOOK_SECRETS": "whsec_checkinbench0000000001",
            "STRIPE_API_BASE": f"http://127.0.0.1:{free_port()}",
        }
        redis = await redis_url()
        if redis:
            env["BOXOFFICE_REDIS_URL"] = redis
        report["redis"] = bool(redis)
        with (
            process(
                [PY, "-m", "boxoffice.cli", "serve", "--port", str(port), "--workers", str(args.workers)],
                {**env, "BOXOFFICE_RUN_WORKER": "false"},
                logs / "boxoffice.log",
            ) as server,
            process([PY, "-m", "boxoffice.cli", "worker"], env, logs / "worker.log") as worker,
        ):
            await wait_http(f"{url}/healthz")
            await scan_all(url, list_id, tokens, warm)  # not measured
            scenarios = [
                ("admit", measured, len(measured)),
                ("rescan", measured, 0),
                ("race", [code for code in raced for _ in range(SCANNERS)], len(raced)),
            ]
            for name, scans, expected_ok in scenarios:
                with CpuMeter(web=server.pid, worker=worker.pid) as cpu:
                    result = await scan_all(url, list_id, tokens, scans)
                run = summary(name, result, cpu, len(scans))
                run["expected_201"] = expected_ok
                report["runs"].append(run)
                print(json.dumps(run), flush=True)
                server_errors = sum(n for label, n in result.errors.items() if label.startswith(("5", "transport")))
                if result.successes != expected_ok or server_errors:
                    print(
                        f"FAILED: {name}: {result.successes} admitted (expected {expected_ok}), {server_errors} errors"
                    )
                    failed = True
            rows, distinct = await admitted(dsn, list_id)
            report["admitted_rows"], report["admitted_tickets"] = rows, distinct
            if rows != distinct or rows != len(warm) + len(measured) + len(raced):
                print(f"FAILED: {rows} admitted rows for {distinct} tickets")
                failed = True
    report["cpu_stolen_s"] = round(getattr(psutil.cpu_times(), "steal", 0.0) - stolen, 1)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / ("checkin-quick.json" if args.quick else "checkin.json")
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(render(report))
    print(f"results: {out}")
    return 1 if failed else 0


def render(report: dict[str, Any]) -> str:
    """The table of benchmarks/README.md's check-in section, from a results file."""
    lines = [
        "| scenario | scans | answers | scans/s | p50 ms | p95 ms | p99 ms | CPU ms per scan: web / worker / postgres "
        "/ load generator |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for run in report["runs"]:
        answers = Counter({"201": run["successes"], **run["errors"]})
        said = ", ".join(f"{n} x {label}" for label, n in answers.items() if n)
        cpu = run["cpu_ms_per_scan"]
        lines.append(
            f"| {run['scenario']} | {run['scans']} | {said} | {run['scans_per_s']} | {run['p50_ms']} | "
            f"{run['p95_ms']} | {run['p99_ms']} | {cpu['web']} / {cpu['worker']} / {cpu['postgres']} / "
            f"{cpu['load generator']} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2,000 tickets (a smoke run)")
    parser.add_argument("--tickets", type=int, default=5000, help="tickets admitted and rescanned (default 5,000)")
    parser.add_argument("--workers", type=int, default=2, help="Uvicorn workers (default 2)")
    sys.exit(asyncio.run(main(parser.parse_args())))
