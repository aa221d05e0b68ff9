"""The server answers as its OpenAPI document says: a 405 names every method of the path in ``Allow``, an integral
number is an integer, a date-time is an RFC 3339 string with an offset, the enums are enforced, and the document
links the operations a created event, ticket type or order opens."""

from __future__ import annotations

import re
from typing import Any

from boxoffice.accounts.service import create_api_key
from tests.helpers import PathIds, unique_email
from tests.server import LiveServer

IDS = PathIds(
    event_id="ev_00000000000000000000",
    order_id="ord_00000000000000000000",
    ticket_id="tt_0000000000",
)


async def _key(site: LiveServer) -> dict[str, str]:
    _, key = await create_api_key(site.box.db, unique_email("org"))
    return {"Authorization": f"Bearer {key}"}


async def test_a_405_allows_every_method_of_the_path(site: LiveServer) -> None:
    c = site.client
    document = (await c.get("/openapi.json")).json()
    for path, operations in document["paths"].items():
        declared = {method.upper() for method in operations}
        for wrong in {"OPTIONS", "PUT", "TRACE"} - declared:
            response = await c.request(wrong, path.format_map(IDS))
            assert response.status_code == 405, (wrong, path)
            assert response.headers["content-type"] == "application/problem+json"
            allowed = {m.strip() for m in response.headers["allow"].split(",")}
            assert allowed == declared, (wrong, path, allowed)
    # the paths two routes share, as Starlette alone answered them (the first route's methods only)
    for path, methods in (
        ("/api/v1/events/{event_id}", "GET, PATCH"),
        ("/api/v1/events/{event_id}/orders", "GET, POST"),
        ("/api/v1/events/{event_id}/tickets", "GET, POST"),
        ("/api/v1/tickets/{ticket_id}", "GET, PATCH, DELETE"),
    ):
        assert (await c.options(path.format_map(IDS))).headers["allow"] == methods


async def test_a_page_405_allows_its_methods_too(site: LiveServer) -> None:
    response = await site.client.delete("/healthz")
    assert response.status_code == 405 and response.headers["allow"] == "GET"


async def test_a_date_time_is_a_string_with_an_offset(site: LiveServer) -> None:
    auth = await _key(site)
    good = {"title": "Gala", "starts_at": "2031-05-01T19:00:00Z", "ends_at": "2031-05-01T23:00:00+02:00"}
    for starts_at in (0, 1_900_000_000, "2031-05-01T19:00:00", "2031-05-01 19:00:00Z", "0001-01-01T00:00:00+01:00"):
        response = await site.client.post("/api/v1/events", json={**good, "starts_at": starts_at}, headers=auth)
        assert response.status_code == 422, (starts_at, response.text)
        assert [e["pointer"] for e in response.json()["errors"]] == ["#/starts_at"], response.text
    created = await site.client.post("/api/v1/events", json=good, headers=auth)
    assert created.status_code == 201, created.text
    assert created.json()["ends_at"].startswith("2031-05-01T21:00:00")


async def test_an_integral_number_is_an_integer_and_a_fraction_is_refused(site: LiveServer) -> None:
    auth = await _key(site)
    c = site.client
    event = (
        await c.post(
            "/api/v1/events",
            json={"title": "Gala", "starts_at": "2031-05-01T19:00:00Z", "ends_at": "2031-05-01T23:00:00Z"},
            headers=auth,
        )
    ).json()
    ticket = await c.post(
        f"/api/v1/events/{event['id']}/tickets",
        json={"title": "Entry", "quantity": 10.0, "base_price_cents": 16777217.0},
        headers=auth,
    )
    assert ticket.status_code == 201, ticket.text
    assert ticket.json()["quantity"] == 10 and ticket.json()["base_price_cents"] == 16_777_217
    patched = await c.patch(f"/api/v1/tickets/{ticket.json()['id']}", json={"max_per_order": 520.0}, headers=auth)
    assert patched.status_code == 200 and patched.json()["max_per_order"] == 520, patched.text
    for field, value in (("max_per_order", 5.5), ("base_price_cents", 1500.25), ("quantity", True)):
        refused = await c.patch(f"/api/v1/tickets/{ticket.json()['id']}", json={field: value}, headers=auth)
        assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == field, refused.text
    unchanged = await c.get(f"/api/v1/tickets/{ticket.json()['id']}", headers=auth)
    assert unchanged.json()["max_per_order"] == 520 and unchanged.json()["base_price_cents"] == 16_777_217


