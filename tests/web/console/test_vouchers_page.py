"""The vouchers page: codes listed with their terms, uses and what remains; one code added, or generated codes with a
prefix downloaded as CSV; the service's refusals shown beside their fields with nothing stored; edit and delete
(a used voucher too); door members refused, another organizer's event and vouchers not found, a form without its
CSRF token refused."""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from boxoffice.accounts.roles import Role
from boxoffice.ticketing.reserve import reserve
from boxoffice.ticketing.voucher_codes import list_vouchers
from tests.accounts.support import Member, make_member, sign_in
from tests.helpers import make_event, make_ticket, order_request
from tests.server import LiveServer


@pytest.fixture
async def browser(site: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=site.url, timeout=30) as client:
        yield client


async def member(site: LiveServer, **kw: Any) -> Member:
    return await make_member(site.box.db, site.box.settings.secret_bytes, **kw)


async def shop(site: LiveServer, organizer: str) -> tuple[str, str, str]:
    """An event (in euros) with a visible ticket type (20 EUR, 10 tickets) and a hidden "Crew" one."""
    event = await make_event(site.box.db, organizer=organizer, currency="eur")
    general = await make_ticket(site.box.db, event.id, title="General", base_price_cents=2000, quantity=10)
    crew = await make_ticket(site.box.db, event.id, title="Crew", base_price_cents=2000, quantity=5, hidden=True)
    return event.id, general.id, crew.id


def form(csrf: str, **fields: Any) -> dict[str, Any]:
    base = {"csrf_token": csrf, "code": "", "discount_kind": "", "discount_value": "", "max_uses": "", "reserve": ""}
    return {**base, **fields}


def row_of(page: httpx.Response, code: str) -> str:
    """The table row of ``code`` (its cells' text, tags kept)."""
    start = page.text.index(f">{code}</a>")
    return page.text[page.text.rindex("<tr", 0, start) : page.text.index("</tr>", start)]


async def test_owner_adds_edits_and_deletes_vouchers_and_sees_their_uses(
    site: LiveServer, browser: httpx.AsyncClient
) -> None:
    owner = await member(site)
    event_id, general, crew = await shop(site, owner.organizer_email)
    csrf = await sign_in(browser, owner.email)
    url = f"/manage/events/{event_id}/vouchers"
    empty = await browser.get(url)
    assert empty.status_code == 200 and "No vouchers yet." in empty.text

    made = await browser.post(
        url,
        data=form(csrf, code="Members20", discount_kind="percent", discount_value="20", max_uses="10")
        | {"ticket_ids": [general]},
    )
    assert made.status_code == 303 and made.headers["location"].endswith("done=created")
    access = await browser.post(
        url, data=form(csrf, code="CREW", discount_kind="price", discount_value="0") | {"unlocks": [crew]}
    )
    assert access.status_code == 303
    page = await browser.get(url)
    members = row_of(page, "Members20")
    assert "20% off" in members and "General" in members and "0 / 10" in members and "<td>10</td>" in members
    crew_row = row_of(page, "CREW")
    assert "free" in crew_row and "only what it unlocks" in crew_row and "Crew" in crew_row

    placed = await reserve(site.box.db, dataclasses.replace(order_request(event_id, (general, 2)), voucher="members20"))
    assert placed.total_cents == 2 * 1600
    members = row_of(await browser.get(url), "Members20")
    assert "2 / 10" in members and "<td>8</td>" in members

    (voucher,) = [v for v in await list_vouchers(site.box.db, event_id) if v.code == "Members20"]
    edit_url = f"{url}/{voucher.id}"
    shown = await browser.get(edit_url)
    assert shown.status_code == 200 and 'value="Members20"' in shown.text and 'value="20"' in shown.text
    assert "Used for 2 tickets" in shown.text and "those orders keep their prices" in shown.text
    edited = form(csrf, code="Members20", discount_kind="percent", discount_value="20") | {"ticket_ids": [general]}
    too_low = await browser.post(edit_url, data=edited | {"max_uses": "1"})
    assert too_low.status_code == 422
    assert 'id="max_uses-error-1"' in too_low.text and "Please enter at least 2 for the most uses" in too_low.text
    assert (await list_vouchers(site.box.db, event_id))[0].max_uses == 10  # nothing changed
    saved = await browser.post(edit_url, data=edited | {"max_uses": "5", "discount_value": "25"})
    assert saved.status_code == 303
    members = row_of(await browser.get(url), "Members20")
    assert "25% off" in members and "2 / 5" in members and "<td>3</td>" in members

    (crew_code,) = [v for v in await list_vouchers(site.box.db, event_id) if v.code == "CREW"]
    assert (await browser.post(f"{url}/{crew_code.id}/delete", data={"csrf_token": csrf})).status_code == 303
    gone = await browser.post(f"{edit_url}/delete", data={"csrf_token": csrf})  # used: kept for its orders, hidden
    assert gone.status_code == 303
    after = await browser.get(gone.headers["location"])
    assert "Voucher deleted" in after.text and "No vouchers yet." in after.text
    assert await list_vouchers(site.box.db, event_id) == []
    assert (await browser.get(edit_url)).status_code == 404


