"""Two Uvicorn processes sharing PostgreSQL and Redis: a purchase through one is seen on the other's SSE.

Only the first process runs the worker (outbox dispatcher), so the second never publishes anything itself: what its
subscriber receives came through Redis from the first."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

from boxoffice.db import Database
from tests.helpers import REDIS_URL, make_event, make_ticket, require_redis
from tests.processes import boxoffice, free_port, server_env, wait_up


async def sse_data(lines: AsyncIterator[str]) -> dict[str, Any]:
    async for line in lines:
        if line.startswith("data: "):
            data: dict[str, Any] = json.loads(line[6:])
            return data
    raise AssertionError("stream ended")


async def test_purchase_on_one_process_is_seen_on_the_other(fresh_pg: tuple[str, Database], tmp_path: Path) -> None:
    pg_url, pg_db = fresh_pg
    await require_redis()
    event = await make_event(pg_db)
    tt = await make_ticket(pg_db, event.id, quantity=20)
    prefix = f"bo-2p-{secrets.token_hex(3)}:"
    servers = []
    for run_worker in ("true", "false"):
        port = free_port()
        env = server_env(
            pg_url,
            port,
            tmp_path / str(port),
            BOXOFFICE_REDIS_URL=REDIS_URL,
            BOXOFFICE_REDIS_PREFIX=prefix,
            BOXOFFICE_RUN_WORKER=run_worker,
        )
        servers.append((f"http://127.0.0.1:{port}", boxoffice(port, env, tmp_path / f"server-{port}.log").start()))
    (a, _), (b, _) = servers
    try:
        await asyncio.gather(wait_up(f"{a}/healthz"), wait_up(f"{b}/healthz"))
        async with (
            httpx.AsyncClient(timeout=30) as client,
            client.stream("GET", f"{b}/api/v1/events/{event.id}/stream") as stream,
        ):
            lines = stream.aiter_lines()
            first = await asyncio.wait_for(sse_data(lines), 15)
            assert first["ticket_types"][0]["available"] == 20
            r = await client.post(
                f"{a}/api/v1/events/{event.id}/orders",
                json={"email": "two@example.com", "lines": [{"ticket_id": tt.id, "quantity": 3}]},
            )
            assert r.status_code == 201, r.text
            while True:
                update = await asyncio.wait_for(sse_data(lines), 15)
                if update.get("type") == "availability" and update["ticket_types"][0]["available"] == 17:
                    break
    finally:
        for _, proc in servers:
            proc.stop()
