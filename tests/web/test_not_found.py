"""A draft event is as absent as an unknown one on every public route, and another organizer's order is as absent
as an unknown one: the same 404, the same body, naming no id."""

from __future__ import annotations

import re

from boxoffice.accounts.service import create_api_key
from boxoffice.ticketing.reserve import reserve
from tests.helpers import make_event, make_ticket, order_request, unique_email
from tests.server import LiveServer

IDS = re.compile(r"\b(?:ev|ord|tt|per|key)_[A-Za-z0-9]+")


async def test_a_draft_event_answers_like_an_unknown_one(site: LiveServer) -> None:
    draft = await make_event(site.box.db, status="draft")
    tt = await make_ticket(site.box.db, draft.id)
    unknown = "ev_" + "0" * 20
    order = {"email": "a@example.com", "lines": [{"ticket_id": tt.id, "quantity": 1}]}
    c = site.client
    for method, path, kwargs in (
        ("GET", "/api/v1/events/{id}", {}),  # without the organizer's key: the public view
        ("GET", "/api/v1/events/{id}/tickets", {}),
        ("GET", "/api/v1/events/{id}/stream", {}),
        ("POST", "/api/v1/events/{id}/orders", {"json": order}),
        ("GET", "/e/{id}", {}),
        ("POST", "/e/{id}/checkout", {"data": {f"qty_{tt.id}": "1", "email": "a@example.com"}}),
    ):
        seen = [await c.request(method, path.format(id=event_id), **kwargs) for event_id in (draft.id, unknown)]
        assert seen[0].status_code == seen[1].status_code == 404, (path, [r.status_code for r in seen])
        assert seen[0].headers["content-type"] == seen[1].headers["content-type"], path
        assert seen[0].text == seen[1].text, path
        assert not IDS.search(seen[0].text), (path, seen[0].text)


async def test_another_organizers_refund_gets_a_404_naming_nothing(site: LiveServer) -> None:
    owner = unique_email("owner")
    _, other_key = await create_api_key(site.box.db, unique_email("other"))
    event = await make_event(site.box.db, organizer=owner)
    tt = await make_ticket(site.box.db, event.id)
    order = await reserve(site.box.db, order_request(event.id, (tt.id, 1)))
    auth = {"Authorization": f"Bearer {other_key}"}
    theirs = await site.client.post(f"/api/v1/orders/{order.id}/refunds", json={}, headers=auth)
    unknown = await site.client.post("/api/v1/orders/ord_00000000000000000000/refunds", json={}, headers=auth)
    assert theirs.status_code == unknown.status_code == 404
    assert theirs.headers["content-type"] == "application/problem+json"
    assert theirs.json() == unknown.json()
    assert not IDS.search(theirs.text), theirs.text
    assert event.id not in theirs.text and order.id not in theirs.text
