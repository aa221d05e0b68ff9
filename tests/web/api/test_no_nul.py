"""U+0000 in an id, a query parameter or a body string is refused (404 or 422 naming the field) instead of reaching
PostgreSQL, which cannot take it in text (the query failed: 500), and the OpenAPI document says so."""

from __future__ import annotations

from tests.helpers import make_event
from tests.web.api.conftest import Api

EVENT = {"title": "Gala", "starts_at": "2031-05-01T19:00:00Z", "ends_at": "2031-05-01T23:00:00Z"}


async def test_nul_in_a_path_query_or_body_is_refused_not_a_500(api: Api) -> None:
    c = api.srv.client
    organizer_event = (await c.post("/api/v1/events", json=EVENT, headers=api.auth())).json()
    public = await make_event(api.srv.box.db)
    for path in (
        "/api/v1/events/a%00b",
        "/api/v1/events/a%00b/tickets",
        "/api/v1/tickets/a%00b",
        "/api/v1/orders/a%00b?token=x",
    ):
        response = await c.get(path, headers=api.auth())
        assert response.status_code == 404, (path, response.text)
    for path, field in (
        (f"/api/v1/events/{organizer_event['id']}/orders?status=a%00b", "status"),
        (f"/api/v1/events/{organizer_event['id']}/participants?role=%00", "role"),
    ):
        response = await c.get(path, headers=api.auth())
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == field, response.text
    for path, body, field in (
        ("/api/v1/events", {**EVENT, "title": "a\x00b"}, "title"),
        ("/api/v1/events", {**EVENT, "description": "\x00"}, "description"),
        (
            f"/api/v1/events/{public.id}/orders",
            {"email": "a@example.com", "lines": [{"ticket_id": "tt_\x00", "quantity": 1}]},
            "lines[0].ticket_id",
        ),
    ):
        response = await c.post(path, json=body, headers=api.auth())
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == field, response.text
    document = (await c.get("/openapi.json")).json()
    event_id = document["paths"]["/api/v1/events/{event_id}"]["get"]["parameters"][0]
    assert event_id["schema"]["pattern"] == "^[^\\u0000]*$"
