"""Baseline (a): the ceiling of a Python HTTP service here. A bare ASGI app whose one endpoint runs the same
single-statement conditional reservation with asyncpg, and nothing else.

Run: ``uvicorn benchmarks.baseline_app:app --workers N`` with ``BASELINE_DSN`` set.
"""

from __future__ import annotations

import json
import os
from typing import Any

import asyncpg

RESERVE = (
    "UPDATE ticket_types SET held_count = held_count + 1 "
    "WHERE id = $1 AND quantity - sold_count - held_count >= 1 RETURNING held_count"
)
_pool: asyncpg.Pool | None = None


async def _respond(send: Any, status: int, body: dict[str, Any]) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": payload})


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    global _pool
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                _pool = await asyncpg.create_pool(os.environ["BASELINE_DSN"], min_size=4, max_size=10)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if _pool is not None:
                    await _pool.close()
                await send({"type": "lifespan.shutdown.complete"})
                return
    assert scope["type"] == "http" and _pool is not None
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    ticket_id = scope["path"].rsplit("/", 1)[-1]
    row = await _pool.fetchrow(RESERVE, ticket_id)
    if row is None:
        await _respond(send, 409, {"type": "sold-out"})
    else:
        await _respond(send, 201, {"held": row["held_count"]})
