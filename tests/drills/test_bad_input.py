"""Drill: hostile and odd input. Nothing answers 5xx, nothing is half-applied, every refusal names its field."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import pytest

from boxoffice.payments.webhooks import sign_payload
from boxoffice.ticketing.orders import release_expired_holds
from tests.helpers import database_state, make_event, make_ticket
from tests.server import LiveServer, live_server


@pytest.fixture(scope="module")
async def site(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LiveServer]:
    async with live_server(pg_url, mail_dir=str(tmp_path_factory.mktemp("mail"))) as srv:
        yield srv


async def test_amounts_names_currencies_and_sizes(site: LiveServer) -> None:
    c = site.client
    # holds that ended in earlier tests (sharing the database) are released first, not by the server's sweep
    # between two of the snapshots compared below
    while await release_expired_holds(site.box.db):
        pass
    event = await make_event(site.box.db)
    flex = await make_ticket(
        site.box.db, event.id, pricing_model="flexible", base_price_cents=None, minimum_price_cents=100
    )
    url = f"/api/v1/events/{event.id}/orders"
    line = {"ticket_id": flex.id, "quantity": 1}
    cases: list[tuple[dict[str, object], int, dict[str, str]]] = [
        (
            {"email": "a@example.com", "lines": [line | {"price_cents": -1}]},
            422,
            {"lines[0].price_cents": "below_minimum"},
        ),
        (
            {"email": "a@example.com", "lines": [line | {"price_cents": 10**12}]},
            422,
            {"lines[0].price_cents": "above_maximum"},
        ),
        (
            {"email": "a@example.com", "lines": [line | {"price_cents": 99_999_999}], "tip_cents": 1},
            422,
            {"tip_cents": "not_tippable"},
        ),
        (
            {"email": "a@example.com", "lines": [line | {"quantity": 10**9}]},
            422,
            {"lines[0].quantity": "above_maximum"},
        ),
        ({"email": "a@example.com", "lines": [line | {"quantity": "1"}]}, 422, {"lines[0].quantity": "not_integer"}),
        ({"email": "ü" * 400 + "@example.com", "lines": [line]}, 422, {"email": "too_long"}),
        ({"email": "a@example.com", "name": "\u0000bad", "lines": [line]}, 422, {"name": "invalid_format"}),
        ({"email": "a@example.com", "name": "名前" * 101, "lines": [line]}, 422, {"name": "too_long"}),
        (
            {"email": "a@example.com", "lines": [line | {"ticket_id": "x" * 10_000}]},
            422,
            {"lines[0].ticket_id": "too_long"},
        ),
    ]
    for body, status, expected in cases:
        before = await database_state(site.box.db)
        r = await c.post(url, json=body)
        assert r.status_code == status, (body, r.text)
        # every refusal names its field and the kind of rule, as a stable code
        assert {e["field"]: e["code"] for e in r.json()["errors"]} == expected, r.text
        assert await database_state(site.box.db) == before
    ok = await c.post(
        url,
        json={"email": "Zoë@example.com", "name": "Zoë 🎟 Ō'Brien", "lines": [{"ticket_id": flex.id, "quantity": 1}]},
    )
    assert ok.status_code == 201 and ok.json()["name"] == "Zoë 🎟 Ō'Brien"
    r = await c.post(
        f"/api/v1/events/{event.id}/tickets",
        json={"title": "x", "quantity": 1, "base_price_cents": 100, "currency": "xxx"},
        headers={"Authorization": "Bearer nope"},
    )
    assert r.status_code == 401
    huge = await c.post(url, content=b"{" + b" " * 200_000 + b"}", headers={"Content-Type": "application/json"})
    assert huge.status_code == 413
    malformed = await c.post(url, content=b'{"email": ', headers={"Content-Type": "application/json"})
    assert malformed.status_code == 400 and malformed.headers["content-type"].startswith("application/problem+json")
    (error,) = malformed.json()["errors"]
    assert error["field"] == "body" and error["pointer"] == "#"  # a valid JSON pointer (the document), never "#//9"
    assert error["code"] == "invalid_json"
    assert (malformed.json()["line"], malformed.json()["column"]) == (1, 11)
    two_lines = await c.post(
        url, content=b'{\n  "email": "a@example.com",\n  oops}', headers={"Content-Type": "application/json"}
    )
    assert two_lines.status_code == 400 and "line 3, column 3" in two_lines.json()["errors"][0]["detail"]


async def test_malformed_and_replayed_webhooks(site: LiveServer) -> None:
    c = site.client
    secret = site.box.stripe.webhook_secrets[0].get_secret_value()
    event = {
        "id": "evt_replay_drill",
        "type": "checkout.session.completed",
        "data": {"object": {"id": "cs_x", "metadata": {}}},
    }
    body = json.dumps(event).encode()
    fresh = sign_payload(body, [secret])
    assert (await c.post("/webhooks/stripe", content=body, headers={"Stripe-Signature": fresh})).status_code == 200
    replay = await c.post("/webhooks/stripe", content=body, headers={"Stripe-Signature": fresh})
    assert replay.status_code == 200 and replay.json()["outcome"] == "duplicate"
    stale = sign_payload(body, [secret], timestamp=int(time.time()) - 3600)
    assert (await c.post("/webhooks/stripe", content=body, headers={"Stripe-Signature": stale})).status_code == 400
    for junk in (b"", b"\xff\xfe", b"{" * 5000, json.dumps({"id": "evt", "type": 5}).encode()):
        r = await c.post("/webhooks/stripe", content=junk, headers={"Stripe-Signature": sign_payload(junk, [secret])})
        assert r.status_code == 400, junk[:20]
    big = b" " * 600_000
    assert (
        await c.post("/webhooks/stripe", content=big, headers={"Stripe-Signature": sign_payload(big, [secret])})
    ).status_code == 413