async def test_the_enums_and_patterns_are_enforced(site: LiveServer) -> None:
    auth = await _key(site)
    c = site.client
    event = {"title": "Gala", "starts_at": "2031-05-01T19:00:00Z", "ends_at": "2031-05-01T23:00:00Z"}
    cases: list[tuple[str, str, dict[str, Any], str]] = [
        ("POST", "/api/v1/events", {**event, "timezone": "0"}, "timezone"),
        ("POST", "/api/v1/events", {**event, "title": " \t"}, "title"),
        ("POST", "/api/v1/events", {**event, "title": None}, "title"),
    ]
    for method, path, body, field in cases:
        response = await c.request(method, path, json=body, headers=auth)
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == field, response.text
    created = (await c.post("/api/v1/events", json={**event, "timezone": "Asia/Tokyo"}, headers=auth)).json()
    for body, field in (
        ({"title": "A", "quantity": 1, "base_price_cents": 100, "currency": "000"}, "currency"),
        ({"title": "A", "quantity": 1, "base_price_cents": 100, "currency": None}, "currency"),
        ({"title": "A", "quantity": 1}, "base_price_cents"),
    ):
        response = await c.post(f"/api/v1/events/{created['id']}/tickets", json=body, headers=auth)
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == field, response.text
    order = {"email": "000", "lines": [{"ticket_id": "tt_1", "quantity": 1}]}
    response = await c.post(f"/api/v1/events/{created['id']}/orders", json=order)
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "email", response.text


async def test_the_document_links_the_operations_and_states_the_limits(site: LiveServer) -> None:
    document = (await site.client.get("/openapi.json")).json()
    paths = document["paths"]
    operation_ids = {op["operationId"] for ops in paths.values() for op in ops.values()}

    def links(path: str, method: str, status: str) -> dict[str, Any]:
        found: dict[str, Any] = paths[path][method]["responses"][status]["links"]
        assert {link["operationId"] for link in found.values()} <= operation_ids
        return found

    assert {"AddTicketType", "PlaceOrder", "ListOrders", "Availability", "PublishEvent"} <= set(
        links("/api/v1/events", "post", "201")
    )
    assert {"GetTicketType", "ChangeTicketType", "DeleteTicketType", "OrderThisTicketType"} <= set(
        links("/api/v1/events/{event_id}/tickets", "post", "201")
    )
    assert {"AddQuestion", "EventQuestions", "AttendeeSettings", "ChangeAttendeeSettings"} <= set(
        links("/api/v1/events", "post", "201")
    )
    question_links = links("/api/v1/events/{event_id}/questions", "post", "201")
    assert {"GetQuestion", "ChangeQuestion", "DeleteQuestion"} <= set(question_links)
    assert question_links["GetQuestion"]["parameters"] == {"path.question_id": "$response.body#/id"}
    order_links = links("/api/v1/events/{event_id}/orders", "post", "201")
    assert {"GetOrder", "CancelOrder", "ResumeCheckout", "OrderStatus", "RefundOrder"} <= set(order_links)
    assert order_links["GetOrder"]["parameters"] == {
        "path.order_id": "$response.body#/id",
        "query.token": "$response.body#/token",
    }
    create = paths["/api/v1/events"]["post"]
    assert "65536 bytes" in create["requestBody"]["description"] and "413" in create["responses"]
    schemas = document["components"]["schemas"]
    settings = site.box.settings
    assert schemas["OrderCreate"]["properties"]["lines"]["maxItems"] == settings.max_lines_per_order
    assert schemas["LineIn"]["properties"]["quantity"]["maximum"] == settings.max_quantity_per_line
    sales_start = schemas["TicketFields"]["properties"]["starts_at"]["anyOf"][0]
    assert sales_start["type"] == "string" and sales_start["format"] == "date-time" and sales_start["pattern"]
    # an event's start: RFC 3339 with or without its offset (a wall-clock time, read in the event's time zone)
    starts_at = schemas["EventCreate"]["properties"]["starts_at"]
    assert starts_at["type"] == "string" and "format" not in starts_at and starts_at["pattern"]
    assert (
        re.search(starts_at["pattern"], "2027-06-12T19:00:00")
        and re.search(starts_at["pattern"], "2027-06-12T19:00Z") is None
    )
