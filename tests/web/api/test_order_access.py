"""Every order endpoint takes the order's token the same three ways (header, the order page's cookie, ?token=), and
an organizer canceling a paid order is told to refund it instead."""

from __future__ import annotations

from typing import Any

import httpx

from boxoffice.ticketing import orders as lifecycle
from tests.helpers import eventually, make_event, make_ticket, unique_email
from tests.web.api.conftest import Api


async def pending_order(api: Api, organizer: str | None = None) -> tuple[str, str, str]:
    """(event id, order id, token) of a new pending order."""
    event = await make_event(api.srv.box.db, organizer=organizer)
    tt = await make_ticket(api.srv.box.db, event.id, quantity=10)
    r = await api.srv.client.post(
        f"/api/v1/events/{event.id}/orders",
        json={"email": unique_email(), "lines": [{"ticket_id": tt.id, "quantity": 1}]},
    )
    assert r.status_code == 201, r.text
    return event.id, r.json()["id"], r.json()["token"]


async def test_the_token_is_taken_the_same_three_ways_everywhere(api: Api) -> None:
    _, order_id, token = await pending_order(api)
    url = api.srv.url
    ways: list[dict[str, Any]] = [
        {"headers": {"Authorization": f"Bearer {token}"}},
        {"params": {"token": token}},
        {"cookies": {f"bo_order_{order_id}": token}},
    ]
    for way in ways:
        async with httpx.AsyncClient(
            base_url=url, timeout=30, **({"cookies": way["cookies"]} if "cookies" in way else {})
        ) as c:
            kwargs = {k: v for k, v in way.items() if k != "cookies"}
            seen = await c.get(f"/api/v1/orders/{order_id}", **kwargs)
            assert seen.status_code == 200 and seen.json()["id"] == order_id, (way, seen.text)
            resumed = await c.post(f"/api/v1/orders/{order_id}/checkout", **kwargs)
            assert resumed.status_code == 200 and resumed.json()["checkout_url"], (way, resumed.text)
            async with c.stream("GET", f"/api/v1/orders/{order_id}/stream", **kwargs) as stream:
                assert stream.status_code == 200, way
    async with httpx.AsyncClient(base_url=url, timeout=30) as c:
        assert (await c.get(f"/api/v1/orders/{order_id}")).status_code == 401
        # a wrong token is invalid credentials (401, as for an order that does not exist)
        assert (await c.get(f"/api/v1/orders/{order_id}", params={"token": "wrong"})).status_code == 401
        assert (await c.get(f"/api/v1/orders/{order_id}", headers={"Authorization": "Bearer wrong"})).status_code == 401
        canceled = await c.post(f"/api/v1/orders/{order_id}/cancel", params={"token": token})
        assert canceled.status_code == 200 and canceled.json()["status"] == "canceled"


async def test_an_organizer_cancels_a_pending_order_and_is_told_to_refund_a_paid_one(api: Api) -> None:
    c = api.srv.client
    organizer = await _organizer_email(api)
    _, pending, _ = await pending_order(api, organizer)
    other = await c.post(f"/api/v1/orders/{pending}/cancel", headers=api.auth(api.other_key))
    assert other.status_code == 404 and pending not in other.text
    mine = await c.post(f"/api/v1/orders/{pending}/cancel", headers=api.auth())
    assert mine.status_code == 200 and mine.json()["status"] == "canceled"

    _, paid, token = await pending_order(api, organizer)
    order = await lifecycle.get_order(api.srv.box.db, paid)
    assert api.srv.box.sandbox is not None and order.stripe_checkout_session_id
    await api.srv.box.sandbox.complete_session(order.stripe_checkout_session_id, "pay")

    async def confirmed() -> bool:
        return (await lifecycle.get_order(api.srv.box.db, paid)).status == "confirmed"

    await eventually(confirmed)
    refused = await c.post(f"/api/v1/orders/{paid}/cancel", headers=api.auth())
    assert refused.status_code == 409 and refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["refund"] == f"/api/v1/orders/{paid}/refunds" and "refund" in refused.json()["detail"]
    by_buyer = await c.post(f"/api/v1/orders/{paid}/cancel", headers={"Authorization": f"Bearer {token}"})
    assert by_buyer.status_code == 409 and "ask the organizer for a refund" in by_buyer.json()["detail"]
    assert (await lifecycle.get_order(api.srv.box.db, paid)).status == "confirmed"


async def _organizer_email(api: Api) -> str:
    from boxoffice.accounts.service import authenticate

    return (await authenticate(api.srv.box.db, api.key)).email
