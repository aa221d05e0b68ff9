"""The flash-sale scenarios on SQLite, the embedded default: what a small organizer gets with no PostgreSQL.

    .venv/bin/python -m benchmarks.flash_sale --database sqlite                       # results/sqlite.json
    .venv/bin/python -m benchmarks.flash_sale --database sqlite --clients 32 --latency 0 --single-type

Boxoffice as the README's "Two commands" runs it: one ``boxoffice serve`` process (SQLite serves one process), its
worker inside it (``BOXOFFICE_RUN_WORKER`` left on: outbox, emails, hold expiry), no Redis (the in-process broker),
on a SQLite file of its own (WAL). Otherwise as ``flash_sale``: production settings, the standalone sandbox at 0 and
300 ms, the same sales (one type with its voucher sale, 20 types with multi-line orders), warm-ups and checks.
Baselines (a) and (c) run the same conditional reservation on the same SQLite file (``baseline_app.py`` with
``BASELINE_SQLITE``), with one Uvicorn worker like Boxoffice; there is no pgbench (b). The webhook run is left out
(its outgoing-webhook receiver needs loopback deliveries, refused in production, and SQLite's one process is the
web process). ``benchmarks.report --beside latest.json sqlite.json`` puts the figures beside PostgreSQL's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from benchmarks import flash_sale as fs
from benchmarks.report import render
from benchmarks.services import box_env, process, sandbox_args, serve_args, stop_on_sigterm
from boxoffice import migrate
from boxoffice.db import Database


def _path(url: str) -> str:
    return url.split(":///", 1)[1]


def _query(url: str, sql: str, params: tuple[Any, ...]) -> tuple[Any, ...]:
    conn = sqlite3.connect(_path(url), timeout=30)
    try:
        row = conn.execute(sql, params).fetchone()
        conn.commit()
        return tuple(row) if row is not None else ()
    finally:
        conn.close()


async def sold_and_held(url: str, ticket_ids: list[str]) -> tuple[int, int, int]:
    marks = ",".join("?" for _ in ticket_ids)
    row = await asyncio.to_thread(
        _query,
        url,
        f"SELECT sum(quantity), sum(sold_count), sum(held_count) FROM ticket_types WHERE id IN ({marks})",
        tuple(ticket_ids),
    )
    return int(row[0]), int(row[1]), int(row[2])


async def voucher_uses_taken(url: str, voucher_id: str) -> int:
    row = await asyncio.to_thread(_query, url, "SELECT uses_taken FROM vouchers WHERE id = ?", (voucher_id,))
    return int(row[0])


async def outbox_backlog(url: str) -> int:
    row = await asyncio.to_thread(_query, url, "SELECT count(*) FROM outbox_messages WHERE published_at IS NULL", ())
    return int(row[0])


async def insert_ticket(url: str, ticket_id: str, quantity: int) -> None:
    """A baseline's ticket type, under the first event (timestamps as SQLAlchemy stores them in SQLite)."""
    now = datetime.now(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    await asyncio.to_thread(
        _query,
        url,
        "INSERT INTO ticket_types (id, event_id, title, description, pricing_model, base_price_cents, currency, "
        "quantity, sold_count, held_count, tippable, position, created_at, updated_at) "
        "SELECT ?, id, 'baseline', '', 'fixed', 2500, 'usd', ?, 0, 0, 0, 0, ?, ? FROM events LIMIT 1",
        (ticket_id, quantity, now, now),
    )


async def main(args: argparse.Namespace) -> int:
    stop_on_sigterm()
    per_sale = 200 if args.quick else 1000
    client_counts = args.clients or ([32] if args.quick else [32, 128])
    latencies = args.latency or [0, 300]
    logs = Path(tempfile.mkdtemp(prefix="boxoffice-bench-sqlite-"))
    url = f"sqlite+aiosqlite:///{logs / 'boxoffice.db'}"
    await migrate.upgrade(url)
    print(f"SQLite: {_path(url)}  logs: {logs}", flush=True)
    report: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0], "when": datetime.now(UTC).isoformat()},
        "database": "sqlite",
        "workers": 1,
        "redis": False,
        "boxoffice": [],
        "baseline_asgi": [],
        "baseline_checkout": [],
        "pgbench": [],
        "voucher": [],
        "plain_after_voucher": [],
    }
    failed = False
    stolen = getattr(psutil.cpu_times(), "steal", 0.0)
    db = Database(url)
    await fs.make_sale(db, types=1, per_type=1)  # an event row for the baselines' ticket types
    base_env = {**os.environ, "BASELINE_SQLITE": _path(url)}
    port = fs.free_port()
    with process(fs.baseline_server(port, "1"), base_env, logs / "baseline.log") as proc:
        await fs.wait_http(f"http://127.0.0.1:{port}/reserve/none")
        for clients in client_counts:
            r = await fs.baseline_run(
                f"http://127.0.0.1:{port}", url, clients=clients, quantity=per_sale * 5, server_pid=proc.pid
            )
            print("baseline (a)", r, flush=True)
            report["baseline_asgi"].append(r)
    for latency in latencies:
        sandbox_port, box_port, checkout_port = fs.free_port(), fs.free_port(), fs.free_port()
        box_url = f"http://127.0.0.1:{box_port}"
        checkout_env = {
            **base_env,
            "BASELINE_STRIPE_BASE": f"http://127.0.0.1:{sandbox_port}",
            "BASELINE_STRIPE_KEY": fs.API_KEY,
        }
        with (
            process(
                sandbox_args(sandbox_port, f"{box_url}/webhooks/stripe", latency),
                dict(os.environ),
                logs / f"sandbox-{latency}.log",
            ) as sandbox,
            process(
                serve_args(box_port), box_env(url, box_url, sandbox_port, logs, None), logs / f"serve-{latency}.log"
            ) as server,
            process(fs.baseline_server(checkout_port, "1"), checkout_env, logs / f"baseline-c-{latency}.log") as base_c,
        ):
            await fs.wait_http(f"http://127.0.0.1:{sandbox_port}/_sandbox/health")
            await fs.wait_http(f"{box_url}/healthz")
            await fs.wait_http(f"http://127.0.0.1:{checkout_port}/reserve/none")
            for clients in client_counts:
                r = await fs.baseline_run(
                    f"http://127.0.0.1:{checkout_port}",
                    url,
                    clients=clients,
                    quantity=per_sale * (2 if latency == 0 else 1),
                    server_pid=base_c.pid,
                    endpoint="reserve-checkout",
                    sandbox_pid=sandbox.pid,
                )
                r["stripe_latency_ms"] = latency
                print("baseline (c)", r, flush=True)
                report["baseline_checkout"].append(r)
                failed |= fs.sale_failed(r)
            for types, per_type in ((1, per_sale), (20, per_sale // 20))[: 1 if args.single_type else 2]:
                for clients in client_counts:
                    for key, r in await fs.sale_series(
                        box_url,
                        db,
                        url,
                        clients=clients,
                        types=types,
                        per_type=per_type,
                        server_pids=(server.pid,),
                        sandbox_pid=sandbox.pid,
                        voucher=not args.no_voucher,
                    ):
                        r.update({"stripe_latency_ms": latency, "ticket_types": types})
                        print(key, r, flush=True)
                        report[key].append(r)
                        failed |= fs.sale_failed(r)
    await db.dispose()
    report["machine"]["steal_s"] = round(getattr(psutil.cpu_times(), "steal", 0.0) - stolen, 1)
    report["ratios"] = fs.ratios(report)
    report["overlap"] = fs.overlap(report)
    report["against_checkout"] = fs.against_checkout(report)
    report["voucher_vs_plain"] = fs.voucher_vs_plain(report)
    fs.RESULTS.mkdir(parents=True, exist_ok=True)
    partial = args.clients or args.latency or args.single_type or args.no_voucher
    out = fs.RESULTS / ("sqlite-partial.json" if partial else "sqlite-quick.json" if args.quick else "sqlite.json")
    out.write_text(json.dumps(report, indent=2))
    print(render(report))
    print(f"results: {out}  logs: {logs}")
    return 1 if failed else 0
