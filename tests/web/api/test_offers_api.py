"""Vouchers, access codes, waiting lists and event holds over HTTP: organizer endpoints (scoped to the key's
organizer), the code in orders and ticket listings, every refusal as a problem document, joining and leaving."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

from boxoffice.ticketing import tokens
from tests.web.api.conftest import Api
from tests.web.api.test_api import new_event, new_ticket, problem

NOW = datetime.now(UTC)


async def new_voucher(api: Api, event_id: str, **body: Any) -> dict[str, Any]:
    r = await api.srv.client.post(f"/api/v1/events/{event_id}/vouchers", json=body, headers=api.auth())
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


async def order(api: Api, event_id: str, ticket_id: str, quantity: int = 1, voucher: str | None = None) -> Any:
    body: dict[str, Any] = {"email": "buyer@example.com", "lines": [{"ticket_id": ticket_id, "quantity": quantity}]}
    if voucher is not None:
        body["voucher"] = voucher
    return await api.srv.client.post(f"/api/v1/events/{event_id}/orders", json=body)


async def test_organizers_manage_vouchers_and_export_generated_codes(api: Api) -> None:
    client = api.srv.client
    event_id = await new_event(api)
    ticket = await new_ticket(api, event_id, quantity=20)
    created = await new_voucher(
        api, event_id, code="Members10", discount={"amount_cents": 1000}, ticket_ids=[ticket["id"]], max_uses=10
    )
    (voucher,) = created["vouchers"]
    assert created["batch_id"] is None and created["csv_url"] is None
    assert (voucher["code"], voucher["discount"], voucher["uses"], voucher["remaining"]) == (
        "Members10",
        {"amount_cents": 1000},
        0,
        10,
    )
    taken = await client.post(f"/api/v1/events/{event_id}/vouchers", json={"code": "MEMBERS10"}, headers=api.auth())
    assert problem(taken, 422)["errors"][0]["field"] == "code"
    both = await client.post(
        f"/api/v1/events/{event_id}/vouchers", json={"code": "X-1", "count": 2}, headers=api.auth()
    )
    problem(both, 422)
    placed = await order(api, event_id, ticket["id"], 2, voucher="members10")
    assert placed.status_code == 201, placed.text
    assert placed.json()["total_cents"] == 2 * 500 and placed.json()["voucher"] == "Members10"
    listed = await client.get(f"/api/v1/events/{event_id}/vouchers", headers=api.auth())
    assert [(v["code"], v["uses"], v["remaining"]) for v in listed.json()] == [("Members10", 2, 8)]
    low = await client.patch(f"/api/v1/vouchers/{voucher['id']}", json={"max_uses": 1}, headers=api.auth())
    assert problem(low, 422)["errors"][0]["minimum"] == 2
    changed = await client.patch(f"/api/v1/vouchers/{voucher['id']}", json={"max_uses": 3}, headers=api.auth())
    assert changed.status_code == 200 and changed.json()["remaining"] == 1
    other = await client.get(f"/api/v1/vouchers/{voucher['id']}", headers=api.auth(api.other_key))
    problem(other, 404)
    generated = await new_voucher(api, event_id, count=5, prefix="VIP-", discount={"percent": 100}, max_uses=1)
    assert len(generated["vouchers"]) == 5 and generated["csv_url"].endswith(generated["batch_id"])
    exported = await client.get(generated["csv_url"], headers=api.auth())
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert sorted(r["code"] for r in rows) == sorted(v["code"] for v in generated["vouchers"])
    assert {(r["discount"], r["max_uses"], r["uses"]) for r in rows} == {("100% off", "1", "0")}
    gone = await client.delete(f"/api/v1/vouchers/{voucher['id']}", headers=api.auth())
    assert gone.status_code == 204
    problem(await order(api, event_id, ticket["id"], 1, voucher="members10"), 422)


async def test_every_voucher_refusal_is_a_problem_with_its_code(api: Api) -> None:
    event_id = await new_event(api)
    ticket = await new_ticket(api, event_id)
    other = await new_ticket(api, event_id, title="Other")
    await new_voucher(api, event_id, code="EXPIRED", valid_until=(NOW - timedelta(hours=1)).isoformat())
    await new_voucher(api, event_id, code="FUTURE", valid_from=(NOW + timedelta(days=1)).isoformat())
    await new_voucher(api, event_id, code="ONCE", max_uses=1)
    await new_voucher(api, event_id, code="OTHERS", ticket_ids=[other["id"]])
    cases = [("NOPE", 1, 422, "voucher_unknown"), ("expired", 1, 409, "voucher_expired")]
    cases += [("future", 1, 409, "voucher_not_yet_valid"), ("once", 2, 409, "voucher_used_up")]
    cases += [("others", 1, 422, "voucher_not_applicable")]
    for code, quantity, status, expected in cases:
        body = problem(await order(api, event_id, ticket["id"], quantity, voucher=code), status)
        assert [(e["field"], e["code"]) for e in body["errors"]] == [("voucher", expected)], code
    used_up = problem(await order(api, event_id, ticket["id"], 2, voucher="once"), 409)
    assert used_up["type"].endswith("/voucher-unavailable") and used_up["remaining"] == 1
    assert used_up["errors"][0]["remaining"] == 1
    listing = await api.srv.client.get(f"/api/v1/events/{event_id}/tickets", params={"voucher": "expired"})
    assert problem(listing, 409)["errors"][0]["code"] == "voucher_expired"


async def test_the_ticket_listing_shows_prices_and_hidden_tickets_with_a_code(api: Api) -> None:
    client = api.srv.client
    event_id = await new_event(api)
    ga = await new_ticket(api, event_id, base_price_cents=2000)
    crew = await new_ticket(api, event_id, title="Crew", base_price_cents=5000, hidden=True, quantity=3)
    assert crew["hidden"] is True
    await new_voucher(api, event_id, code="CREW", unlocks=[crew["id"]], discount={"price_cents": 0}, max_uses=2)
    public = await client.get(f"/api/v1/events/{event_id}/tickets")
    assert [t["id"] for t in public.json()] == [ga["id"]]
    problem(await order(api, event_id, crew["id"]), 422)
    seen = (await client.get(f"/api/v1/events/{event_id}/tickets", params={"voucher": "crew"})).json()
    by_id = {t["id"]: t for t in seen}
    assert (by_id[crew["id"]]["price_cents"], by_id[crew["id"]]["undiscounted_price_cents"]) == (0, 5000)
    assert by_id[crew["id"]]["voucher_applies"] is True and by_id[crew["id"]]["available"] == 2  # its two uses
    assert (by_id[ga["id"]]["price_cents"], by_id[ga["id"]]["voucher_applies"]) == (2000, False)
    free = await order(api, event_id, crew["id"], 1, voucher="Crew")
    assert free.status_code == 201 and free.json()["status"] == "confirmed" and free.json()["total_cents"] == 0


async def test_joining_and_leaving_a_waiting_list_and_the_organizers_view(api: Api) -> None:
    client = api.srv.client
    event_id = await new_event(api)
    ticket = await new_ticket(api, event_id, quantity=2)
    body = {"email": "wait@example.com", "name": "Wai", "ticket_id": ticket["id"], "quantity": 2}
    url = f"/api/v1/events/{event_id}/waiting-list"
    problem(await client.post(url, json=body), 409)  # on sale: buy it instead
    assert (await order(api, event_id, ticket["id"], 2)).status_code == 201
    joined = await client.post(url, json=body)
    assert joined.status_code == 201, joined.text
    entry = joined.json()
    assert (entry["status"], entry["position"], entry["quantity"]) == ("waiting", 1, 2)
    again = await client.post(url, json={**body, "email": "WAIT@example.com"})
    assert again.status_code == 200 and again.json()["id"] == entry["id"]
    second = (await client.post(url, json={**body, "email": "next@example.com", "quantity": 1})).json()
    assert second["position"] == 2
    listed = await client.get(url, headers=api.auth())
    assert [(e["email"], e["position"]) for e in listed.json()] == [("wait@example.com", 1), ("next@example.com", 2)]
    problem(await client.get(url, headers=api.auth(api.other_key)), 404)
    offered = await client.post(f"/api/v1/waiting-list/{second['id']}/offer", headers=api.auth())
    problem(offered, 409)  # nothing held back, nothing on sale
    leave = f"/api/v1/waiting-list/{entry['id']}/leave"
    problem(await client.post(leave, params={"token": "wrong"}), 404)
    token = tokens.entry_token(entry["id"], api.srv.box.settings.secret_bytes)
    left = await client.post(leave, params={"token": token})
    assert left.status_code == 200 and left.json()["status"] == "left" and left.json()["position"] is None
    assert (await client.get(url, headers=api.auth())).json()[1]["position"] == 1


async def test_events_take_a_shorter_hold(api: Api) -> None:
    client = api.srv.client
    event_id = await new_event(api)
    short = await client.patch(f"/api/v1/events/{event_id}", json={"hold_minutes": 10}, headers=api.auth())
    assert short.status_code == 200 and short.json()["hold_minutes"] == 10
    assert short.json()["waiting_list_offer_minutes"] == 1440
    ticket = await new_ticket(api, event_id)
    placed = (await order(api, event_id, ticket["id"])).json()
    held = datetime.fromisoformat(placed["expires_at"]) - datetime.fromisoformat(placed["created_at"])
    assert timedelta(minutes=9) < held <= timedelta(minutes=10)
    problem(await client.patch(f"/api/v1/events/{event_id}", json={"hold_minutes": 4}, headers=api.auth()), 422)
    back = await client.patch(f"/api/v1/events/{event_id}", json={"hold_minutes": None}, headers=api.auth())
    assert back.json()["hold_minutes"] is None
