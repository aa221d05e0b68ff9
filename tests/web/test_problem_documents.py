"""Every error answer of the API, from every route and middleware, is an RFC 9457 problem document: each API route is
walked with the errors it can give (no or bad credentials, unknown ids, invalid and malformed bodies, a wrong
method, a body over the limit), plus the Stripe-rejected-key 503 of an order."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from boxoffice.accounts.service import create_api_key
from boxoffice.errors import ErrorCode
from boxoffice.web.app import create_app
from tests.helpers import make_event, make_ticket, unique_email
from tests.server import LiveServer
from tests.web.test_security_headers import api_routes


def is_problem(response: httpx.Response, what: str) -> dict[str, Any]:
    assert response.status_code >= 400, what
    assert response.headers["content-type"] == "application/problem+json", what
    body: dict[str, Any] = response.json()
    assert {"type", "title", "status", "detail"} <= set(body), (what, body)
    assert body["status"] == response.status_code and body["type"].startswith("https://"), (what, body)
    assert isinstance(body["detail"], str) and body["detail"], (what, body)
    for error in body.get("errors", []):
        assert error["pointer"] == "#" or error["pointer"].startswith("#/"), (what, error)
        assert error["code"] in set(ErrorCode), (what, error)  # the stable key clients map, from the closed set
    return body


async def test_every_api_error_is_a_problem_document(site: LiveServer) -> None:
    organizer = unique_email("org")
    _, key = await create_api_key(site.box.db, organizer)
    auth = {"Authorization": f"Bearer {key}"}
    c = site.client
    walked = 0
    for route in api_routes(create_app(box=site.box).routes):
        if not route.path.startswith(("/api/", "/webhooks/")):
            continue
        path = route.path.format(
            **{
                name: f"{name[:3]}_00000000000000000000"
                for name in ("event_id", "order_id", "ticket_id", "voucher_id", "entry_id")
            }
        )
        for method in sorted((route.methods or set()) - {"HEAD"}):
            what = f"{method} {route.path}"
            body: dict[str, Any] = {"json": {}} if method in ("POST", "PATCH", "PUT") else {}
            is_problem(await c.request(method, path, **body), f"{what} without credentials")
            is_problem(
                await c.request(method, path, headers={"Authorization": "Bearer nope"}, **body), f"{what} bad key"
            )
            is_problem(await c.request(method, path, headers=auth, **body), f"{what} unknown ids")
            if body:
                malformed = await c.request(
                    method, path, content=b"{oops", headers={**auth, "Content-Type": "application/json"}
                )
                is_problem(malformed, f"{what} malformed")
                too_large = await c.request(
                    method, path, content=b"x" * 600_000, headers=auth
                )  # over every path's limit
                assert is_problem(too_large, f"{what} too large")["status"] == 413
            wrong = await c.request("PUT" if method != "PUT" else "TRACE", path, headers=auth)
            assert is_problem(wrong, f"{what} wrong method")["status"] == 405 and wrong.headers["allow"]
            walked += 1
    assert walked >= 15


async def test_a_rejected_stripe_key_answers_a_problem_document(site: LiveServer) -> None:
    event = await make_event(site.box.db)
    tt = await make_ticket(site.box.db, event.id, quantity=5)
    assert site.box.sandbox is not None
    site.box.sandbox.faults.reject_key = True
    try:
        r = await site.client.post(
            f"/api/v1/events/{event.id}/orders",
            json={"email": "k@example.com", "lines": [{"ticket_id": tt.id, "quantity": 1}]},
        )
    finally:
        site.box.sandbox.faults.reject_key = False
    body = is_problem(r, "order with a rejected key")
    assert r.status_code == 503 and r.headers["retry-after"] and body["order_id"] and body["token"]


@pytest.fixture(scope="module")
async def site(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Any:
    from tests.server import live_server

    async with live_server(pg_url, mail_dir=str(tmp_path_factory.mktemp("mail"))) as srv:
        yield srv
