"""The event form's two times (a live server, SQLite): how long an order holds its tickets (5 to 30 minutes, empty:
the server's) and how long a waiting-list offer holds them (10 minutes to 7 days, empty: 24 hours). Stored as typed,
shown again on the edit form, taken back to the defaults by emptying them; a value out of range or not a whole number
is refused beside its field with the event unchanged; the waiting-list page links to the setting."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from boxoffice.events.service import get_event
from tests.accounts.support import make_member, sign_in
from tests.helpers import make_event
from tests.server import LiveServer


@pytest.fixture
async def browser(site: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=site.url, timeout=30) as client:
        yield client


def event_form(csrf: str, **fields: str) -> dict[str, Any]:
    base = {
        "csrf_token": csrf,
        "title": "Late Show",
        "timezone": "Europe/Berlin",
        "starts_at": "2031-05-01T20:00",
        "ends_at": "2031-05-01T23:00",
        "currency": "EUR",
    }
    return base | fields


def error_beside(page: httpx.Response, field: str) -> str:
    """The first error message shown beside ``field`` (empty when none)."""
    parts = page.text.split(f'id="{field}-error-1"><span class="visually-hidden">Error: </span>', 1)
    return parts[1].split("</p>", 1)[0] if len(parts) == 2 else ""


async def test_the_hold_and_the_offer_time_are_set_shown_and_taken_back_to_their_defaults(
    site: LiveServer, browser: httpx.AsyncClient
) -> None:
    owner = await make_member(site.box.db, site.box.settings.secret_bytes)
    csrf = await sign_in(browser, owner.email)
    new = await browser.get("/manage/events/new")
    assert 'id="hold_minutes"' in new.text and 'id="waiting_list_offer_minutes"' in new.text
    assert f"Empty: {site.box.settings.hold_minutes} minutes" in new.text

    plain = await browser.post("/manage/events/new", data=event_form(csrf))
    assert plain.status_code == 303
    event = await get_event(site.box.db, plain.headers["location"].split("/")[3].split("?")[0])
    assert (event.hold_minutes, event.waiting_list_offer_minutes) == (None, 1440)

    made = await browser.post(
        "/manage/events/new", data=event_form(csrf, hold_minutes=" 10 ", waiting_list_offer_minutes="90")
    )
    assert made.status_code == 303
    event_id = made.headers["location"].split("/")[3].split("?")[0]
    event = await get_event(site.box.db, event_id)
    assert (event.hold_minutes, event.waiting_list_offer_minutes) == (10, 90)
    edit = await browser.get(f"/manage/events/{event_id}/edit")
    assert 'name="hold_minutes" value="10"' in edit.text and 'name="waiting_list_offer_minutes" value="90"' in edit.text

    url = f"/manage/events/{event_id}/edit"
    changed = await browser.post(url, data=event_form(csrf, hold_minutes="5", waiting_list_offer_minutes="10080"))
    assert changed.status_code == 303
    event = await get_event(site.box.db, event_id)
    assert (event.hold_minutes, event.waiting_list_offer_minutes) == (5, 10080)
    emptied = await browser.post(url, data=event_form(csrf, hold_minutes="", waiting_list_offer_minutes=""))
    assert emptied.status_code == 303
    event = await get_event(site.box.db, event_id)
    assert (event.hold_minutes, event.waiting_list_offer_minutes) == (None, 1440)

    waiting = await browser.get(f"/manage/events/{event_id}/waiting-list")
    assert "for 24 hours" in waiting.text and f'href="/manage/events/{event_id}/edit#waiting_list_offer_minutes"' in (
        waiting.text
    )


HOLD_WORDS = "Please enter 5 to 30 minutes for the hold, or leave it empty for the server&#39;s"
OFFER_WORDS = "Please enter 10 to 10080 minutes (7 days) for the offer time"


@pytest.mark.parametrize(
    ("fields", "at", "words"),
    [
        ({"hold_minutes": "4"}, "hold_minutes", HOLD_WORDS),
        ({"hold_minutes": "31"}, "hold_minutes", HOLD_WORDS),
        ({"hold_minutes": "0"}, "hold_minutes", HOLD_WORDS),
        ({"hold_minutes": "ten"}, "hold_minutes", "Please enter the hold time in minutes as a whole number"),
        ({"hold_minutes": "-5"}, "hold_minutes", "Please enter the hold time in minutes as a whole number"),
        ({"waiting_list_offer_minutes": "9"}, "waiting_list_offer_minutes", OFFER_WORDS),
        ({"waiting_list_offer_minutes": "10081"}, "waiting_list_offer_minutes", OFFER_WORDS),
        ({"waiting_list_offer_minutes": "1.5"}, "waiting_list_offer_minutes", "the offer time in minutes as a whole"),
    ],
)
async def test_times_out_of_range_are_refused_beside_their_field_and_change_nothing(
    site: LiveServer, browser: httpx.AsyncClient, fields: dict[str, str], at: str, words: str
) -> None:
    owner = await make_member(site.box.db, site.box.settings.secret_bytes)
    event = await make_event(site.box.db, organizer=owner.organizer_email, title="Kept")
    csrf = await sign_in(browser, owner.email)

    created = await browser.post("/manage/events/new", data=event_form(csrf, title="Refused") | fields)
    assert created.status_code == 422 and words in error_beside(created, at), created.text[:3000]
    assert "The event was not saved" in created.text
    assert f'name="{at}" value="{fields[at]}"' in created.text  # what was typed, to correct
    assert f'aria-describedby="{at}-hint {at}-error-1" aria-invalid="true"' in created.text

    edited = await browser.post(f"/manage/events/{event.id}/edit", data=event_form(csrf, title="Changed") | fields)
    assert edited.status_code == 422 and words in error_beside(edited, at)
    kept = await get_event(site.box.db, event.id)
    assert (kept.title, kept.hold_minutes, kept.waiting_list_offer_minutes) == ("Kept", None, 1440)
    home = await browser.get("/manage")
    assert "Refused" not in home.text
