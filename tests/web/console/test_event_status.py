"""The event form's venue, address, image URL and status, with their errors in words; the dashboard's publish, pause
and resume buttons (what buyers see after each), a stale button, and the refusals (a door member, no CSRF token,
another organizer's event). ``change_status`` decides a race with one conditional UPDATE (both databases)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from boxoffice.accounts.roles import Role
from boxoffice.db import Database
from boxoffice.errors import InvalidTransition, NotFound, SalesPaused
from boxoffice.events import service as events
from tests.accounts.support import Member, make_member, sign_in
from tests.helpers import make_event, make_ticket, order_request, unique_email
from tests.server import LiveServer


@pytest.fixture
async def browser(site: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=site.url, timeout=30) as client:
        yield client


async def member(site: LiveServer, **kw: Any) -> Member:
    return await make_member(site.box.db, site.box.settings.secret_bytes, **kw)


FORM = {
    "title": "Harbour concert",
    "timezone": "Europe/Berlin",
    "starts_at": "2031-06-01T20:00",
    "ends_at": "2031-06-01T23:00",
    "currency": "EUR",
    "venue_name": "Blue Note Club",
    "venue_address": "Hafenstraße 1\r\n20359 Hamburg",
    "image_url": "https://example.com/poster.jpg",
    "status": "draft",
}


async def test_venue_image_and_status_are_saved_and_their_errors_said_in_words(
    site: LiveServer, browser: httpx.AsyncClient
) -> None:
    owner = await member(site)
    csrf = await sign_in(browser, owner.email)
    new = await browser.get("/manage/events/new")
    assert '<option value="draft" selected>' in new.text  # a console event starts as a draft
    bad = await browser.post(
        "/manage/events/new",
        data={
            "csrf_token": csrf,
            **FORM,
            "venue_name": "Blue\tNote",
            "image_url": "http://example.com/poster.jpg",
            "status": "sold",
        },
    )
    assert bad.status_code == 422
    assert "Please remove special characters (such as tabs) from the venue" in bad.text
    assert "Please enter an https link, such as https://example.com/poster.jpg" in bad.text
    assert "Please choose one of the statuses offered" in bad.text
    assert 'value="http://example.com/poster.jpg"' in bad.text  # what was typed is kept
    long_address = await browser.post(
        "/manage/events/new", data={"csrf_token": csrf, **FORM, "venue_address": "x" * 1001}
    )
    assert long_address.status_code == 422
    assert "Please shorten the venue&#39;s address to 1000 characters" in long_address.text
    home = await browser.get("/manage")
    assert "Harbour concert" not in home.text  # bad input created nothing

    made = await browser.post("/manage/events/new", data={"csrf_token": csrf, **FORM})
    assert made.status_code == 303
    event_id = made.headers["location"].split("/")[3].split("?")[0]
    event = await events.get_event(site.box.db, event_id)
    assert (event.venue_name, event.venue_address) == ("Blue Note Club", "Hafenstraße 1\n20359 Hamburg")
    assert event.image_url == "https://example.com/poster.jpg" and event.status == "draft"
    edit = await browser.get(f"/manage/events/{event_id}/edit")
    assert 'value="Blue Note Club"' in edit.text and "Hafenstraße 1\n20359 Hamburg</textarea>" in edit.text
    assert '<option value="draft" selected>' in edit.text
    saved = await browser.post(
        f"/manage/events/{event_id}/edit",
        data={"csrf_token": csrf, **FORM, "image_url": "", "status": "canceled", "venue_name": "Elbe Hall"},
    )
    assert saved.status_code == 303
    event = await events.get_event(site.box.db, event_id)
    assert (event.image_url, event.status, event.venue_name) == (None, "canceled", "Elbe Hall")


async def test_publish_pause_and_resume_from_the_dashboard(site: LiveServer, browser: httpx.AsyncClient) -> None:
    owner = await member(site)
    event = await make_event(
        site.box.db, organizer=owner.organizer_email, status="draft", currency="usd", venue_name="Pier 9"
    )
    tt = await make_ticket(site.box.db, event.id)
    csrf = await sign_in(browser, owner.email)
    buyers = httpx.AsyncClient(base_url=site.url, timeout=30)
    async with buyers:
        assert (await buyers.get(f"/e/{event.id}")).status_code == 404  # a draft is unseen
        board = await browser.get(f"/manage/events/{event.id}")
        assert 'value="publish"' in board.text and 'value="pause"' not in board.text and "Pier 9" in board.text

        url = f"/manage/events/{event.id}/status"
        published = await browser.post(url, data={"csrf_token": csrf, "action": "publish"})
        assert published.status_code == 303 and published.headers["location"].endswith("?done=published")
        board = await browser.get(published.headers["location"])
        assert "Event published" in board.text and 'value="pause"' in board.text
        assert (await buyers.get(f"/e/{event.id}")).status_code == 200

        stale = await browser.post(url, data={"csrf_token": csrf, "action": "publish"})
        assert stale.status_code == 409 and "Nothing was changed" in stale.text

        paused = await browser.post(url, data={"csrf_token": csrf, "action": "pause"})
        assert paused.status_code == 303
        assert (await events.get_event(site.box.db, event.id)).status == "sales_paused"
        assert (await buyers.get(f"/e/{event.id}")).status_code == 200  # the page stays visible
        with pytest.raises(SalesPaused):
            await site.box.payments.place_order(order_request(event.id, (tt.id, 1), email=unique_email()))

        resumed = await browser.post(url, data={"csrf_token": csrf, "action": "resume"})
        assert resumed.status_code == 303
        assert (await events.get_event(site.box.db, event.id)).status == "published"
        unknown = await browser.post(url, data={"csrf_token": csrf, "action": "explode"})
        assert unknown.status_code == 409
        assert (await events.get_event(site.box.db, event.id)).status == "published"


async def test_status_changes_are_refused_to_a_door_member_without_csrf_and_across_organizers(
    site: LiveServer, browser: httpx.AsyncClient
) -> None:
    owner = await member(site)
    event = await make_event(site.box.db, organizer=owner.organizer_email, status="draft")
    door = await member(site, role=Role.DOOR, organizer=owner.organizer_email)
    csrf = await sign_in(browser, door.email)
    url = f"/manage/events/{event.id}/status"
    assert (await browser.post(url, data={"csrf_token": csrf, "action": "publish"})).status_code == 403
    async with httpx.AsyncClient(base_url=site.url, timeout=30) as other_client:
        stranger = await member(site)
        other_csrf = await sign_in(other_client, stranger.email)
        assert (await other_client.post(url, data={"csrf_token": other_csrf, "action": "publish"})).status_code == 404
    async with httpx.AsyncClient(base_url=site.url, timeout=30) as owner_client:
        await sign_in(owner_client, owner.email)
        assert (await owner_client.post(url, data={"action": "publish"})).status_code == 403
    assert (await events.get_event(site.box.db, event.id)).status == "draft"


async def test_two_pauses_at_once_change_the_event_once(db: Database) -> None:
    event = await make_event(db, status="published")
    results = await asyncio.gather(
        *(events.change_status(db, event.id, "pause", organizer_id=event.organizer_id) for _ in range(2)),
        return_exceptions=True,
    )
    assert sum(isinstance(r, InvalidTransition) for r in results) == 1
    after = await events.get_event(db, event.id)
    assert after.status == "sales_paused" and after.revision == event.revision + 1
    with pytest.raises(NotFound):
        await events.change_status(db, event.id, "resume", organizer_id="per_someone_else")
