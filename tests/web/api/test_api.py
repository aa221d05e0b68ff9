"""The REST API end to end over HTTP: organizer endpoints, buyer endpoints, errors as problem+json, SSE."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from boxoffice.accounts.service import create_api_key, revoke_api_key
from boxoffice.errors import ErrorCode
from boxoffice.notifications.codes import verify_ticket_code
from tests.helpers import database_state, eventually, unique_email
from tests.web.api.conftest import Api

START = (datetime.now(UTC) + timedelta(days=20)).replace(microsecond=0)


def event_body(**over: Any) -> dict[str, Any]:
    body = {
        "title": "API Night",
        "description": "d",
        "starts_at": START.isoformat(),
        "ends_at": (START + timedelta(hours=3)).isoformat(),
        "timezone": "Europe/Berlin",
    }
    body.update(over)
    return body


async def new_event(api: Api, key: str | None = None) -> str:
    r = await api.srv.client.post("/api/v1/events", json=event_body(), headers=api.auth(key))
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def new_ticket(api: Api, event_id: str, **fields: Any) -> dict[str, Any]:
    body = {"title": "GA", "quantity": 10, "base_price_cents": 1500, **fields}
    r = await api.srv.client.post(f"/api/v1/events/{event_id}/tickets", json=body, headers=api.auth())
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


def problem(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    assert body["status"] == status and body["type"].startswith("https://")
    for error in body.get("errors", []):  # every field error says which kind of rule, from the closed set
        assert error["code"] in set(ErrorCode), error
    return body


def fields(body: dict[str, Any]) -> set[str]:
    return {e["field"] for e in body.get("errors", [])}


def codes(body: dict[str, Any]) -> dict[str, str]:
    return {e["field"]: e["code"] for e in body.get("errors", [])}


async def test_auth_failures(api: Api) -> None:
    c = api.srv.client
    r = await c.post("/api/v1/events", json=event_body())
    assert problem(r, 401) and r.headers["www-authenticate"] == "Bearer"
    problem(await c.post("/api/v1/events", json=event_body(), headers={"Authorization": "Basic abc"}), 401)
    problem(await c.post("/api/v1/events", json=event_body(), headers={"Authorization": "Bearer nope"}), 401)
    key, raw = await create_api_key(api.srv.box.db, unique_email("revoked"))
    assert (await c.post("/api/v1/events", json=event_body(), headers=api.auth(raw))).status_code == 201
    await revoke_api_key(api.srv.box.db, key.id)
    problem(await c.post("/api/v1/events", json=event_body(), headers=api.auth(raw)), 401)


async def test_other_organizers_see_nothing(api: Api) -> None:
    c = api.srv.client
    event_id = await new_event(api)
    ticket = await new_ticket(api, event_id)
    other = api.auth(api.other_key)
    for method, path, body in [
        ("GET", f"/api/v1/events/{event_id}", None),
        ("PATCH", f"/api/v1/events/{event_id}", {"title": "Mine now"}),
        ("POST", f"/api/v1/events/{event_id}/tickets", {"title": "x", "quantity": 1, "base_price_cents": 100}),
        ("GET", f"/api/v1/tickets/{ticket['id']}", None),
        ("PATCH", f"/api/v1/tickets/{ticket['id']}", {"quantity": 1}),
        ("DELETE", f"/api/v1/tickets/{ticket['id']}", None),
        ("GET", f"/api/v1/events/{event_id}/orders", None),
        ("GET", f"/api/v1/events/{event_id}/participants", None),
    ]:
        before = await database_state(api.srv.box.db)
        r = await c.request(method, path, json=body, headers=other)
        problem(r, 404)
        assert event_id not in r.text or "not found" in r.text
        assert await database_state(api.srv.box.db) == before
    assert (await c.get(f"/api/v1/events/{event_id}", headers=api.auth())).json()["title"] == "API Night"


async def test_event_and_ticket_crud_and_validation(api: Api) -> None:
    c = api.srv.client
    event_id = await new_event(api)
    r = await c.patch(
        f"/api/v1/events/{event_id}", json={"title": "Renamed", "status": "published"}, headers=api.auth()
    )
    assert r.status_code == 200 and r.json()["title"] == "Renamed"
    before = await database_state(api.srv.box.db)
    bad = problem(
        await c.post("/api/v1/events", json=event_body(starts_at="2027-01-01T10:00:00Z", title=""), headers=api.auth()),
        422,
    )
    assert codes(bad) == {"title": "required"}
    # a wall-clock time needs the event's time zone: none given here, so it says which field has no offset
    naive = {k: v for k, v in event_body(starts_at="2027-01-01T10:00:00").items() if k != "timezone"}
    bad = problem(await c.post("/api/v1/events", json=naive, headers=api.auth()), 422)
    assert codes(bad) == {"starts_at": "no_timezone"}
    bad = problem(
        await c.post(
            "/api/v1/events", json=event_body(ends_at=(START - timedelta(hours=1)).isoformat()), headers=api.auth()
        ),
        422,
    )
    assert codes(bad) == {"ends_at": "not_ordered"}
    bad = problem(
        await c.post(
            f"/api/v1/events/{event_id}/tickets",
            json={"title": "x", "quantity": 1, "base_price_cents": 10.5},
            headers=api.auth(),
        ),
        422,
    )
    assert codes(bad) == {"base_price_cents": "not_integer"}
    bad = problem(
        await c.post(
            f"/api/v1/events/{event_id}/tickets",
            json={
                "title": "x",
                "quantity": 5,
                "pricing_model": "flexible",
                "minimum_price_cents": 900,
                "suggested_price_cents": 100,
            },
            headers=api.auth(),
        ),
        422,
    )
    assert codes(bad) == {"suggested_price_cents": "below_minimum"}
    assert bad["errors"][0]["minimum_cents"] == 900
    bad = problem(
        await c.post(
            f"/api/v1/events/{event_id}/tickets",
            json={"title": "x", "quantity": 5, "base_price_cents": 1, "currency": "zzz"},
            headers=api.auth(),
        ),
        422,
    )
    assert codes(bad) == {"currency": "invalid_choice"}
    problem(
        await c.post(
            f"/api/v1/events/{event_id}/tickets", json={"title": "x", "quantity": 5, "colour": 1}, headers=api.auth()
        ),
        422,
    )
    assert await database_state(api.srv.box.db) == before

    legacy = await new_ticket(api, event_id, price_cents=2500, base_price_cents=None)
    assert (legacy["pricing_model"], legacy["base_price_cents"], legacy["available"]) == ("fixed", 2500, 10)
    dyn = await new_ticket(
        api,
        event_id,
        base_price_cents=None,
        pricing_model="dynamic",
        price_tiers=[{"price_cents": 1000, "up_to": 2}, {"price_cents": 2000}],
    )
    assert dyn["price_cents"] == 1000
    r = await c.patch(f"/api/v1/tickets/{legacy['id']}", json={"quantity": 4}, headers=api.auth())
    assert r.status_code == 200 and r.json()["quantity"] == 4
    assert (await c.get(f"/api/v1/tickets/{legacy['id']}", headers=api.auth())).json()["quantity"] == 4
    assert (await c.delete(f"/api/v1/tickets/{legacy['id']}", headers=api.auth())).status_code == 204
    problem(await c.get(f"/api/v1/tickets/{legacy['id']}", headers=api.auth()), 404)
    public = (await c.get(f"/api/v1/events/{event_id}/tickets")).json()
    assert [t["id"] for t in public] == [dyn["id"]]


async def test_order_flow_pay_confirm_refund(api: Api) -> None:
    c, box = api.srv.client, api.srv.box
    event_id = await new_event(api)
    flex = await new_ticket(
        api,
        event_id,
        base_price_cents=None,
        pricing_model="flexible",
        minimum_price_cents=500,
        suggested_price_cents=2000,
        tippable=True,
        quantity=5,
    )
    body = {
        "email": "Buyer@Example.com",
        "name": "Bea",
        "lines": [{"ticket_id": flex["id"], "quantity": 2, "price_cents": 800}],
        "tip_cents": 250,
    }
    r = await c.post(f"/api/v1/events/{event_id}/orders", json=body)
    assert r.status_code == 201, r.text
    order = r.json()
    assert (order["status"], order["subtotal_cents"], order["tip_cents"], order["total_cents"]) == (
        "pending",
        1600,
        250,
        1850,
    )
    assert order["checkout_url"].startswith(api.srv.url + "/_sandbox/stripe/pay/")
    token = {"Authorization": f"Bearer {order['token']}"}
    problem(await c.get(f"/api/v1/orders/{order['id']}"), 401)
    # a token that does not open the order is invalid credentials, answered alike for an order that does not exist
    wrong = problem(await c.get(f"/api/v1/orders/{order['id']}", headers={"Authorization": "Bearer wrong"}), 401)
    unknown = problem(
        await c.get("/api/v1/orders/ord_00000000000000000000", headers={"Authorization": "Bearer x"}), 401
    )
    assert wrong["detail"] == unknown["detail"] and order["id"] not in str(wrong)
    problem(await c.get(f"/api/v1/orders/{order['id']}", headers=api.auth()), 401)
    seen = (await c.get(f"/api/v1/orders/{order['id']}", headers=token)).json()
    assert seen["id"] == order["id"] and "token" not in seen

    page = await c.post(order["checkout_url"], data={"outcome": "pay"})
    assert page.status_code == 303 and order["id"] in page.headers["location"]

    async def confirmed() -> dict[str, Any] | None:
        data: dict[str, Any] = (await c.get(f"/api/v1/orders/{order['id']}", headers=token)).json()
        return data if data["status"] == "confirmed" else None

    done = await eventually(confirmed)
    assert len(done["tickets"]) == 2
    assert {verify_ticket_code(t["code"], box.settings.secret_bytes) for t in done["tickets"]} == {
        t["id"] for t in done["tickets"]
    }
    holders = (await c.get(f"/api/v1/events/{event_id}/participants?role=ticket_holder", headers=api.auth())).json()
    assert [(h["email"], h["status"]) for h in holders] == [("Buyer@Example.com", "confirmed_with_order")]
    listing = (await c.get(f"/api/v1/events/{event_id}/orders?status=confirmed", headers=api.auth())).json()
    assert [o["id"] for o in listing] == [order["id"]]
    problem(await c.post(f"/api/v1/orders/{order['id']}/cancel", headers=token), 409)

    problem(
        await c.post(f"/api/v1/orders/{order['id']}/refunds", json={"amount_cents": 999999}, headers=api.auth()), 422
    )
    problem(await c.post(f"/api/v1/orders/{order['id']}/refunds", json={}, headers=api.auth(api.other_key)), 404)
    r = await c.post(f"/api/v1/orders/{order['id']}/refunds", json={"amount_cents": 500}, headers=api.auth())
    assert r.status_code == 202 and r.json()["amount_cents"] == 500

    async def partially() -> bool:
        return bool(
            (await c.get(f"/api/v1/orders/{order['id']}", headers=token)).json()["status"] == "partially_refunded"
        )

    await eventually(partially)
    r = await c.post(f"/api/v1/orders/{order['id']}/refunds", json={}, headers=api.auth())
    assert r.status_code == 202 and r.json()["amount_cents"] == 1350

    async def refunded() -> bool:
        return bool((await c.get(f"/api/v1/orders/{order['id']}", headers=token)).json()["status"] == "refunded")

    await eventually(refunded)

    async def emails() -> list[dict[str, Any]] | None:
        data: list[dict[str, Any]] = (await c.get(f"/api/v1/events/{event_id}/emails", headers=api.auth())).json()
        return data if len(data) == 3 and all(e["status"] == "sent" for e in data) else None

    sent = await eventually(emails)
    assert sorted(e["kind"] for e in sent) == ["confirmation", "refund", "refund"]


async def test_free_order_cancel_and_sold_out(api: Api) -> None:
    c = api.srv.client
    event_id = await new_event(api)
    free = await new_ticket(api, event_id, base_price_cents=0, quantity=3)
    r = await c.post(
        f"/api/v1/events/{event_id}/orders",
        json={"email": "f@example.com", "lines": [{"ticket_id": free["id"], "quantity": 1}]},
    )
    assert r.status_code == 201 and r.json()["status"] == "confirmed" and r.json()["checkout_url"] is None
    paid = await new_ticket(api, event_id, quantity=2)
    r = await c.post(
        f"/api/v1/events/{event_id}/orders",
        json={"email": "p@example.com", "lines": [{"ticket_id": paid["id"], "quantity": 2}]},
    )
    order = r.json()
    before = await database_state(api.srv.box.db)
    sold_out = problem(
        await c.post(
            f"/api/v1/events/{event_id}/orders",
            json={"email": "q@example.com", "lines": [{"ticket_id": paid["id"], "quantity": 1}]},
        ),
        409,
    )
    assert sold_out["ticket_type_id"] == paid["id"] and codes(sold_out) == {"lines[0].quantity": "sold_out"}
    assert sold_out["type"].endswith("/sold-out") and sold_out["errors"][0]["available"] == 0
    assert await database_state(api.srv.box.db) == before
    r = await c.post(f"/api/v1/orders/{order['id']}/cancel", headers={"Authorization": f"Bearer {order['token']}"})
    assert r.status_code == 200 and r.json()["status"] == "canceled"
    assert (await c.get(f"/api/v1/events/{event_id}/tickets")).json()[1]["available"] == 2


async def test_invalid_orders_change_nothing(api: Api) -> None:
    c = api.srv.client
    event_id = await new_event(api)
    flex = await new_ticket(api, event_id, base_price_cents=None, pricing_model="flexible", minimum_price_cents=500)
    cases: list[tuple[dict[str, Any], dict[str, str]]] = [
        ({"email": "bad", "lines": [{"ticket_id": flex["id"], "quantity": 1}]}, {"email": "invalid_format"}),
        ({"email": "a@example.com", "lines": []}, {"lines": "required"}),
        (
            {"email": "a@example.com", "lines": [{"ticket_id": flex["id"], "quantity": 0}]},
            {"lines[0].quantity": "below_minimum"},
        ),
        (
            {"email": "a@example.com", "lines": [{"ticket_id": flex["id"], "quantity": 1, "price_cents": 100}]},
            {"lines[0].price_cents": "below_minimum"},
        ),
        (
            {"email": "a@example.com", "lines": [{"ticket_id": flex["id"], "quantity": 1}], "tip_cents": 100},
            {"tip_cents": "not_tippable"},
        ),
        (
            {"email": "a@example.com", "lines": [{"ticket_id": flex["id"], "quantity": 1, "price_cents": -5}]},
            {"lines[0].price_cents": "below_minimum"},
        ),
        (
            {"email": "a@example.com", "lines": [{"ticket_id": "tt_nope", "quantity": 1}]},
            {"lines[0].ticket_id": "not_found"},
        ),
        (
            {"email": "a@example.com", "name": "x" * 201, "lines": [{"ticket_id": flex["id"], "quantity": 1}]},
            {"name": "too_long"},
        ),
    ]
    for body, expected in cases:
        before = await database_state(api.srv.box.db)
        bad = problem(await c.post(f"/api/v1/events/{event_id}/orders", json=body), 422)
        assert codes(bad) == expected, (body, bad)
        assert await database_state(api.srv.box.db) == before
    problem(await c.post("/api/v1/events/ev_nope/orders", json=cases[0][0] | {"email": "a@example.com"}), 404)
    big = {"email": "a@example.com", "name": "x" * 70_000, "lines": []}
    problem(
        await c.post(
            f"/api/v1/events/{event_id}/orders", content=json.dumps(big), headers={"Content-Type": "application/json"}
        ),
        413,
    )


async def test_idempotency_key_replays_the_first_answer(api: Api) -> None:
    c = api.srv.client
    event_id = await new_event(api)
    tt = await new_ticket(api, event_id, quantity=5)
    body = {"email": "idem@example.com", "lines": [{"ticket_id": tt["id"], "quantity": 1}]}
    headers = {"Idempotency-Key": "retry-123"}
    first = await c.post(f"/api/v1/events/{event_id}/orders", json=body, headers=headers)
    second = await c.post(f"/api/v1/events/{event_id}/orders", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json() and second.headers["idempotent-replayed"] == "true"
    orders = (await c.get(f"/api/v1/events/{event_id}/orders", headers=api.auth())).json()
    assert len(orders) == 1
    other = problem(
        await c.post(f"/api/v1/events/{event_id}/orders", json=body | {"name": "changed"}, headers=headers), 422
    )
    assert codes(other) == {"Idempotency-Key": "key_reused"}
    results = await asyncio.gather(
        *(
            c.post(f"/api/v1/events/{event_id}/orders", json=body, headers={"Idempotency-Key": "burst"})
            for _ in range(5)
        )
    )
    ids = {r.json().get("id") for r in results if r.status_code == 201}
    assert len(ids) == 1 and all(r.status_code in (201, 409) for r in results)
    assert len((await c.get(f"/api/v1/events/{event_id}/orders", headers=api.auth())).json()) == 2


async def test_event_stream_pushes_availability(api: Api) -> None:
    c = api.srv.client
    event_id = await new_event(api)
    tt = await new_ticket(api, event_id, quantity=5)
    problem(await c.get("/api/v1/events/ev_missing/stream"), 404)
    async with c.stream("GET", f"/api/v1/events/{event_id}/stream") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.aiter_lines()

        async def next_data() -> dict[str, Any]:
            async for line in lines:
                if line.startswith("data: "):
                    data: dict[str, Any] = json.loads(line[6:])
                    return data
            raise AssertionError("stream ended")

        snapshot = await asyncio.wait_for(next_data(), 10)
        assert snapshot["type"] == "availability" and snapshot["ticket_types"][0]["available"] == 5
        r = await c.post(
            f"/api/v1/events/{event_id}/orders",
            json={"email": "s@example.com", "lines": [{"ticket_id": tt["id"], "quantity": 2}]},
        )
        assert r.status_code == 201
        while True:
            update = await asyncio.wait_for(next_data(), 10)
            if update["type"] == "availability" and update["ticket_types"][0]["available"] == 3:
                break


async def test_order_stream_needs_the_token(api: Api) -> None:
    c = api.srv.client
    event_id = await new_event(api)
    tt = await new_ticket(api, event_id, quantity=5)
    order = (
        await c.post(
            f"/api/v1/events/{event_id}/orders",
            json={"email": "o@example.com", "lines": [{"ticket_id": tt["id"], "quantity": 1}]},
        )
    ).json()
    problem(await c.get(f"/api/v1/orders/{order['id']}/stream"), 401)
    problem(await c.get(f"/api/v1/orders/{order['id']}/stream?token=wrong"), 401)
    async with c.stream("GET", f"/api/v1/orders/{order['id']}/stream?token={order['token']}") as stream:
        async for line in stream.aiter_lines():
            if line.startswith("data: "):
                assert json.loads(line[6:])["status"] == "pending"
                break


async def test_health_and_openapi(api: Api) -> None:
    c = api.srv.client
    assert (await c.get("/healthz")).json() == {"status": "ok"}
    ready = await c.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["stripe"] == "ok (sandbox mode)"
    spec = (await c.get("/openapi.json")).json()
    assert "/api/v1/events/{event_id}/orders" in spec["paths"]
    # errors[].code is documented as the closed set of codes, exactly
    field_problem = spec["components"]["schemas"]["FieldProblem"]
    assert "code" in field_problem["required"]
    assert spec["components"]["schemas"]["ErrorCode"]["enum"] == [code.value for code in ErrorCode]
    assert (await c.get("/docs")).status_code == 200
