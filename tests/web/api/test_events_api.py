"""The API's events over HTTP: venue, image and wall-clock times in the event's time zone (DST edges refused with
their codes), the draft that buyers cannot tell from an unknown id, paused sales refused with 409, and the key's
events listed a page at a time with what each sold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from boxoffice.accounts.service import create_api_key
from tests.helpers import database_state, unique_email
from tests.web.api.conftest import Api
from tests.web.api.test_api import codes, event_body, problem

YEAR = datetime.now(UTC).year + 2  # always in the future


async def create(api: Api, key: str | None = None, **over: Any) -> dict[str, Any]:
    r = await api.srv.client.post("/api/v1/events", json=event_body(**over), headers=api.auth(key))
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_an_event_with_its_venue_image_and_wall_clock_times(api: Api) -> None:
    c = api.srv.client
    made = await create(
        api,
        starts_at=f"{YEAR}-07-04T19:30:00",
        ends_at=f"{YEAR}-07-04T23:00:00",
        timezone="America/New_York",
        venue_name="Harbor Stage",
        venue_address="1 Pier Road\nBrooklyn, NY 11201",
        image_url="https://images.example.com/harbor.jpg",
    )
    assert made["starts_at"] == f"{YEAR}-07-04T23:30:00Z" and made["ends_at"] == f"{YEAR}-07-05T03:00:00Z"
    assert made["timezone"] == "America/New_York" and made["status"] == "published"  # the API's default
    assert (made["venue_name"], made["venue_address"]) == ("Harbor Stage", "1 Pier Road\nBrooklyn, NY 11201")
    assert made["image_url"] == "https://images.example.com/harbor.jpg"
    # a change: a wall-clock time in the stored zone; an empty image URL removes the image
    r = await c.patch(
        f"/api/v1/events/{made['id']}",
        json={"starts_at": f"{YEAR}-07-04T18:00:00", "image_url": "", "venue_name": "Harbor Stage (indoors)"},
        headers=api.auth(),
    )
    assert r.status_code == 200, r.text
    assert r.json()["starts_at"] == f"{YEAR}-07-04T22:00:00Z" and r.json()["image_url"] is None
    seen = (await c.get(f"/api/v1/events/{made['id']}", headers=api.auth())).json()
    assert seen["venue_name"] == "Harbor Stage (indoors)" and seen["ends_at"] == made["ends_at"]
    # the public sees a published event without a key, the same fields
    public = await c.get(f"/api/v1/events/{made['id']}")
    assert public.status_code == 200 and public.json() == seen


async def test_times_the_clocks_skip_or_repeat_are_refused_and_change_nothing(api: Api) -> None:
    c = api.srv.client
    before = await database_state(api.srv.box.db)
    # the last Sunday of March, when Berlin's clocks skip from 02:00 to 03:00
    day = max(d for d in range(25, 32) if datetime(YEAR, 3, d).weekday() == 6)
    gap = event_body(
        starts_at=f"{YEAR}-03-{day}T02:30:00", ends_at=f"{YEAR}-03-{day}T06:00:00", timezone="Europe/Berlin"
    )
    body = problem(await c.post("/api/v1/events", json=gap, headers=api.auth()), 422)
    assert codes(body) == {"starts_at": "nonexistent_time"}
    # the last Sunday of October, when they go from 03:00 back to 02:00
    october = max(d for d in range(25, 32) if datetime(YEAR, 10, d).weekday() == 6)
    twice = event_body(
        starts_at=f"{YEAR}-10-{october}T00:30:00", ends_at=f"{YEAR}-10-{october}T02:15:00", timezone="Europe/Berlin"
    )
    body = problem(await c.post("/api/v1/events", json=twice, headers=api.auth()), 422)
    assert codes(body) == {"ends_at": "ambiguous_time"} and "+01:00" in body["errors"][0]["detail"]
    body = problem(
        await c.post("/api/v1/events", json=event_body(image_url="http://x.example/a.jpg"), headers=api.auth()), 422
    )
    assert codes(body) == {"image_url": "invalid_format"}
    assert await database_state(api.srv.box.db) == before
    # with its offset, the repeated hour is one instant
    twice["ends_at"] = f"{YEAR}-10-{october}T02:15:00+01:00"
    made = (await c.post("/api/v1/events", json=twice, headers=api.auth())).json()
    assert made["ends_at"] == f"{YEAR}-10-{october}T01:15:00Z"


async def test_a_draft_is_absent_to_buyers_until_published(api: Api) -> None:
    c = api.srv.client
    draft = await create(api, status="draft")
    ticket = (
        await c.post(
            f"/api/v1/events/{draft['id']}/tickets",
            json={"title": "GA", "quantity": 5, "base_price_cents": 1000},
            headers=api.auth(),
        )
    ).json()
    unknown = "ev_" + "0" * 20
    order = {"email": "buyer@example.com", "lines": [{"ticket_id": ticket["id"], "quantity": 1}]}
    for method, path, body in (
        ("GET", "/api/v1/events/{id}", None),
        ("GET", "/api/v1/events/{id}/tickets", None),
        ("POST", "/api/v1/events/{id}/orders", order),
    ):
        hidden = await c.request(method, path.format(id=draft["id"]), json=body)
        absent = await c.request(method, path.format(id=unknown), json=body)
        assert hidden.status_code == absent.status_code == 404 and hidden.json() == absent.json(), path
    assert (await c.get(f"/api/v1/events/{draft['id']}", headers=api.auth())).json()["status"] == "draft"
    r = await c.patch(f"/api/v1/events/{draft['id']}", json={"status": "published"}, headers=api.auth())
    assert r.status_code == 200
    assert (await c.get(f"/api/v1/events/{draft['id']}")).json()["status"] == "published"
    assert (await c.post(f"/api/v1/events/{draft['id']}/orders", json=order)).status_code == 201


async def test_paused_sales_show_the_tickets_and_refuse_orders(api: Api) -> None:
    c = api.srv.client
    event = await create(api)
    ticket = (
        await c.post(
            f"/api/v1/events/{event['id']}/tickets",
            json={"title": "GA", "quantity": 5, "base_price_cents": 1000},
            headers=api.auth(),
        )
    ).json()
    r = await c.patch(f"/api/v1/events/{event['id']}", json={"status": "sales_paused"}, headers=api.auth())
    assert r.json()["status"] == "sales_paused"
    assert (await c.get(f"/api/v1/events/{event['id']}")).json()["status"] == "sales_paused"
    listed = (await c.get(f"/api/v1/events/{event['id']}/tickets")).json()
    assert [(t["id"], t["sales_state"], t["available"]) for t in listed] == [(ticket["id"], "paused", 5)]
    before = await database_state(api.srv.box.db)
    order = {"email": "buyer@example.com", "lines": [{"ticket_id": ticket["id"], "quantity": 1}]}
    refused = problem(await c.post(f"/api/v1/events/{event['id']}/orders", json=order), 409)
    assert refused["type"].endswith("/sales-paused") and refused["title"] == "Sales paused"
    assert codes(refused) == {"event_id": "sales_paused"}
    assert await database_state(api.srv.box.db) == before  # nothing held
    await c.patch(f"/api/v1/events/{event['id']}", json={"status": "published"}, headers=api.auth())
    assert (await c.post(f"/api/v1/events/{event['id']}/orders", json=order)).status_code == 201
    # a canceled event: its own refusal
    await c.patch(f"/api/v1/events/{event['id']}", json={"status": "canceled"}, headers=api.auth())
    closed = problem(await c.post(f"/api/v1/events/{event['id']}/orders", json=order), 409)
    assert closed["type"].endswith("/sales-closed") and codes(closed) == {"event_id": "not_on_sale"}


async def test_the_keys_events_a_page_at_a_time_with_their_sales(api: Api) -> None:
    c = api.srv.client
    _, key = await create_api_key(api.srv.box.db, unique_email("lister"))
    auth = api.auth(key)
    made = [await create(api, key, title=f"Night {i}") for i in range(5)]
    paused = made[1]
    await c.patch(f"/api/v1/events/{paused['id']}", json={"status": "sales_paused"}, headers=auth)
    ticket = (
        await c.post(
            f"/api/v1/events/{made[4]['id']}/tickets",
            json={"title": "GA", "quantity": 30, "base_price_cents": 0},
            headers=auth,
        )
    ).json()
    free = {"email": "fan@example.com", "lines": [{"ticket_id": ticket["id"], "quantity": 2}]}
    assert (await c.post(f"/api/v1/events/{made[4]['id']}/orders", json=free)).json()["status"] == "confirmed"

    first = await c.get("/api/v1/events", params={"limit": 2}, headers=auth)
    assert first.status_code == 200, first.text
    page = first.json()
    assert [e["title"] for e in page["items"]] == ["Night 4", "Night 3"]  # newest first
    assert page["items"][0] | {"sold": 2, "capacity": 30, "gross_cents": 0} == page["items"][0]
    assert page["items"][1]["sold"] == page["items"][1]["capacity"] == 0
    assert first.headers["link"] == f'<{page["next"]}>; rel="next"'
    titles = [e["title"] for e in page["items"]]
    while page["next"]:
        page = (await c.get(page["next"], headers=auth)).json()
        titles += [e["title"] for e in page["items"]]
    assert titles == [f"Night {i}" for i in (4, 3, 2, 1, 0)]
    only = (await c.get("/api/v1/events", params={"status": "sales_paused"}, headers=auth)).json()
    assert [e["id"] for e in only["items"]] == [paused["id"]] and only["next"] is None
    by_start = (await c.get("/api/v1/events", params={"sort": "start", "when": "upcoming"}, headers=auth)).json()
    assert len(by_start["items"]) == 5
    assert (await c.get("/api/v1/events", params={"when": "past"}, headers=auth)).json()["items"] == []
    # another key's list holds none of them; no key, no list; a made-up cursor is refused
    theirs = (await c.get("/api/v1/events", params={"limit": 100}, headers=api.auth(api.other_key))).json()
    assert not {e["id"] for e in theirs["items"]} & {e["id"] for e in made}
    problem(await c.get("/api/v1/events"), 401)
    body = problem(await c.get("/api/v1/events", params={"cursor": "bm90LWEtY3Vyc29y"}, headers=auth), 422)
    assert codes(body) == {"cursor": "invalid_format"}
    body = problem(await c.get("/api/v1/events", params={"status": "live"}, headers=auth), 422)
    assert codes(body) == {"status": "invalid_choice"}


async def test_past_events_are_listed_as_past(api: Api) -> None:
    c = api.srv.client
    _, key = await create_api_key(api.srv.box.db, unique_email("archivist"))
    start = datetime.now(UTC) - timedelta(days=3)
    old = await create(api, key, starts_at=start.isoformat(), ends_at=(start + timedelta(hours=2)).isoformat())
    soon = await create(api, key)
    past = (await c.get("/api/v1/events", params={"when": "past"}, headers=api.auth(key))).json()
    upcoming = (await c.get("/api/v1/events", params={"when": "upcoming"}, headers=api.auth(key))).json()
    assert [e["id"] for e in past["items"]] == [old["id"]]
    assert [e["id"] for e in upcoming["items"]] == [soon["id"]]
