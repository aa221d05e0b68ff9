"""Two Uvicorn processes sharing PostgreSQL and Redis: a purchase through one is seen on the other's SSE."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from boxoffice.db import Database
from tests.helpers import make_event, make_ticket
from tests.integration.test_domain_events_pubsub import REDIS_URL, redis_or_skip

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(pg_url: str, port: int, tmp: Path, redis_prefix: str) -> Iterator[str]:
    env = {
        **os.environ,
        "BOXOFFICE_DATABASE_URL": pg_url,
        "BOXOFFICE_REDIS_URL": REDIS_URL,
        "BOXOFFICE_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "BOXOFFICE_MAIL_DIR": str(tmp / f"mail-{port}"),
        "BOXOFFICE_LOG_LEVEL": "WARNING",
        "BOXOFFICE_REDIS_PREFIX": redis_prefix,
    }
    log = (tmp / f"server-{port}.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "boxoffice.cli", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


async def up(url: str) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(300):
            try:
                if (await client.get(f"{url}/healthz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"{url} did not start")


async def sse_data(lines: AsyncIterator[str]) -> dict[str, Any]:
    async for line in lines:
        if line.startswith("data: "):
            data: dict[str, Any] = json.loads(line[6:])
            return data
    raise AssertionError("stream ended")


async def test_purchase_on_one_process_is_seen_on_the_other(pg_url: str, pg_db: Database, tmp_path: Path) -> None:
    await redis_or_skip()
    event = await make_event(pg_db)
    tt = await make_ticket(pg_db, event.id, quantity=20)
    prefix = f"bo-2p-{secrets.token_hex(3)}:"
    with serve(pg_url, free_port(), tmp_path, prefix) as a, serve(pg_url, free_port(), tmp_path, prefix) as b:
        await asyncio.gather(up(a), up(b))
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
