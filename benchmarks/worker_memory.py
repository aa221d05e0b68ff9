"""Resident memory of each web worker after a 10,000-order sale (the issue's target: at most 120 MB each).

    .venv/bin/python -m benchmarks.worker_memory                  # results/worker-memory.json
    .venv/bin/python -m benchmarks.worker_memory --orders 2000    # a short run

Boxoffice as ``flash_sale`` serves it (``boxoffice serve --workers 2``, ``BOXOFFICE_RUN_WORKER=false``, one
``boxoffice worker``, PostgreSQL, Redis, the sandbox at 0 ms). The RSS of every process is read when the service is
up, after a warm-up of 300 orders, right after a one-type sale of ``--orders`` tickets to 32 clients, and 30 s
later. ``--imports`` also reports what a fresh interpreter holds after importing the web app and building it (the
floor under any worker, before its first request), and the packages whose modules the import pulls in.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from benchmarks.flash_sale import (
    PY,
    RESULTS,
    ROOT,
    bench_database,
    free_port,
    is_sold_out,
    make_sale,
    redis_url,
    wait_http,
    warm_up,
)
from benchmarks.loadgen import run_load
from benchmarks.report import _table
from benchmarks.rss import process_names
from benchmarks.services import box_env, process, sandbox_args, serve_args, stop_on_sigterm, worker_args
from boxoffice.db import Database

TARGET_MB = 120.0

IMPORTS = textwrap.dedent(
    """
    import collections, json, os, sys, psutil
    rss = lambda: round(psutil.Process().memory_info().rss / 2**20, 1)
    steps = {"interpreter": rss()}
    import boxoffice.web.app as web
    steps["import boxoffice.web.app"] = rss()
    web.create_app()
    steps["create_app()"] = rss()
    packages = collections.Counter(name.split(".")[0] for name in sys.modules)
    print(json.dumps({"steps": steps, "modules": len(sys.modules), "packages": packages.most_common(15)}))
    """
)


def rss_of(names: dict[str, int]) -> dict[str, float]:
    out = {}
    for name, pid in names.items():
        try:
            out[name] = round(psutil.Process(pid).memory_info().rss / 2**20, 1)
        except psutil.Error:
            continue
    return out


def import_floor(env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run([PY, "-c", IMPORTS], env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    found: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


async def run(args: argparse.Namespace) -> dict[str, Any]:
    logs = Path(tempfile.mkdtemp(prefix="boxoffice-memory-"))
    print(f"logs: {logs}", flush=True)
    async with bench_database() as (db_url, _dsn):
        db = Database(db_url, pool_size=2)
        redis = await redis_url()
        sandbox_port, box_port = free_port(), free_port()
        box_url = f"http://127.0.0.1:{box_port}"
        env = box_env(db_url, box_url, sandbox_port, logs, redis)
        readings: dict[str, dict[str, float]] = {}
        with (
            process(sandbox_args(sandbox_port, f"{box_url}/webhooks/stripe"), dict(os.environ), logs / "sb.log"),
            process(serve_args(box_port, 2), {**env, "BOXOFFICE_RUN_WORKER": "false"}, logs / "serve.log") as web,
            process(worker_args(), env, logs / "worker.log") as worker,
        ):
            await wait_http(f"http://127.0.0.1:{sandbox_port}/_sandbox/health")
            await wait_http(f"{box_url}/healthz")
            await asyncio.sleep(3)
            names = process_names({"web": web.pid})
            names["worker"] = worker.pid
            readings["up"] = rss_of(names)
            warm_event, warm_ids = await make_sale(db, types=1, per_type=300)
            await warm_up(
                f"{box_url}/api/v1/events/{warm_event}/orders",
                lambda i: {
                    "email": f"w{i}@example.com",
                    "name": "W",
                    "lines": [{"ticket_id": warm_ids[0], "quantity": 1}],
                },
                clients=32,
            )
            readings["after warm-up"] = rss_of(names)
            event_id, ids = await make_sale(db, types=1, per_type=args.orders)
            result = await run_load(
                f"{box_url}/api/v1/events/{event_id}/orders",
                lambda i: {"email": f"b{i}@example.com", "name": "B", "lines": [{"ticket_id": ids[0], "quantity": 1}]},
                clients=32,
                target=args.orders,
                is_sold_out=is_sold_out,
                max_seconds=1800,
            )
            readings[f"after the {args.orders:,}-order sale"] = rss_of(names)
            await asyncio.sleep(30)
            readings["30 s later"] = rss_of(names)
        await db.dispose()
    out: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(),
        "orders": args.orders,
        "sale": result.summary(),
        "readings": readings,
        "target_mb": TARGET_MB,
    }
    if args.imports:
        out["imports"] = import_floor(env)
    return out


def render(result: dict[str, Any]) -> str:
    readings: dict[str, dict[str, float]] = result["readings"]
    moments = list(readings)
    processes = list(collections.OrderedDict.fromkeys(name for r in readings.values() for name in r))
    rows = [[name, *(f"{readings[m].get(name, 0):.1f}" for m in moments)] for name in processes]
    last = readings[moments[-2]] if len(moments) > 1 else readings[moments[-1]]
    workers = {name: mb for name, mb in last.items() if name.startswith("web worker")}
    verdict = ", ".join(f"{name} {mb:.0f} MB" for name, mb in workers.items())
    met = all(mb <= result["target_mb"] for mb in workers.values())
    sale = result["sale"]
    lines = [
        f"Run of {result['when'][:16].replace('T', ' ')} UTC: {sale['successes']:,} orders at "
        f"{sale['rate_per_s']} orders/s (32 clients). RSS in MB:",
        "",
        *_table(("process", *moments), rows),
        "",
        f"Web workers right after the sale: {verdict}: target {result['target_mb']:.0f} MB "
        + ("**met**." if met else "**not met**."),
    ]
    imports = result.get("imports")
    if imports:
        steps = ", ".join(f"{step} {mb} MB" for step, mb in imports["steps"].items())
        packages = ", ".join(f"{name} {n}" for name, n in imports["packages"])
        lines += [
            "",
            f"A fresh interpreter, before any request: {steps}; {imports['modules']} modules loaded "
            f"(most by package: {packages}).",
        ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=10_000, help="tickets sold (default 10,000)")
    parser.add_argument("--imports", action="store_true", help="also measure the import floor of a web worker")
    args = parser.parse_args()
    stop_on_sigterm()
    result = asyncio.run(run(args))
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "worker-memory" if args.orders >= 10_000 else "worker-memory-short"
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2))
    print(render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
