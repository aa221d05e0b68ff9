"""The baselines' server: the ceiling of a Python HTTP service here.

``/reserve/{ticket_type_id}``, baseline (a): a bare ASGI endpoint that runs the same single-statement conditional
reservation with asyncpg, and nothing else.

``/reserve-checkout/{ticket_type_id}``, baseline (c) (informational, not in the issue's targets): the same, then one
Checkout Session created at ``BASELINE_STRIPE_BASE`` (the sandbox) the way a minimal service would, with aiohttp and
a hand-built form body of the same fields Boxoffice sends, an idempotency key and the secret key; it answers the
session's URL. It stores nothing more. A rate against it compares what both must do per order: reserve, one call.

Run: ``uvicorn benchmarks.baseline_app:app --workers N`` with ``BASELINE_DSN`` set (and ``BASELINE_STRIPE_BASE``,
``BASELINE_STRIPE_KEY`` for baseline (c)).

With ``BASELINE_SQLITE`` (a file path) instead of ``BASELINE_DSN``, the same statement runs on that SQLite database
through one aiosqlite connection opened as Boxoffice opens its own (WAL, a 30 s busy timeout; each statement its own
transaction): the SQLite baselines of ``flash_sale --database sqlite``.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from typing import Any
from urllib.parse import urlencode

import aiohttp
import aiosqlite
import asyncpg

RESERVE = (
    "UPDATE ticket_types SET held_count = held_count + 1 "
    "WHERE id = $1 AND quantity - sold_count - held_count >= 1 RETURNING held_count"
)
SQLITE_RESERVE = (
    "UPDATE ticket_types SET held_count = held_count + 1 "
    "WHERE id = ? AND quantity - sold_count - held_count >= 1 RETURNING held_count"
)
_pool: asyncpg.Pool | None = None
_sqlite: aiosqlite.Connection | None = None
_http: aiohttp.ClientSession | None = None


async def _open_sqlite(path: str) -> aiosqlite.Connection:
    conn = await aiosqlite.connect(path, timeout=30, isolation_level=None)
    await conn.execute("PRAGMA journal_mode=WAL")
    await conn.execute("PRAGMA busy_timeout=30000")
    return conn


async def _reserve(ticket_id: str) -> int | None:
    """The conditional reservation; the new held count, or None when sold out."""
    if _sqlite is not None:
        async with _sqlite.execute(SQLITE_RESERVE, (ticket_id,)) as cursor:
            found = await cursor.fetchone()
        return None if found is None else int(found[0])
    assert _pool is not None
    row = await _pool.fetchrow(RESERVE, ticket_id)
    return None if row is None else int(row["held_count"])


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


def _checkout_form(ticket_id: str) -> str:
    """The fields Boxoffice sends for a one-ticket order, form-encoded as Stripe's API takes them."""
    order = "ord_" + uuid.uuid4().hex[:24]
    page = f"http://127.0.0.1/orders/{order}?token=t"
    return urlencode(
        {
            "mode": "payment",
            "line_items[0][quantity]": 1,
            "line_items[0][price_data][currency]": "usd",
            "line_items[0][price_data][unit_amount]": 2500,
            "line_items[0][price_data][product_data][name]": "Flash sale: baseline",
            "customer_email": "buyer@example.com",
            "client_reference_id": order,
            "metadata[order_id]": order,
            "metadata[ticket_type_id]": ticket_id,
            "payment_intent_data[metadata][order_id]": order,
            "success_url": page + "&session_id={CHECKOUT_SESSION_ID}",
            "cancel_url": page + "&checkout=canceled",
            "expires_at": int(time.time()) + 3600,
            "submit_type": "book",
        }
    )


async def _create_checkout(ticket_id: str) -> str:
    assert _http is not None
    async with _http.post(
        os.environ["BASELINE_STRIPE_BASE"].rstrip("/") + "/v1/checkout/sessions",
        data=_checkout_form(ticket_id),
        headers={
            "Authorization": "Bearer " + os.environ["BASELINE_STRIPE_KEY"],
            "Content-Type": "application/x-www-form-urlencoded",
            "Idempotency-Key": uuid.uuid4().hex,
        },
    ) as response:
        session = json.loads(await response.read())
        if response.status != 200:
            raise RuntimeError(f"checkout failed: {response.status} {session}")
        return str(session["url"])


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    global _pool, _sqlite, _http
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if os.environ.get("BASELINE_SQLITE"):
                    _sqlite = await _open_sqlite(os.environ["BASELINE_SQLITE"])
                else:
                    _pool = await asyncpg.create_pool(os.environ["BASELINE_DSN"], min_size=4, max_size=10)
                _http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64))
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if _pool is not None:
                    await _pool.close()
                if _sqlite is not None:
                    await _sqlite.close()
                if _http is not None:
                    await _http.close()
                await send({"type": "lifespan.shutdown.complete"})
                return
    assert scope["type"] == "http" and (_pool is not None or _sqlite is not None)
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    route, _, ticket_id = scope["path"].rpartition("/")
    held = await _reserve(ticket_id)
    if held is None:
        await _respond(send, 409, {"type": "sold-out"})
    elif route.endswith("/reserve-checkout"):
        await _respond(send, 201, {"held": held, "checkout_url": await _create_checkout(ticket_id)})
    else:
        await _respond(send, 201, {"held": held})
