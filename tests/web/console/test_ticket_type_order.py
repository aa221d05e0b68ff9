"""Reordering ticket types from the dashboard (Up and Down beside each): the buyer page, the public API and the
dashboard show the new order; the refusals (a door member, another organizer, a missing CSRF token, a direction
that is neither) change nothing; moves asked at once on PostgreSQL leave one place per ticket type."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import httpx
import pytest

from boxoffice.accounts.roles import Role
from boxoffice.db import Database
from boxoffice.ticketing.ticket_types import list_ticket_types, move_ticket_type
from tests.accounts.support import make_member, sign_in
from tests.helpers import make_event, make_ticket
from tests.server import LiveServer


@pytest.fixture
async def browser(site: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=site.url, timeout=30) as client:
        yield client


def shown(html: str, marker: str) -> list[str]:
    """The ticket type ids in the order ``html`` shows them (``data-ticket-type="tt_..."``, ``data-ticket=...``)."""
    return re.findall(rf'{marker}="(tt_[^"]+)"', html)


async def test_up_and_down_reorder_the_buyer_page_the_api_and_the_dashboard(
    site: LiveServer, browser: httpx.AsyncClient
) -> None:
    owner = await make_member(site.box.db, site.box.settings.secret_bytes)
    event = await make_event(site.box.db, organizer=owner.organizer_email, status="published")
    a, b, c = [await make_ticket(site.box.db, event.id, title=t, position=i) for i, t in enumerate("ABC")]
    csrf = await sign_in(browser, owner.email)
    board = await browser.get(f"/manage/events/{event.id}")
    assert shown(board.text, "data-ticket-type") == [a.id, b.id, c.id]
    buttons = re.findall(r'name="direction" value="(up|down)" class="link-button"( disabled)?', board.text)
    assert buttons[0] == ("up", " disabled") and buttons[-1] == ("down", " disabled")  # nowhere to go
    assert buttons[1:-1] == [("down", ""), ("up", ""), ("down", ""), ("up", "")]

    moved = await browser.post(
        f"/manage/events/{event.id}/ticket-types/{c.id}/move", data={"csrf_token": csrf, "direction": "up"}
    )
    assert moved.status_code == 303 and "done=ticket-moved" in moved.headers["location"]
    after = [a.id, c.id, b.id]
    assert [t.id for t in await list_ticket_types(site.box.db, event.id)] == after
    assert [t.position for t in await list_ticket_types(site.box.db, event.id)] == [0, 1, 2]
    assert shown((await browser.get(f"/manage/events/{event.id}")).text, "data-ticket-type") == after
    assert shown((await browser.get(f"/e/{event.id}")).text, "data-ticket") == after
    api = await browser.get(f"/api/v1/events/{event.id}/tickets")
    assert [t["id"] for t in api.json()] == after

    await browser.post(
        f"/manage/events/{event.id}/ticket-types/{a.id}/move", data={"csrf_token": csrf, "direction": "down"}
    )
    await browser.post(  # the last one down: already last, nothing changes
        f"/manage/events/{event.id}/ticket-types/{b.id}/move", data={"csrf_token": csrf, "direction": "down"}
    )
    assert [t.id for t in await list_ticket_types(site.box.db, event.id)] == [c.id, a.id, b.id]


async def test_refusals_change_nothing(site: LiveServer, browser: httpx.AsyncClient) -> None:
    owner = await make_member(site.box.db, site.box.settings.secret_bytes)
    event = await make_event(site.box.db, organizer=owner.organizer_email)
    other_event = await make_event(site.box.db, organizer=owner.organizer_email)
    a, b = [await make_ticket(site.box.db, event.id, title=t, position=i) for i, t in enumerate("AB")]
    elsewhere = await make_ticket(site.box.db, other_event.id)
    url = f"/manage/events/{event.id}/ticket-types/{b.id}/move"

    async def order() -> list[str]:
        return [t.id for t in await list_ticket_types(site.box.db, event.id)]

    csrf = await sign_in(browser, owner.email)
    assert (await browser.post(url, data={"direction": "up"})).status_code == 403  # no CSRF token
    sideways = await browser.post(url, data={"csrf_token": csrf, "direction": "sideways"})
    assert sideways.status_code == 422 and "Choose Up or Down" in sideways.text
    not_this_event = f"/manage/events/{event.id}/ticket-types/{elsewhere.id}/move"
    assert (await browser.post(not_this_event, data={"csrf_token": csrf, "direction": "up"})).status_code == 404
    assert await order() == [a.id, b.id]

    secret = site.box.settings.secret_bytes
    door = await make_member(site.box.db, secret, role=Role.DOOR, organizer=owner.organizer_email)
    async with httpx.AsyncClient(base_url=site.url, timeout=30) as door_browser:
        door_csrf = await sign_in(door_browser, door.email)
        refused = await door_browser.post(url, data={"csrf_token": door_csrf, "direction": "up"})
        assert refused.status_code == 403
    stranger = await make_member(site.box.db, site.box.settings.secret_bytes)
    async with httpx.AsyncClient(base_url=site.url, timeout=30) as stranger_browser:
        stranger_csrf = await sign_in(stranger_browser, stranger.email)
        hidden = await stranger_browser.post(url, data={"csrf_token": stranger_csrf, "direction": "up"})
        assert hidden.status_code == 404
    assert await order() == [a.id, b.id]


async def test_moves_at_once_keep_one_place_per_ticket_type(pg_db: Database) -> None:
    event = await make_event(pg_db)
    types = [await make_ticket(pg_db, event.id, title=f"T{i}", position=0) for i in range(5)]  # all tied at 0
    moves = [move_ticket_type(pg_db, t.id, step) for t in types for step in (-1, 1, 1)]
    await asyncio.gather(*moves)
    final = await list_ticket_types(pg_db, event.id)
    assert sorted(t.position for t in final) == [0, 1, 2, 3, 4]
    assert {t.id for t in final} == {t.id for t in types}
