"""The buyer pages with attendees and questions: the event page asks about each chosen ticket, refuses in words at
the fields, and sells; the order page shows who holds each ticket with the answers, changes them, hands a ticket on
(a new code), and stops at the organizer's cut-off."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

from boxoffice.attendees.questions import create_question
from boxoffice.events.attendee_settings import update_attendee_settings
from boxoffice.notifications.codes import read_ticket_code
from boxoffice.ticketing import attendance
from boxoffice.ticketing.orders import list_tickets
from tests.helpers import make_event, make_ticket, unique_email
from tests.server import LiveServer
from tests.web.pages.test_pages import assert_accessible


async def test_the_event_page_asks_each_ticket_then_sells_and_the_order_page_changes_and_hands_on(
    site: LiveServer,
) -> None:
    db = site.box.db
    event = await make_event(db)
    tt = await make_ticket(db, event.id, title="Workshop", base_price_cents=0, quantity=10)
    await update_attendee_settings(db, event.id, {"attendee_details": "required"})
    size = await create_question(
        db, event.id, {"label": "T-shirt size", "kind": "choice", "options": ["S", "M"], "required": True}
    )
    company = await create_question(db, event.id, {"label": "Company order?", "kind": "yes_no", "scope": "order"})
    diet = await create_question(
        db, event.id, {"label": "Diet", "kind": "multiple_choice", "options": ["vegan", "halal"], "scope": "ticket"}
    )
    site.client.cookies.clear()
    first = {f"qty_{tt.id}": "2", "name": "Bea", "email": unique_email()}
    asked = await site.client.post(f"/e/{event.id}/checkout", data=first)
    assert asked.status_code == 200, asked.text
    page = assert_accessible(asked.text)
    prefix = f"t-{tt.id.replace('_', '-')}"
    for n in (0, 1):
        assert {f"{prefix}-{n}-name", f"{prefix}-{n}-email", f"{prefix}-{n}-a-{size.id.replace('_', '-')}"} <= set(
            page.inputs
        )
    assert "Please tell us about your tickets" in asked.text and "Company order?" in asked.text

    name = f"t_{tt.id}_"
    details = {
        **first,
        "details_step": "1",
        f"a_{company.id}": "yes",
        f"{name}0_name": "Ada",
        f"{name}0_email": "ada@example.com",
        f"{name}0_a_{size.id}": "M",
        f"{name}1_name": "Bob",
        f"{name}1_a_{size.id}": "",
    }
    refused = await site.client.post(f"/e/{event.id}/checkout", data=details)
    assert refused.status_code == 422
    text = html.unescape(refused.text)
    assert "Please enter the email address of the holder of ticket 2" in text
    assert "Please choose an answer for “T-shirt size” for ticket 2" in text
    assert f'href="#{prefix}-1-email"' in refused.text
    assert_accessible(refused.text)
    assert 'value="Ada"' in refused.text  # what was typed stays

    details[f"{name}1_email"] = "bob@example.com"
    details[f"{name}1_a_{size.id}"] = "S"
    sold = await site.client.post(
        f"/e/{event.id}/checkout",
        content="&".join(
            f"{k}={v}"
            for k, v in [*details.items(), (f"{name}1_a_{diet.id}", "vegan"), (f"{name}1_a_{diet.id}", "halal")]
        ).replace("@", "%40"),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert sold.status_code == 303, sold.text
    order_url = sold.headers["location"]
    order_page = await site.client.get(order_url)
    text = html.unescape(order_page.text)
    assert "For Ada, ada@example.com" in text and "For Bob, bob@example.com" in text
    assert "Diet:</span> vegan, halal" in text and "Company order?:</span> Yes" in text, text[text.find("issued-t") :]
    assert_accessible(order_page.text)

    order_id = order_url.rsplit("/", 1)[-1]
    tickets = await list_tickets(db, order_id)
    ticket = next(t for t in tickets if f"/orders/{order_id}/tickets/{t.id}" in order_page.text)
    edit = f"e_{ticket.id}_"
    bad = await site.client.post(f"/orders/{order_id}/tickets/{ticket.id}", data={f"{edit}name": "Ada L."})
    assert bad.status_code == 422
    assert "Please choose an answer for “T-shirt size”" in html.unescape(bad.text)
    changed = await site.client.post(
        f"/orders/{order_id}/tickets/{ticket.id}", data={f"{edit}name": "Ada L.", f"{edit}a_{size.id}": "S"}
    )
    assert changed.status_code == 303 and "changed=ticket" in changed.headers["location"]

    hand = f"h_{ticket.id}_"
    holder = (await attendance.order_details(db, order_id)).by_ticket()[ticket.id]
    same = await site.client.post(
        f"/orders/{order_id}/tickets/{ticket.id}/transfer",
        data={f"{hand}name": "Me", f"{hand}email": holder.email.upper()},
    )
    assert same.status_code == 422 and "already holds the ticket" in html.unescape(same.text)
    handed = await site.client.post(
        f"/orders/{order_id}/tickets/{ticket.id}/transfer",
        data={f"{hand}name": "Zoe", f"{hand}email": "zoe@example.com"},
    )
    assert handed.status_code == 303 and "handed=" in handed.headers["location"]
    after = await site.client.get(handed.headers["location"])
    assert "For Zoe, zoe@example.com" in html.unescape(after.text) and "handed on" in after.text
    [moved] = [t for t in await list_tickets(db, order_id) if t.id == ticket.id]
    code = re.search(rf"<code>({re.escape(ticket.id)}[^<]*)</code>", after.text)
    assert moved.code_version == 1 and code is not None
    assert read_ticket_code(code.group(1), site.box.settings.secret_bytes) == (ticket.id, 1)

    await update_attendee_settings(db, event.id, {"changes_until": datetime.now(UTC) - timedelta(minutes=1)})
    closed = await site.client.post(f"/orders/{order_id}/tickets/{ticket.id}", data={f"{edit}name": "X"})
    assert closed.status_code == 409 and "Changes to this order's tickets have ended" in html.unescape(closed.text)
    assert "Change the details of ticket" not in (await site.client.get(order_url)).text


async def test_an_event_that_asks_nothing_sells_in_one_step(site: LiveServer) -> None:
    event = await make_event(site.box.db)
    tt = await make_ticket(site.box.db, event.id, base_price_cents=0, quantity=3)
    r = await site.client.post(f"/e/{event.id}/checkout", data={f"qty_{tt.id}": "1", "email": unique_email()})
    assert r.status_code == 303 and r.headers["location"].startswith("/orders/")
