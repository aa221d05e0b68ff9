"""Limits against hoarding over HTTP: the order rate limit per client address (in memory, and shared by two app
instances through Redis), the trusted proxy header, the held-ticket caps as 429 problems with ``Retry-After``, the
buyer page's form under the same limits."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from boxoffice.ticketing.models import Order
from tests.helpers import REDIS_URL, make_event, make_ticket, require_redis, unique_email
from tests.server import LiveServer, live_server


@asynccontextmanager
async def server(pg_url: str, tmp_path: Any, **settings: Any) -> AsyncIterator[LiveServer]:
    async with live_server(pg_url, mail_dir=str(tmp_path / "mail"), **settings) as srv:
        yield srv


async def sale(srv: LiveServer, **fields: Any) -> tuple[str, str]:
    event = await make_event(srv.box.db)
    tt = await make_ticket(srv.box.db, event.id, quantity=500, **fields)
    return event.id, tt.id


async def order(
    client: httpx.AsyncClient, event_id: str, ticket_id: str, quantity: int = 1, **kw: Any
) -> httpx.Response:
    body = {"email": kw.pop("email", unique_email()), "lines": [{"ticket_id": ticket_id, "quantity": quantity}]}
    return await client.post(f"/api/v1/events/{event_id}/orders", json=body, **kw)


def too_many(r: httpx.Response, limit: str) -> dict[str, Any]:
    assert r.status_code == 429, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    wait = int(r.headers["Retry-After"])
    body: dict[str, Any] = r.json()
    assert body["type"] == "https://boxoffice.dev/problems/too-many-requests"
    assert body["status"] == 429 and body["limit"] == limit and body["retry_after"] == wait > 0
    return body


async def orders_of(srv: LiveServer, event_id: str) -> int:
    async with srv.box.db.read() as session:
        return int(await session.scalar(select(func.count()).where(Order.event_id == event_id)) or 0)


async def test_order_rate_limit_answers_429_with_retry_after(pg_url: str, tmp_path: Any) -> None:
    async with server(pg_url, tmp_path, order_rate_per_minute=2, order_rate_burst=3) as srv:
        event_id, tt = await sale(srv)
        for _ in range(3):
            assert (await order(srv.client, event_id, tt)).status_code == 201
        body = too_many(await order(srv.client, event_id, tt), "rate")
        assert 1 <= body["retry_after"] <= 30  # one token comes back every 30 seconds
        assert "too many orders from this network address" in body["detail"]
        free_id = (await make_ticket(srv.box.db, event_id, base_price_cents=0, title="Free")).id
        too_many(await order(srv.client, event_id, free_id), "rate")  # free orders take the same path
        assert await orders_of(srv, event_id) == 3


async def test_two_app_instances_share_the_rate_limit_and_the_caps(pg_url: str, tmp_path: Any) -> None:
    """Two Boxoffice instances (as two processes would be) on one PostgreSQL and one Redis: the rate limit's
    buckets are in Redis, the held tickets in the database, so neither can be doubled by switching instance."""
    await require_redis()
    shared = {
        "redis_url": REDIS_URL,
        "redis_prefix": f"test-{secrets.token_hex(4)}:",
        "order_rate_per_minute": 1,
        "order_rate_burst": 4,
        "max_held_tickets_per_email": 2,
    }
    async with server(pg_url, tmp_path / "a", **shared) as a, server(pg_url, tmp_path / "b", **shared) as b:
        event_id, tt = await sale(a)
        email = unique_email("hoarder")
        assert (await order(a.client, event_id, tt, 2, email=email)).status_code == 201
        too_many(await order(b.client, event_id, tt, 1, email=email), "held-per-email")
        assert (await order(a.client, event_id, tt)).status_code == 201
        assert (await order(b.client, event_id, tt)).status_code == 201
        body = too_many(await order(b.client, event_id, tt), "rate")
        assert 1 <= body["retry_after"] <= 60
        too_many(await order(a.client, event_id, tt), "rate")
        assert await orders_of(a, event_id) == 3


async def test_trusted_proxy_header_names_the_client(pg_url: str, tmp_path: Any) -> None:
    async with server(
        pg_url, tmp_path, order_rate_per_minute=1, order_rate_burst=1, trusted_proxy_header="X-Forwarded-For"
    ) as srv:
        event_id, tt = await sale(srv)

        def via(chain: str) -> dict[str, Any]:
            return {"headers": {"X-Forwarded-For": chain}}

        assert (await order(srv.client, event_id, tt, **via("203.0.113.9, 198.51.100.1"))).status_code == 201
        # What the client wrote left of the proxy's own entry changes nothing: the same client.
        too_many(await order(srv.client, event_id, tt, **via("192.0.2.77, 198.51.100.1")), "rate")
        assert (await order(srv.client, event_id, tt, **via("198.51.100.2"))).status_code == 201
        assert (await order(srv.client, event_id, tt)).status_code == 201  # no header: the socket peer
    async with server(pg_url, tmp_path / "2", order_rate_per_minute=1, order_rate_burst=1) as srv:
        event_id, tt = await sale(srv)
        assert (await order(srv.client, event_id, tt, **via("198.51.100.3"))).status_code == 201
        # Without a configured header, X-Forwarded-For is the client's own words: ignored.
        too_many(await order(srv.client, event_id, tt, **via("198.51.100.4")), "rate")


async def test_held_caps_answer_429_naming_the_cap(pg_url: str, tmp_path: Any) -> None:
    async with server(pg_url, tmp_path, max_held_tickets_per_email=4, max_held_tickets_per_address=6) as srv:
        event_id, tt = await sale(srv)
        email = unique_email("hoarder")
        assert (await order(srv.client, event_id, tt, 3, email=email)).status_code == 201
        body = too_many(await order(srv.client, event_id, tt, 2, email=email), "held-per-email")
        assert body["retry_after"] > 30 * 60 - 60  # when the first hold ends
        assert (await order(srv.client, event_id, tt, 2)).status_code == 201  # 5 held from this address
        body = too_many(await order(srv.client, event_id, tt, 2), "held-per-address")
        assert "network address" in body["detail"]
        assert await orders_of(srv, event_id) == 2


async def test_one_request_cannot_hold_a_thousand_units(pg_url: str, tmp_path: Any) -> None:
    async with server(pg_url, tmp_path) as srv:
        event_id, tt = await sale(srv, max_per_order=None)
        lines = [{"ticket_id": tt, "quantity": 50}] * 20
        r = await srv.client.post(f"/api/v1/events/{event_id}/orders", json={"email": unique_email(), "lines": lines})
        assert r.status_code == 422, r.text
        assert [(e["field"], e["code"], e["maximum"]) for e in r.json()["errors"]] == [
            ("lines[1].quantity", "over_limit", 50)
        ]
        assert await orders_of(srv, event_id) == 0


async def test_buyer_page_form_has_the_same_limits(pg_url: str, tmp_path: Any) -> None:
    async with server(
        pg_url, tmp_path, order_rate_per_minute=1, order_rate_burst=2, max_held_tickets_per_email=2
    ) as srv:
        event_id, tt = await sale(srv)
        email = unique_email()
        first = await srv.client.post(f"/e/{event_id}/checkout", data={f"qty_{tt}": "2", "email": email})
        assert first.status_code == 303
        capped = await srv.client.post(f"/e/{event_id}/checkout", data={f"qty_{tt}": "1", "email": email})
        assert capped.status_code == 429 and int(capped.headers["Retry-After"]) > 0
        assert "This email address already has tickets on hold for this event" in capped.text
        limited = await srv.client.post(f"/e/{event_id}/checkout", data={f"qty_{tt}": "1", "email": unique_email()})
        assert limited.status_code == 429 and 1 <= int(limited.headers["Retry-After"]) <= 60
        assert "Too many orders were placed from your network just now" in limited.text
        assert await orders_of(srv, event_id) == 1


@pytest.mark.parametrize("header", ["X-Forwarded-For", "Forwarded", "X-Real-IP"])
def test_client_address_takes_the_right_most_entry_of_the_trusted_header(header: str) -> None:
    from types import SimpleNamespace

    from starlette.requests import Request

    from boxoffice.web.clients import client_address

    def request(headers: list[tuple[str, str]], trusted: str | None) -> Request:
        app = SimpleNamespace(
            state=SimpleNamespace(box=SimpleNamespace(settings=SimpleNamespace(trusted_proxy_header=trusted)))
        )
        scope = {
            "type": "http",
            "app": app,
            "client": ("10.9.8.7", 5555),
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers],
        }
        return Request(scope)

    value = {
        "X-Forwarded-For": ("1.2.3.4, 203.0.113.5", "203.0.113.5"),
        "Forwarded": ('for=1.2.3.4, for="[2001:db8::1]:443";proto=https', "2001:db8::1"),
        "X-Real-IP": ("203.0.113.5", "203.0.113.5"),
    }[header]
    assert client_address(request([(header, "9.9.9.9"), (header, value[0])], header)) == value[1]
    assert client_address(request([(header, value[0])], None)) == "10.9.8.7"
    assert client_address(request([(header, "not an address")], header)) == "10.9.8.7"
    assert client_address(request([], header)) == "10.9.8.7"
