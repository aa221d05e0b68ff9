"""The waiting-list page: per ticket type the entries in order with their offers, conversions and counts after real
offers and a real purchase; an offer sent by hand to the next entry (refused in words when no ticket can be offered)
and to a chosen one; the list switched off (the buyer API refuses to add anyone, returned tickets go on sale, the
people waiting keep their places) and on again; door members refused, another organizer's event not found, a form
without its CSRF token refused.

The server's waiting-list worker is kept quiet (an interval of an hour): the test hands out the offers itself, so
that what the page shows does not depend on timing."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from boxoffice.accounts.roles import Role
from boxoffice.ids import new_id
from boxoffice.ticketing import waitlist, waitlist_offers
from boxoffice.ticketing.orders import confirm_order, expire_order
from boxoffice.ticketing.reserve import reserve
from boxoffice.ticketing.ticket_types import availability, get_ticket_type
from tests.accounts.support import Member, make_member, sign_in
from tests.helpers import make_event, make_ticket, order_request
from tests.server import LiveServer, live_server


@pytest.fixture(scope="module")
async def quiet(sqlite_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LiveServer]:
    mail = str(tmp_path_factory.mktemp("mail"))
    async with live_server(sqlite_url, mail_dir=mail, sweep_interval_seconds=3600) as srv:
        yield srv


@pytest.fixture
async def browser(quiet: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=quiet.url, timeout=30) as client:
        yield client


async def member(site: LiveServer, **kw: Any) -> Member:
    return await make_member(site.box.db, site.box.settings.secret_bytes, **kw)


async def sold_out(site: LiveServer, organizer: str, quantity: int) -> tuple[str, str, list[str]]:
    """An event with one ticket type whose tickets are all held, one per pending order."""
    event = await make_event(site.box.db, organizer=organizer)
    tt = await make_ticket(site.box.db, event.id, title="Floor", quantity=quantity)
    orders = [(await reserve(site.box.db, order_request(event.id, (tt.id, 1)))).id for _ in range(quantity)]
    return event.id, tt.id, orders


async def join(site: LiveServer, event_id: str, tt_id: str, name: str, quantity: int = 1) -> httpx.Response:
    body = {
        "email": f"{name.lower()}-{new_id('x')}@example.com",
        "name": name,
        "ticket_id": tt_id,
        "quantity": quantity,
    }
    return await site.client.post(f"/api/v1/events/{event_id}/waiting-list", json=body)


def row(page: httpx.Response, entry_id: str) -> str:
    start = page.text.index(f'data-entry="{entry_id}"')
    return page.text[start : page.text.index("</tr>", start)]


async def test_the_page_shows_entries_offers_and_conversions_and_sends_offers_by_hand(
    quiet: LiveServer, browser: httpx.AsyncClient
) -> None:
    db = quiet.box.db
    owner = await member(quiet)
    event_id, tt_id, orders = await sold_out(quiet, owner.organizer_email, 3)
    ada, bob, cy = [
        (await join(quiet, event_id, tt_id, n, q)).json()["id"] for n, q in (("Ada", 1), ("Bob", 1), ("Cy", 2))
    ]
    csrf = await sign_in(browser, owner.email)
    url = f"/manage/events/{event_id}/waiting-list"
    page = await browser.get(url)
    assert page.status_code == 200 and "<strong>3</strong> waiting (4 tickets)" in page.text
    assert [row(page, e).split("<td>")[1].split("<")[0] for e in (ada, bob, cy)] == ["1", "2", "3"]
    assert "Ada" in row(page, ada) and 'data-state="waiting"' in row(page, ada)
    assert "to Ada (1 ticket)" in page.text  # the next in line

    await expire_order(db, orders[0], force=True)  # a ticket comes back: held for the list, offered to Ada
    assert await waitlist_offers.hand_out(db, tt_id) == 1
    page = await browser.get(url)
    offered = row(page, ada)
    code = (await waitlist.get_entry(db, ada)).code
    assert code is not None and 'data-state="offered"' in offered and "offer sent" in offered and code in offered
    assert "expires" in offered and "<strong>1</strong> holding an offer" in page.text
    assert "to Bob (1 ticket)" in page.text and "Send offer</button>" not in offered

    bought = await reserve(db, dataclasses.replace(order_request(event_id, (tt_id, 1)), voucher=code.lower()))
    await confirm_order(db, bought.id, payment_intent_id=new_id("pi"))
    page = await browser.get(url)
    converted = row(page, ada)
    assert 'data-state="converted"' in converted and f"/orders/{bought.id}" in converted
    assert "<strong>1</strong> bought" in page.text and "<strong>2</strong> waiting (3 tickets)" in page.text

    # by hand, to the next in line: nothing can be offered yet (sold out, nothing held back), said in words
    none_left = await browser.post(f"{url}/offer", data={"csrf_token": csrf, "entry_id": bob})
    assert none_left.status_code == 409 and "Not enough tickets to offer 1: only 0 can be offered now" in none_left.text
    assert (await waitlist.get_entry(db, bob)).entry.status == "waiting"
    await expire_order(db, orders[1], force=True)  # held back for Bob; the quiet worker does not offer it
    sent = await browser.post(f"{url}/offer", data={"csrf_token": csrf, "entry_id": bob})
    assert sent.status_code == 303 and sent.headers["location"].endswith("done=offered")
    page = await browser.get(sent.headers["location"])
    assert "Offer sent" in page.text and 'data-state="offered"' in row(page, bob)
    again = await browser.post(f"{url}/offer", data={"csrf_token": csrf, "entry_id": bob})
    assert again.status_code == 409 and "has an offer already" in again.text
    # a chosen entry, out of turn: Cy wants two, one can be had (the last hold ends)
    await expire_order(db, orders[2], force=True)
    assert (await browser.post(f"{url}/offer", data={"csrf_token": csrf, "entry_id": cy})).status_code == 409
    assert (await waitlist.get_entry(db, cy)).entry.status == "waiting"


async def test_switching_the_list_off_stops_joining_and_sends_returned_tickets_to_the_public(
    quiet: LiveServer, browser: httpx.AsyncClient
) -> None:
    db = quiet.box.db
    owner = await member(quiet)
    event_id, tt_id, orders = await sold_out(quiet, owner.organizer_email, 2)
    dee = (await join(quiet, event_id, tt_id, "Dee")).json()["id"]
    csrf = await sign_in(browser, owner.email)
    url = f"/manage/events/{event_id}/waiting-list"
    off = await browser.post(f"{url}/switch", data={"csrf_token": csrf, "ticket_id": tt_id, "to": "off"})
    assert off.status_code == 303
    page = await browser.get(off.headers["location"])
    assert "Waiting list switched off" in page.text and "Switch it on" in page.text
    assert "the people waiting (1) keep their places but get no offers" in page.text
    assert not (await get_ticket_type(db, tt_id)).waiting_list

    assert "Join the waiting list" not in (await quiet.client.get(f"/e/{event_id}")).text  # sold out, no form
    refused = await join(quiet, event_id, tt_id, "Eve")
    assert refused.status_code == 409 and refused.headers["content-type"].startswith("application/problem+json")
    await expire_order(db, orders[0], force=True)  # the ticket goes on sale, not to Dee
    assert (await availability(db, event_id))[0].available == 1
    assert (await waitlist.get_entry(db, dee)).entry.status == "waiting"
    sent = await browser.post(f"{url}/offer", data={"csrf_token": csrf, "entry_id": dee})  # by hand: from sale
    assert sent.status_code == 303 and (await waitlist.get_entry(db, dee)).entry.status == "offered"
    assert (await availability(db, event_id))[0].available == 0

    on = await browser.post(f"{url}/switch", data={"csrf_token": csrf, "ticket_id": tt_id, "to": "on"})
    assert on.status_code == 303 and (await get_ticket_type(db, tt_id)).waiting_list
    assert "Join the waiting list" in (await quiet.client.get(f"/e/{event_id}")).text
    assert (await join(quiet, event_id, tt_id, "Eve")).status_code == 201  # sold out again: Eve may wait
    assert "Switch it off" in (await browser.get(url)).text
    bad = await browser.post(f"{url}/switch", data={"csrf_token": csrf, "ticket_id": tt_id, "to": "maybe"})
    assert bad.status_code == 400 and (await get_ticket_type(db, tt_id)).waiting_list


async def test_door_members_other_organizers_and_forms_without_their_token_are_refused(
    quiet: LiveServer, browser: httpx.AsyncClient
) -> None:
    owner = await member(quiet)
    event_id, tt_id, _orders = await sold_out(quiet, owner.organizer_email, 1)
    entry = (await join(quiet, event_id, tt_id, "Fay")).json()["id"]
    url = f"/manage/events/{event_id}/waiting-list"
    async with httpx.AsyncClient(base_url=quiet.url, timeout=30) as own:
        await sign_in(own, owner.email)
        page = await own.get(url)
        assert page.status_code == 200 and "Nobody has joined" not in page.text
        forged = await own.post(f"{url}/switch", data={"csrf_token": "forged", "ticket_id": tt_id, "to": "off"})
        assert forged.status_code == 403 and (await get_ticket_type(quiet.box.db, tt_id)).waiting_list
    door = await member(quiet, role=Role.DOOR, organizer=owner.organizer_email)
    door_csrf = await sign_in(browser, door.email)
    assert (await browser.get(url)).status_code == 403
    assert (await browser.post(f"{url}/offer", data={"csrf_token": door_csrf, "entry_id": entry})).status_code == 403
    async with httpx.AsyncClient(base_url=quiet.url, timeout=30) as other:
        stranger = await member(quiet)
        other_csrf = await sign_in(other, stranger.email)
        assert (await other.get(url)).status_code == 404
        sent = {"csrf_token": other_csrf, "ticket_id": tt_id, "to": "off", "entry_id": entry}
        assert (await other.post(f"{url}/switch", data=sent)).status_code == 404
        assert (await other.post(f"{url}/offer", data=sent)).status_code == 404
        # their own event, with this organizer's entry or ticket type: not found either
        theirs = await make_event(quiet.box.db, organizer=stranger.organizer_email)
        assert (await other.post(f"/manage/events/{theirs.id}/waiting-list/offer", data=sent)).status_code == 404
    assert (await waitlist.get_entry(quiet.box.db, entry)).entry.status == "waiting"
    assert (await get_ticket_type(quiet.box.db, tt_id)).waiting_list