async def test_generated_codes_are_listed_and_downloaded_as_csv(site: LiveServer, browser: httpx.AsyncClient) -> None:
    owner = await member(site)
    event_id, _general, _crew = await shop(site, owner.organizer_email)
    csrf = await sign_in(browser, owner.email)
    url = f"/manage/events/{event_id}/vouchers"
    await browser.post(url, data=form(csrf, code="SPONSOR", discount_kind="amount", discount_value="5.00"))
    made = await browser.post(
        url, data=form(csrf, count="5", prefix="VIP-", discount_kind="percent", discount_value="100", max_uses="1")
    )
    assert made.status_code == 303
    page = await browser.get(made.headers["location"])
    batch = made.headers["location"].split("batch=")[1]
    assert f"vouchers.csv?batch={batch}" in page.text and page.text.count(">VIP-") == 5
    answer = await browser.get(f"{url}.csv", params={"batch": batch})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert answer.headers["content-disposition"] == f'attachment; filename="vouchers-{event_id}.csv"'
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert len(rows) == 5 and all(r["code"].startswith("VIP-") and len(r["code"]) == 14 for r in rows)
    assert {(r["discount"], r["max_uses"], r["uses"], r["remaining"], r["batch"]) for r in rows} == {
        ("100% off", "1", "0", "1", batch)
    }
    everything = list(csv.DictReader(io.StringIO((await browser.get(f"{url}.csv")).text)))
    assert len(everything) == 6 and {"€5.00 off each ticket"} == {
        r["discount"] for r in everything if r["code"] == "SPONSOR"
    }


@pytest.mark.parametrize(
    ("fields", "at", "words"),
    [
        ({"code": "x!"}, "code", "Please use 3 to 64 letters, digits"),
        ({}, "code", "Please enter a code, or a number of codes to generate"),
        ({"code": "TWO", "count": "2"}, "code", "Please enter a code, or a number of codes to generate"),
        ({"count": "1001"}, "count", "Please enter at most 1000 for the number of codes"),
        ({"count": "3", "prefix": "no spaces"}, "prefix", "Please use up to 20 letters"),
        ({"code": "PCT", "discount_kind": "percent", "discount_value": "150"}, "discount_value", "at most 100"),
        ({"code": "PCT", "discount_kind": "percent", "discount_value": "ten"}, "discount_value", "whole number"),
        ({"code": "NOKIND", "discount_value": "10"}, "discount_kind", "Please choose the kind of discount"),
        ({"code": "RES", "reserve": "2"}, "reserve", "tick exactly one ticket type"),
        ({"code": "RES", "reserve": "3", "max_uses": "2", "ticket_ids": ["GENERAL"]}, "reserve", "at most 2 tickets"),
        ({"code": "RES", "reserve": "11", "ticket_ids": ["GENERAL"]}, "reserve", "Only 10 tickets can be set aside"),
        (
            {"code": "LATE", "valid_from": "2027-05-02T10:00", "valid_until": "2027-05-01T10:00"},
            "valid_until",
            "The end of validity must be after its start",
        ),
        ({"code": "taken"}, "code", "already has a voucher with this code"),
        ({"code": "BAD-ID", "ticket_ids": ["tt_forged"]}, "ticket_ids", "Please choose among the event"),
    ],
)
async def test_refusals_are_shown_beside_their_fields_and_store_nothing(
    site: LiveServer, browser: httpx.AsyncClient, fields: dict[str, Any], at: str, words: str
) -> None:
    owner = await member(site)
    event_id, general, _crew = await shop(site, owner.organizer_email)
    csrf = await sign_in(browser, owner.email)
    url = f"/manage/events/{event_id}/vouchers"
    assert (await browser.post(url, data=form(csrf, code="TAKEN"))).status_code == 303
    sent = {
        k: ([general if v == "GENERAL" else v for v in value] if isinstance(value, list) else value)
        for k, value in fields.items()
    }
    answer = await browser.post(url, data=form(csrf) | sent)
    assert answer.status_code == 422, answer.text[:500]
    error = answer.text.split(f'id="{at}-error-1">', 1)
    assert len(error) == 2 and words in error[1].split("</p>", 1)[0], answer.text[:3000]
    assert "The voucher was not added" in answer.text
    assert [v.code for v in await list_vouchers(site.box.db, event_id)] == ["TAKEN"]


async def test_door_members_other_organizers_and_forms_without_their_token_are_refused(
    site: LiveServer, browser: httpx.AsyncClient
) -> None:
    owner = await member(site)
    event_id, _general, _crew = await shop(site, owner.organizer_email)
    async with httpx.AsyncClient(base_url=site.url, timeout=30) as own:
        csrf = await sign_in(own, owner.email)
        url = f"/manage/events/{event_id}/vouchers"
        assert (await own.post(url, data=form(csrf, code="KEEP"))).status_code == 303
        forged = await own.post(url, data=form("not-the-token", code="FORGED"))
        assert forged.status_code == 403 and "Nothing was changed" in forged.text
    (kept,) = await list_vouchers(site.box.db, event_id)
    door = await member(site, role=Role.DOOR, organizer=owner.organizer_email)
    door_csrf = await sign_in(browser, door.email)
    assert (await browser.get(url)).status_code == 403
    assert (await browser.get(f"{url}.csv")).status_code == 403
    assert (await browser.post(url, data=form(door_csrf, code="DOOR"))).status_code == 403
    async with httpx.AsyncClient(base_url=site.url, timeout=30) as other:
        other_csrf = await sign_in(other, (await member(site)).email)
        assert (await other.get(url)).status_code == 404
        assert (await other.get(f"{url}.csv")).status_code == 404
        assert (await other.get(f"{url}/{kept.id}")).status_code == 404
        assert (await other.post(f"{url}/{kept.id}/delete", data={"csrf_token": other_csrf})).status_code == 404
        assert (await other.post(url, data=form(other_csrf, code="THEIRS"))).status_code == 404
    assert [v.code for v in await list_vouchers(site.box.db, event_id)] == ["KEEP"]
