"""The attendees page (a page at a time, answers in words, search by name, email, order id or ticket code, door
members refused, another organizer's event not found), an order's page with its tickets, attendees and answers, and
the attendees CSV read back with the questions as columns (per-ticket answers from the ticket, per-order ones from
the order, a deleted question's answers kept)."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from boxoffice.accounts.roles import Role
from boxoffice.attendees import questions as questions_service
from boxoffice.attendees.rules import AttendeeInput
from boxoffice.events.attendee_settings import update_attendee_settings
from boxoffice.notifications.codes import ticket_code
from boxoffice.ticketing.orders import cancel_order, list_tickets
from boxoffice.ticketing.plan import LineRequest, OrderRequest
from boxoffice.web.console import attendees as attendees_page
from tests.accounts.support import Member, make_member, sign_in
from tests.helpers import make_event, make_ticket
from tests.server import LiveServer


@pytest.fixture
async def browser(site: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=site.url, timeout=30) as client:
        yield client


async def member(site: LiveServer, **kw: Any) -> Member:
    return await make_member(site.box.db, site.box.settings.secret_bytes, **kw)


async def asking_event(site: LiveServer, organizer: str) -> tuple[str, str, dict[str, str]]:
    """A free event asking a size per ticket, a company and whether vegan per order; two orders placed."""
    db = site.box.db
    event = await make_event(db, organizer=organizer)
    tt = await make_ticket(db, event.id, title="Day pass", base_price_cents=0, quantity=20)
    await update_attendee_settings(db, event.id, {"attendee_details": "optional"})
    size = await questions_service.create_question(
        db, event.id, {"label": "Size", "kind": "choice", "options": ["S", "M"], "required": True}
    )
    company = await questions_service.create_question(
        db, event.id, {"label": "Company", "kind": "text", "scope": "order"}
    )
    vegan = await questions_service.create_question(
        db, event.id, {"label": "Vegan", "kind": "yes_no", "scope": "order"}
    )
    first = await site.box.payments.place_order(
        OrderRequest(
            event_id=event.id,
            email="bea@example.com",
            name="Bea Buyer",
            lines=[
                LineRequest(
                    tt.id,
                    2,
                    None,
                    [
                        AttendeeInput("Ada Lovelace", "ada@example.com", {size.id: "S"}),
                        AttendeeInput(None, None, {size.id: "M"}),
                    ],
                )
            ],
            answers={company.id: "=ACME", vegan.id: True},
        )
    )
    second = await site.box.payments.place_order(
        OrderRequest(
            event_id=event.id,
            email="carl@example.com",
            name="Carl",
            lines=[LineRequest(tt.id, 1, None, [AttendeeInput("Grace Hopper", None, {size.id: "M"})])],
            answers={vegan.id: False},
        )
    )
    assert first.order.status == second.order.status == "confirmed"  # free: confirmed at once
    return (
        event.id,
        first.order.id,
        {"size": size.id, "company": company.id, "vegan": vegan.id, "second": second.order.id},
    )


async def test_the_attendees_page_shows_answers_in_pages_and_finds_by_name_email_order_and_code(
    site: LiveServer, browser: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = await member(site)
    event_id, order_id, ids = await asking_event(site, owner.organizer_email)
    await sign_in(browser, owner.email)
    url = f"/manage/events/{event_id}/attendees"
    page = await browser.get(url)
    assert page.status_code == 200 and page.text.count("data-ticket=") == 3
    assert "Ada Lovelace" in page.text and "Grace Hopper" in page.text and "Bea Buyer" in page.text  # holder: buyer
    assert "<dt>Size</dt><dd>S</dd>" in page.text and "<dt>Company</dt><dd>=ACME</dd>" in page.text
    assert "<dt>Vegan</dt><dd>Yes</dd>" in page.text and "<dt>Vegan</dt><dd>No</dd>" in page.text

    monkeypatch.setattr(attendees_page, "PAGE", 2)
    first = await browser.get(url)
    assert first.text.count("data-ticket=") == 2 and "Next attendees" in first.text
    after = first.text.split("after=")[1].split('"')[0]
    rest = await browser.get(url, params={"after": after})
    assert rest.text.count("data-ticket=") == 1 and "Next attendees" not in rest.text
    monkeypatch.undo()

    assert (await browser.get(url, params={"q": "GRACE"})).text.count("data-ticket=") == 1
    assert (await browser.get(url, params={"q": "ada@example"})).text.count("data-ticket=") == 1
    assert (await browser.get(url, params={"q": "bea@"})).text.count("data-ticket=") == 2  # the buyer's email
    assert (await browser.get(url, params={"q": order_id})).text.count("data-ticket=") == 2
    assert "No attendee matches" in (await browser.get(url, params={"q": "nobody"})).text
    ticket = (await list_tickets(site.box.db, ids["second"]))[0]
    code = ticket_code(ticket.id, ticket.code_version, site.box.settings.secret_bytes)
    by_code = await browser.get(url, params={"q": code})
    assert by_code.text.count("data-ticket=") == 1 and f'data-ticket="{ticket.id}"' in by_code.text
    forged = code[:-4] + ("AAAA" if not code.endswith("AAAA") else "BBBB")
    assert (await browser.get(url, params={"q": forged})).text.count("data-ticket=") == 0

    await cancel_order(site.box.db, ids["second"])
    assert "Grace Hopper" not in (await browser.get(url)).text  # a void ticket is no attendee


async def test_an_order_s_page_shows_its_tickets_attendees_and_answers(
    site: LiveServer, browser: httpx.AsyncClient
) -> None:
    owner = await member(site)
    event_id, order_id, _ = await asking_event(site, owner.organizer_email)
    await sign_in(browser, owner.email)
    page = await browser.get(f"/manage/events/{event_id}/orders/{order_id}")
    assert page.status_code == 200
    order_answers = page.text.split("data-order-answers>")[1].split("</dl>")[0]
    assert order_answers == "<dt>Company</dt><dd>=ACME</dd><dt>Vegan</dt><dd>Yes</dd>"
    tickets = await list_tickets(site.box.db, order_id)
    rows = {t.id: page.text.split(f'data-ticket="{t.id}"')[1].split("</tr>")[0] for t in tickets}
    assert len(rows) == 2 and all("Day pass" in row and "valid" in row for row in rows.values())
    named = [row for row in rows.values() if "Ada Lovelace" in row]
    assert len(named) == 1 and "ada@example.com" in named[0] and "<dt>Size</dt><dd>S</dd>" in named[0]
    [unnamed] = [row for row in rows.values() if "Ada Lovelace" not in row]
    assert "the buyer" in unnamed and "<dt>Size</dt><dd>M</dd>" in unnamed
    assert ticket_code(tickets[0].id, tickets[0].code_version, site.box.settings.secret_bytes) not in page.text


async def test_the_attendees_csv_has_the_questions_as_columns(site: LiveServer, browser: httpx.AsyncClient) -> None:
    owner = await member(site)
    event_id, order_id, ids = await asking_event(site, owner.organizer_email)
    await questions_service.delete_question(site.box.db, ids["vegan"])  # its answers stay in the export
    await cancel_order(site.box.db, ids["second"])
    await sign_in(browser, owner.email)
    answer = await browser.get(f"/manage/events/{event_id}/export/attendees.csv")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    reader = csv.DictReader(io.StringIO(answer.text.lstrip("\ufeff")))
    rows = list(reader)
    vegan = f"Vegan ({ids['vegan']})"
    assert reader.fieldnames is not None and reader.fieldnames[-3:] == ["Size", "Company", vegan]
    assert reader.fieldnames[:9] == [
        "ticket_id",
        "ticket_type",
        "ticket_status",
        "order_id",
        "email",
        "name",
        "order_status",
        "attendee_name",
        "attendee_email",
    ]
    seen = sorted(
        (r["attendee_name"], r["attendee_email"], r["ticket_status"], r["Size"], r["Company"], r[vegan], r["email"])
        for r in rows
    )
    assert seen == [
        ("", "", "valid", "M", "'=ACME", "yes", "bea@example.com"),
        ("Ada Lovelace", "ada@example.com", "valid", "S", "'=ACME", "yes", "bea@example.com"),
        ("Grace Hopper", "", "void", "M", "", "no", "carl@example.com"),
    ]
    assert {r["order_id"] for r in rows if r["email"] == "bea@example.com"} == {order_id}


async def test_the_attendees_page_is_refused_to_door_members_and_other_organizers(
    site: LiveServer, browser: httpx.AsyncClient
) -> None:
    owner = await member(site)
    event = await make_event(site.box.db, organizer=owner.organizer_email)
    door = await member(site, role=Role.DOOR, organizer=owner.organizer_email)
    await sign_in(browser, door.email)
    assert (await browser.get(f"/manage/events/{event.id}/attendees")).status_code == 403
    async with httpx.AsyncClient(base_url=site.url, timeout=30) as other:
        await sign_in(other, (await member(site)).email)
        assert (await other.get(f"/manage/events/{event.id}/attendees")).status_code == 404
