"""The buyer pages with a code and a waiting list, over HTTP, without JavaScript: ``?voucher=`` and the "Have a
code?" field show the prices and unlocked tickets, checkout uses the code, refusals are words at the code's field;
a sold-out ticket type offers its waiting list, and the emailed link leaves it."""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from boxoffice.clock import utcnow
from boxoffice.ticketing import tokens, voucher_codes, waitlist
from boxoffice.ticketing.models import Order
from boxoffice.ticketing.reserve import reserve
from tests.helpers import make_event, make_ticket, order_request, unique_email
from tests.server import LiveServer
from tests.web.pages.test_pages import assert_accessible


async def test_a_code_shows_its_prices_and_unlocked_tickets_and_checkout_uses_it(site: LiveServer) -> None:
    db, c = site.box.db, site.client
    event = await make_event(db, title="Code Night", currency="usd")
    ga = await make_ticket(db, event.id, title="General", base_price_cents=2500)
    crew = await make_ticket(db, event.id, title="Crew", base_price_cents=4000, hidden=True)
    await voucher_codes.create_vouchers(db, event.id, {"code": "Crew-Pass", "unlocks": [crew.id], "max_uses": 5})
    await voucher_codes.create_vouchers(db, event.id, {"code": "SPRING", "discount": {"percent": 20}})
    plain = await c.get(f"/e/{event.id}")
    assert "General" in plain.text and "Crew" not in plain.text and "Have a code?" in plain.text
    coded = await c.get(f"/e/{event.id}", params={"voucher": "spring"})
    assert coded.status_code == 200
    page = assert_accessible(coded.text)
    assert "$20.00" in coded.text and "With code SPRING, instead of $25.00" in coded.text
    assert "Code SPRING is applied" in coded.text
    assert page.count("input", type="hidden", name="voucher", value="SPRING") == 1
    unlocked = await c.get(f"/e/{event.id}", params={"voucher": "CREW-PASS"})
    assert "Crew" in unlocked.text and "Unlocked by code Crew-Pass" in unlocked.text
    form = {"voucher": "SPRING", f"qty_{ga.id}": "2", "name": "Ada", "email": unique_email("code")}
    placed = await c.post(f"/e/{event.id}/checkout", data=form)
    assert placed.status_code == 303 and "/_sandbox/stripe/" in placed.headers["location"]
    async with db.read() as session:
        order = (await session.scalars(select(Order).where(Order.email == form["email"]))).one()
    assert order.total_cents == 4000 and order.pricing_snapshot["voucher"]["code"] == "SPRING"


async def test_a_bad_code_is_said_in_words_at_its_field(site: LiveServer) -> None:
    db, c = site.box.db, site.client
    event = await make_event(db)
    tt = await make_ticket(db, event.id)
    await voucher_codes.create_vouchers(db, event.id, {"code": "ONCE", "max_uses": 1})
    unknown = await c.get(f"/e/{event.id}", params={"voucher": "nope"})
    assert unknown.status_code == 422
    assert_accessible(unknown.text)
    assert "This code is not valid for this event: please check it" in unknown.text
    assert re.search(r'id="voucher"[^>]*aria-invalid="true"', unknown.text)
    form = {"voucher": "ONCE", f"qty_{tt.id}": "2", "name": "Ada", "email": unique_email("once")}
    refused = await c.post(f"/e/{event.id}/checkout", data=form)
    assert refused.status_code == 409
    assert "This code can be used for 1 more ticket only" in refused.text


@pytest.mark.parametrize(
    ("code", "status", "words"),
    [
        ("nope", 422, "This code is not valid for this event: please check it"),
        ("late", 409, "This code has expired"),
        ("early", 409, "This code is not valid yet"),
        ("spent", 409, "This code has been used up"),
        ("narrow", 422, "This code does not apply to the tickets you chose"),
    ],
)
async def test_every_refusal_is_said_in_words_at_the_code_field_and_orders_nothing(
    site: LiveServer, code: str, status: int, words: str
) -> None:
    db, c = site.box.db, site.client
    event = await make_event(db)
    tt = await make_ticket(db, event.id, title="General")
    other = await make_ticket(db, event.id, title="Balcony")
    now = utcnow()
    for fields in (
        {"code": "LATE", "valid_until": now - timedelta(minutes=1)},
        {"code": "EARLY", "valid_from": now + timedelta(days=1)},
        {"code": "SPENT", "max_uses": 1},
        {"code": "NARROW", "ticket_ids": [other.id]},
    ):
        await voucher_codes.create_vouchers(db, event.id, fields)
    await reserve(db, dataclasses.replace(order_request(event.id, (tt.id, 1)), voucher="spent"))
    form = {"voucher": code, f"qty_{tt.id}": "1", "name": "Ada", "email": unique_email("refused")}
    refused = await c.post(f"/e/{event.id}/checkout", data=form)
    assert refused.status_code == status
    assert_accessible(refused.text)
    assert words in refused.text and re.search(r'id="voucher"[^>]*aria-invalid="true"', refused.text)
    async with db.read() as session:
        orders = await session.scalar(select(func.count()).select_from(Order).where(Order.event_id == event.id))
    assert orders == 1  # the one that used the code up


async def test_a_sold_out_ticket_offers_its_waiting_list_and_the_email_link_leaves_it(site: LiveServer) -> None:
    db, c = site.box.db, site.client
    event = await make_event(db, title="Full House")
    tt = await make_ticket(db, event.id, title="Balcony", quantity=2)
    on_sale = await c.get(f"/e/{event.id}")
    assert "Join the waiting list" not in on_sale.text
    await reserve(db, order_request(event.id, (tt.id, 2)))
    sold_out = await c.get(f"/e/{event.id}")
    page = assert_accessible(sold_out.text)
    assert "Sold out? Join the waiting list" in sold_out.text and page.count("select", name="wl_ticket") == 1
    bad = await c.post(
        f"/e/{event.id}/waiting-list", data={"wl_ticket": tt.id, "wl_quantity": "2", "wl_email": "not-an-email"}
    )
    assert bad.status_code == 422 and re.search(r'id="wl-email"[^>]*aria-invalid="true"', bad.text)
    email = unique_email("wait")
    joined = await c.post(
        f"/e/{event.id}/waiting-list", data={"wl_ticket": tt.id, "wl_quantity": "2", "wl_email": email, "wl_name": "W"}
    )
    assert joined.status_code == 201 and "number 1 in line" in joined.text and "2 Balcony tickets" in joined.text
    (entry,) = [v.entry for v in await waitlist.list_entries(db, event.id)]
    token = tokens.entry_token(entry.id, site.box.settings.secret_bytes)
    wrong = await c.get(f"/waiting-list/{entry.id}/leave", params={"token": "nope"})
    assert wrong.status_code == 404
    confirm = await c.get(f"/waiting-list/{entry.id}/leave", params={"token": token})
    assert confirm.status_code == 200 and confirm.headers["referrer-policy"] == "no-referrer"
    assert_accessible(confirm.text)
    assert (await waitlist.get_entry(db, entry.id)).entry.status == "waiting"  # opening the link changes nothing
    left = await c.post(f"/waiting-list/{entry.id}/leave", data={"token": token})
    assert left.status_code == 200 and "You have left the waiting list" in left.text
    assert (await waitlist.get_entry(db, entry.id)).entry.status == "left"
