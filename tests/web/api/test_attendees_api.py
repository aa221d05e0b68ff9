"""Attendees and questions over HTTP: questions and settings (organizers), what an order is asked (public), orders
with attendees and answers, self-service changes, transfers (a new code, two emails, ``ticket.transferred``) and the
cut-off, participants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from boxoffice.notifications.codes import read_ticket_code
from boxoffice.outbox.models import OutboxMessage
from tests.helpers import eventually, unique_email
from tests.web.api.conftest import Api
from tests.web.api.test_api import codes, new_event, new_ticket, problem


async def question(api: Api, event_id: str, **body: Any) -> dict[str, Any]:
    r = await api.srv.client.post(f"/api/v1/events/{event_id}/questions", json=body, headers=api.auth())
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


async def asking_event(api: Api) -> tuple[str, dict[str, Any], dict[str, Any], dict[str, dict[str, Any]]]:
    """An event asking each ticket's attendee (required), a T-shirt size per ticket of one type, and per order
    whether it is a company with its VAT id asked only then."""
    event_id = await new_event(api)
    shirt_type = await new_ticket(api, event_id, title="With shirt", base_price_cents=0, quantity=20)
    plain = await new_ticket(api, event_id, title="Plain", base_price_cents=0, quantity=20)
    r = await api.srv.client.patch(
        f"/api/v1/events/{event_id}/attendee-settings", json={"attendee_details": "required"}, headers=api.auth()
    )
    assert r.status_code == 200 and r.json()["attendee_details"] == "required", r.text
    size = await question(
        api, event_id, label="T-shirt size", kind="choice", options=["S", "M", "L"], required=True,
        ticket_ids=[shirt_type["id"]],
    )  # fmt: skip
    company = await question(api, event_id, label="Company order?", kind="yes_no", scope="order", required=True)
    vat = await question(
        api, event_id, label="VAT id", kind="text", scope="order", required=True,
        condition={"question_id": company["id"], "values": ["yes"]},
    )  # fmt: skip
    return event_id, shirt_type, plain, {"size": size, "company": company, "vat": vat}


async def test_questions_crud_and_the_public_list(api: Api) -> None:
    c = api.srv.client
    event_id, shirt_type, _, qs = await asking_event(api)
    listed = (await c.get(f"/api/v1/events/{event_id}/questions")).json()
    assert listed["attendee_details"] == "required"
    assert [q["id"] for q in listed["questions"]] == [qs["size"]["id"], qs["company"]["id"], qs["vat"]["id"]]
    assert listed["questions"][0]["ticket_ids"] == [shirt_type["id"]]
    # the organizer's own view of one question; another organizer's key sees nothing
    r = await c.get(f"/api/v1/questions/{qs['vat']['id']}", headers=api.auth())
    assert r.json()["condition"] == {"question_id": qs["company"]["id"], "values": ["yes"]}
    problem(await c.get(f"/api/v1/questions/{qs['vat']['id']}", headers=api.auth(api.other_key)), 404)
    # rules against stored state: 422 with the field and its code
    bad = problem(
        await c.post(
            f"/api/v1/events/{event_id}/questions",
            json={"label": "x", "kind": "text", "condition": {"question_id": qs["vat"]["id"], "values": ["a"]}},
            headers=api.auth(),
        ),
        422,
    )
    assert codes(bad) == {"condition.question_id": "conflict_with"}
    bad = problem(
        await c.post(
            f"/api/v1/events/{event_id}/questions", json={"label": "Size", "kind": "choice"}, headers=api.auth()
        ),
        422,
    )
    assert codes(bad) == {"options": "required"}
    # the company question cannot lose the answer its dependent is asked on, nor be deleted under it
    bad = problem(
        await c.patch(f"/api/v1/questions/{qs['company']['id']}", json={"kind": "text"}, headers=api.auth()), 422
    )
    assert codes(bad) == {"kind": "conflict_with"}
    problem(await c.delete(f"/api/v1/questions/{qs['company']['id']}", headers=api.auth()), 409)
    r = await c.patch(
        f"/api/v1/questions/{qs['size']['id']}", json={"options": ["S", "M", "L", "XL"]}, headers=api.auth()
    )
    assert r.status_code == 200 and r.json()["options"] == ["S", "M", "L", "XL"]
    # a draft event: only its organizer's key sees what it asks
    r = await c.patch(f"/api/v1/events/{event_id}", json={"status": "draft"}, headers=api.auth())
    assert r.status_code == 200
    problem(await c.get(f"/api/v1/events/{event_id}/questions"), 404)
    assert (await c.get(f"/api/v1/events/{event_id}/questions", headers=api.auth())).status_code == 200
    await c.patch(f"/api/v1/events/{event_id}", json={"status": "published"}, headers=api.auth())
    r = await c.delete(f"/api/v1/questions/{qs['vat']['id']}", headers=api.auth())
    assert r.status_code == 204
    problem(await c.get(f"/api/v1/questions/{qs['vat']['id']}", headers=api.auth()), 404)
    listed = (await c.get(f"/api/v1/events/{event_id}/questions")).json()
    assert qs["vat"]["id"] not in [q["id"] for q in listed["questions"]]
    assert (await c.get(f"/api/v1/events/{event_id}/attendee-settings", headers=api.auth())).json()[
        "question_count"
    ] == 2


async def test_orders_carry_attendees_and_answers_checked_per_field(api: Api) -> None:
    c = api.srv.client
    event_id, shirt_type, plain, qs = await asking_event(api)
    size, company, vat = qs["size"]["id"], qs["company"]["id"], qs["vat"]["id"]
    buyer = unique_email()
    body: dict[str, Any] = {
        "email": buyer,
        "name": "Bea",
        "answers": {company: True},
        "lines": [
            {
                "ticket_id": shirt_type["id"],
                "quantity": 2,
                "attendees": [
                    {"name": "Ada", "email": "ada@example.com", "answers": {size: "XXL"}},
                    {"name": "Bob", "answers": {size: "M"}},
                ],
            },
            {"ticket_id": plain["id"], "quantity": 1, "attendees": [{"name": "Cy", "email": "cy@example.com"}]},
        ],
    }
    before = await c.get(f"/api/v1/events/{event_id}/orders", headers=api.auth())
    bad = problem(await c.post(f"/api/v1/events/{event_id}/orders", json=body), 422)
    assert codes(bad) == {
        "answers." + vat: "required",
        f"lines[0].attendees[0].answers.{size}": "invalid_choice",
        "lines[0].attendees[1].email": "required",
    }
    assert (await c.get(f"/api/v1/events/{event_id}/orders", headers=api.auth())).json() == before.json()
    body["answers"] = {company: "yes", vat: " DE123 "}
    body["lines"][0]["attendees"][0]["answers"] = {size: "L"}
    body["lines"][0]["attendees"][1]["email"] = "bob@example.com"
    r = await c.post(f"/api/v1/events/{event_id}/orders", json=body)
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["status"] == "confirmed"  # free: confirmed at once, tickets issued to their attendees
    assert order["answers"] == {company: True, vat: "DE123"}
    by_place = {(a["line"], a["unit"]): a for a in order["attendees"]}
    assert {k: (a["name"], a["email"], a["answers"]) for k, a in by_place.items()} == {
        (0, 0): ("Ada", "ada@example.com", {size: "L"}),
        (0, 1): ("Bob", "bob@example.com", {size: "M"}),
        (1, 0): ("Cy", "cy@example.com", {}),
    }
    assert {a["ticket_id"] for a in order["attendees"]} == {t["id"] for t in order["tickets"]}
    token = {"Authorization": f"Bearer {order['token']}"}
    seen = (await c.get(f"/api/v1/orders/{order['id']}", headers=token)).json()
    assert seen["attendees"] == order["attendees"] and seen["answers"] == order["answers"]
    listed = (await c.get(f"/api/v1/events/{event_id}/orders", headers=api.auth())).json()
    assert listed[0]["attendees"] == order["attendees"]
    holders = (await c.get(f"/api/v1/events/{event_id}/participants?role=ticket_holder", headers=api.auth())).json()
    assert sorted((h["email"], h["status"]) for h in holders) == sorted(
        [(buyer, "confirmed_with_order")]
        + [(e, "confirmed_with_order") for e in ("ada@example.com", "bob@example.com", "cy@example.com")]
    )


async def test_self_service_changes_and_a_transfer(api: Api) -> None:
    c, box = api.srv.client, api.srv.box
    event_id, shirt_type, _, qs = await asking_event(api)
    size, company = qs["size"]["id"], qs["company"]["id"]
    r = await c.post(
        f"/api/v1/events/{event_id}/orders",
        json={
            "email": unique_email(),
            "name": "Bea",
            "answers": {company: False},
            "lines": [
                {
                    "ticket_id": shirt_type["id"],
                    "quantity": 1,
                    "attendees": [{"name": "Ada", "email": "ada@example.com", "answers": {size: "S"}}],
                }
            ],
        },
    )
    assert r.status_code == 201, r.text
    order = r.json()
    token = {"Authorization": f"Bearer {order['token']}"}
    ticket = order["tickets"][0]
    base = f"/api/v1/orders/{order['id']}"

    r = await c.patch(f"{base}/tickets/{ticket['id']}", json={"name": "Ada L.", "answers": {size: "M"}}, headers=token)
    assert r.status_code == 200, r.text
    assert (r.json()["name"], r.json()["answers"]) == ("Ada L.", {size: "M"})
    bad = problem(await c.patch(f"{base}/tickets/{ticket['id']}", json={"answers": {size: None}}, headers=token), 422)
    assert codes(bad) == {f"answers.{size}": "required"}
    bad = problem(await c.patch(f"{base}/answers", json={"answers": {company: True}}, headers=token), 422)
    assert codes(bad) == {f"answers.{qs['vat']['id']}": "required"}  # the company's VAT id is asked now
    r = await c.patch(f"{base}/answers", json={"answers": {company: True, qs["vat"]["id"]: "DE9"}}, headers=token)
    assert r.status_code == 200 and r.json()["answers"] == {company: True, qs["vat"]["id"]: "DE9"}
    problem(await c.patch(f"{base}/answers", json={"answers": {}}, headers=api.auth()), 401)  # the order's token

    old_code = ticket["code"]
    bad = problem(
        await c.post(
            f"{base}/tickets/{ticket['id']}/transfer", json={"name": "Ada", "email": "ADA@example.com"}, headers=token
        ),
        422,
    )
    assert codes(bad) == {"email": "conflict_with"}
    r = await c.post(
        f"{base}/tickets/{ticket['id']}/transfer",
        json={"name": "Zoe", "email": "zoe@example.com", "answers": {size: "L"}},
        headers=token,
    )
    assert r.status_code == 201, r.text
    moved = r.json()
    assert (moved["from_email"], moved["to_email"], moved["code_version"]) == ("ada@example.com", "zoe@example.com", 1)
    secret = box.settings.secret_bytes
    assert read_ticket_code(old_code, secret) == (ticket["id"], 0)  # still genuine, but of a replaced version
    assert read_ticket_code(moved["code"], secret) == (ticket["id"], 1) and moved["code"] != old_code
    seen = (await c.get(base, headers=token)).json()
    assert seen["tickets"][0]["code"] == moved["code"]
    assert [(a["name"], a["email"], a["answers"]) for a in seen["attendees"]] == [
        ("Zoe", "zoe@example.com", {size: "L"})
    ]
    holders = (await c.get(f"/api/v1/events/{event_id}/participants?role=ticket_holder", headers=api.auth())).json()
    status = {h["email"]: h["status"] for h in holders}
    assert status["ada@example.com"] == "cancelled" and status["zoe@example.com"] == "confirmed_with_order"
    async with box.db.read() as session:
        recorded = (
            await session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "ticket.transferred"))
        ).all()
    [event] = [m for m in recorded if m.payload["ticket_id"] == ticket["id"]]
    assert event.payload["from"]["email"] == "ada@example.com" and event.payload["to"]["email"] == "zoe@example.com"
    assert event.payload["code_version"] == 1

    async def transfer_emails() -> list[dict[str, Any]] | None:
        data = (await c.get(f"/api/v1/events/{event_id}/emails", headers=api.auth())).json()
        mine = [e for e in data if e["kind"] in ("ticket_received", "ticket_handed_on")]
        return mine if len(mine) == 2 and all(e["status"] == "sent" for e in mine) else None

    sent = await eventually(transfer_emails)
    assert {(e["kind"], e["to_email"]) for e in sent} == {
        ("ticket_received", "zoe@example.com"),
        ("ticket_handed_on", "ada@example.com"),
    }

    # the organizer's cut-off ends self-service
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    r = await c.patch(f"/api/v1/events/{event_id}/attendee-settings", json={"changes_until": past}, headers=api.auth())
    assert r.status_code == 200
    closed = problem(await c.patch(f"{base}/tickets/{ticket['id']}", json={"name": "Z"}, headers=token), 409)
    assert closed["type"].endswith("/changes-closed") and "closed_at" in closed
    problem(
        await c.post(
            f"{base}/tickets/{ticket['id']}/transfer", json={"name": "Y", "email": "y@example.com"}, headers=token
        ),
        409,
    )


async def test_an_event_that_asks_nothing_refuses_attendees(api: Api) -> None:
    c = api.srv.client
    event_id = await new_event(api)
    ticket = await new_ticket(api, event_id)
    bad = problem(
        await c.post(
            f"/api/v1/events/{event_id}/orders",
            json={
                "email": unique_email(),
                "lines": [{"ticket_id": ticket["id"], "quantity": 1, "attendees": [{"name": "Ada"}]}],
                "answers": {"q_nope": "x"},
            },
        ),
        422,
    )
    assert codes(bad) == {"answers.q_nope": "unknown_field", "lines[0].attendees": "not_applicable"}
    r = await c.post(
        f"/api/v1/events/{event_id}/orders",
        json={"email": unique_email(), "lines": [{"ticket_id": ticket["id"], "quantity": 1}]},
    )
    assert r.status_code == 201 and r.json()["attendees"] == [] and r.json()["answers"] == {}
    listed = (await c.get(f"/api/v1/events/{event_id}/questions")).json()
    assert listed["attendee_details"] == "off" and listed["questions"] == []
