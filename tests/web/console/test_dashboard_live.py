"""The live dashboard after refunds: its stream carries the order's refund (a partial one moves money and no
ticket, so no availability message would say it), and the figures fetched then are right to the cent."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from boxoffice.ticketing.orders import get_order
from boxoffice.ticketing.plan import LineRequest, OrderRequest
from tests.accounts.support import make_member, sign_in
from tests.helpers import eventually, make_event, make_ticket, unique_email
from tests.server import LiveServer


@pytest.fixture
async def browser(site: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=site.url, timeout=30) as client:
        yield client


async def paid_order(site: LiveServer, event_id: str, tt_id: str, quantity: int, tip: int | None = None) -> str:
    placed = await site.box.payments.place_order(
        OrderRequest(
            event_id=event_id, email=unique_email(), name="Ada", lines=[LineRequest(tt_id, quantity)], tip_cents=tip
        )
    )
    assert site.box.sandbox is not None and placed.order.stripe_checkout_session_id
    await site.box.sandbox.complete_session(placed.order.stripe_checkout_session_id, "pay")

    async def confirmed() -> bool:
        return (await get_order(site.box.db, placed.order.id)).status == "confirmed"

    await eventually(confirmed)
    return placed.order.id


async def next_message(lines: AsyncIterator[str], name: str) -> dict[str, Any]:
    """The data of the stream's next message named ``name`` (the others are skipped)."""

    async def find() -> dict[str, Any]:
        current = ""
        async for line in lines:
            if line.startswith("event: "):
                current = line.removeprefix("event: ")
            elif line.startswith("data: ") and current == name:
                data: dict[str, Any] = json.loads(line.removeprefix("data: "))
                return data
        raise AssertionError(f"the stream ended before {name}")

    return await asyncio.wait_for(find(), 20)


def figures(html: str) -> dict[str, str]:
    """The money figures of the ``/live`` fragment: ``data-figure="gross">$75.00<`` -> ``{"gross": "$75.00"}``."""
    found = {}
    for name in ("orders", "sold", "gross", "tips", "refunds", "net"):
        found[name] = html.split(f'data-figure="{name}">', 1)[1].split("<", 1)[0]
    return found


async def test_a_partial_then_a_full_refund_reach_the_dashboard_live(
    site: LiveServer, browser: httpx.AsyncClient
) -> None:
    owner = await make_member(site.box.db, site.box.settings.secret_bytes)
    event = await make_event(site.box.db, organizer=owner.organizer_email)
    tt = await make_ticket(site.box.db, event.id, base_price_cents=2500, quantity=10, tippable=True)
    refunded_order = await paid_order(site, event.id, tt.id, 2, tip=199)  # $50.00 + $1.99 tip
    await paid_order(site, event.id, tt.id, 1)  # $25.00
    await sign_in(browser, owner.email)
    live = f"/manage/events/{event.id}/live"
    assert figures((await browser.get(live)).text) == {
        "orders": "2",
        "sold": "3",
        "gross": "$76.99",
        "tips": "$1.99",
        "refunds": "$0.00",
        "net": "$76.99",
    }

    async with browser.stream("GET", f"/manage/events/{event.id}/stream") as answer:
        assert answer.status_code == 200
        lines = answer.aiter_lines()
        await next_message(lines, "hello")

        await site.box.payments.refund(refunded_order, 1234)
        message = await next_message(lines, "order.partially_refunded")
        assert (message["order_id"], message["refunded_cents"], message["total_cents"]) == (refunded_order, 1234, 5199)
        assert figures((await browser.get(live)).text) == {
            "orders": "2",
            "sold": "3",  # a partial refund keeps the tickets
            "gross": "$76.99",
            "tips": "$1.99",
            "refunds": "$12.34",
            "net": "$64.65",
        }

        await site.box.payments.refund(refunded_order)  # the rest: $39.65
        message = await next_message(lines, "order.refunded")
        assert (message["order_id"], message["refunded_cents"]) == (refunded_order, 5199)
        assert figures((await browser.get(live)).text) == {
            "orders": "2",
            "sold": "1",  # a full refund returns the tickets to sale
            "gross": "$76.99",
            "tips": "$1.99",
            "refunds": "$51.99",
            "net": "$25.00",
        }


async def test_the_public_availability_stream_never_carries_the_orders(
    site: LiveServer, browser: httpx.AsyncClient
) -> None:
    owner = await make_member(site.box.db, site.box.settings.secret_bytes)
    event = await make_event(site.box.db, organizer=owner.organizer_email, status="published")
    tt = await make_ticket(site.box.db, event.id, base_price_cents=1000, quantity=10)
    async with browser.stream("GET", f"/api/v1/events/{event.id}/stream") as answer:
        assert answer.status_code == 200
        lines = answer.aiter_lines()
        await next_message(lines, "availability")
        order_id = await paid_order(site, event.id, tt.id, 1)
        seen: list[str] = []

        async def until_sold() -> None:
            async for line in lines:
                seen.append(line)
                if line.startswith("data: ") and '"sold":1' in line:
                    return

        await asyncio.wait_for(until_sold(), 20)
    assert not any("order." in line or order_id in line for line in seen)
