"""The console's attendees-and-questions page: the attendee details and the cut-off saved (in the event's time zone),
questions added with every field (options, required, per order or per ticket, ticket types, a condition) and refused
in words at their fields, the buyers' page then asking them, deletion refused while another question depends on one;
door members refused, another organizer's event not found, a form without its CSRF token refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest

from boxoffice.accounts.roles import Role
from boxoffice.attendees.questions import list_questions
from boxoffice.events import service as events
from tests.accounts.support import make_member, sign_in
from tests.helpers import make_event, make_ticket
from tests.server import LiveServer
from tests.web.pages.test_pages import assert_accessible


@pytest.fixture
async def browser(site: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=site.url, timeout=30) as client:
        yield client


async def test_attendee_details_and_questions_are_set_in_the_console(
    site: LiveServer, browser: httpx.AsyncClient
) -> None:
    db = site.box.db
    owner = await make_member(db, site.box.settings.secret_bytes, role=Role.MANAGER)
    event = await make_event(db, organizer=owner.organizer_email, timezone="Europe/Berlin")
    shirt = await make_ticket(db, event.id, title="With shirt", base_price_cents=0)
    await make_ticket(db, event.id, title="Plain", base_price_cents=0)
    csrf = await sign_in(browser, owner.email)
    url = f"/manage/events/{event.id}/questions"
    dashboard = await browser.get(f"/manage/events/{event.id}")
    assert f'href="{url}"' in dashboard.text
    empty = await browser.get(url)
    assert empty.status_code == 200 and "No questions yet" in empty.text

    bad = await browser.post(
        f"/manage/events/{event.id}/attendee-settings",
        data={"csrf_token": csrf, "attendee_details": "always", "changes_until": "next week"},
    )
    assert bad.status_code == 422
    assert "Please check the end of changes by buyers" in bad.text
    assert "Please choose one of the options offered for the attendee details" in bad.text
    assert (await events.get_event(db, event.id)).attendee_details == "off"  # nothing saved
    saved = await browser.post(
        f"/manage/events/{event.id}/attendee-settings",
        data={"csrf_token": csrf, "attendee_details": "required", "changes_until": "2030-03-14T18:00"},
    )
    assert saved.status_code == 303 and saved.headers["location"].endswith("done=settings")
    stored = await events.get_event(db, event.id)
    assert stored.attendee_details == "required"
    assert stored.changes_until == datetime(2030, 3, 14, 18, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    page = await browser.get(saved.headers["location"])
    assert "Attendee details saved" in page.text and 'value="2030-03-14T18:00"' in page.text

    refused = await browser.post(
        url, data={"csrf_token": csrf, "question_label": " ", "kind": "choice", "options": "S\nS", "scope": "ticket"}
    )
    assert refused.status_code == 422
    assert "Please enter the question" in refused.text and "Please offer each option once" in refused.text
    assert await list_questions(db, event.id) == []

    added = await browser.post(
        url,
        data={
            "csrf_token": csrf,
            "question_label": "T-shirt size",
            "kind": "choice",
            "options": "S\r\nM\r\n\r\nL",
            "required": "on",
            "scope": "ticket",
            "ticket_ids": shirt.id,
        },
    )
    assert added.status_code == 303 and added.headers["location"].endswith("done=added")
    company = await browser.post(
        url, data={"csrf_token": csrf, "question_label": "Company order?", "kind": "yes_no", "scope": "order"}
    )
    assert company.status_code == 303
    size_q, company_q = await list_questions(db, event.id)
    mismatch = await browser.post(
        url,
        data={
            "csrf_token": csrf,
            "question_label": "Why that size?",
            "kind": "text",
            "scope": "ticket",
            "condition_question": company_q.id,
            "condition_values": "yes",
        },
    )
    assert mismatch.status_code == 422 and "Please choose a question asked as often as this one" in mismatch.text
    vat = await browser.post(
        url,
        data={
            "csrf_token": csrf,
            "question_label": "VAT id",
            "kind": "text",
            "required": "on",
            "scope": "order",
            "condition_question": company_q.id,
            "condition_values": "yes",
        },
    )
    assert vat.status_code == 303
    size_q, company_q, vat_q = await list_questions(db, event.id)
    assert (size_q.kind, size_q.options, size_q.required, size_q.scope) == ("choice", ["S", "M", "L"], True, "ticket")
    assert size_q.ticket_type_ids == [shirt.id] and not company_q.required and company_q.scope == "order"
    assert vat_q.condition == {"question_id": company_q.id, "values": ["yes"]} and vat_q.required
    listed = await browser.get(url)
    assert_accessible(listed.text)
    assert_accessible(mismatch.text)  # with its errors
    assert listed.text.count("data-question=") == 3
    assert (
        "One choice: S, M, L" in listed.text and "With shirt" in listed.text and "Company order? is yes" in listed.text
    )

    public = (await site.client.get(f"/api/v1/events/{event.id}/questions")).json()
    assert public["attendee_details"] == "required"
    assert [q["id"] for q in public["questions"]] == [size_q.id, company_q.id, vat_q.id]

    # changed on its own page: the form shows it as stored, saves through the service, refuses in words
    edit = await browser.get(f"{url}/{size_q.id}")
    assert edit.status_code == 200 and 'value="T-shirt size"' in edit.text and ">S\nM\nL</textarea>" in edit.text
    assert_accessible(edit.text)
    fields = {
        "csrf_token": csrf,
        "question_label": "Shirt size",
        "kind": "choice",
        "options": "S\nM\nL\nXL",
        "scope": "ticket",
        "position": "5",
    }
    saved_q = await browser.post(f"{url}/{size_q.id}", data=fields)
    assert saved_q.status_code == 303 and saved_q.headers["location"].endswith("done=saved")
    changed = (await list_questions(db, event.id))[-1]  # position 5: asked last now
    assert (changed.id, changed.label, changed.options) == (size_q.id, "Shirt size", ["S", "M", "L", "XL"])
    assert not changed.required and changed.ticket_type_ids == [] and changed.position == 5  # unticked: all types
    pulled = await browser.post(
        f"{url}/{company_q.id}",
        data={"csrf_token": csrf, "question_label": "Company?", "kind": "text", "scope": "order", "position": "1"},
    )
    assert pulled.status_code == 422 and "Another question is asked on this one" in pulled.text
    assert {q.id: q.kind for q in await list_questions(db, event.id)}[company_q.id] == "yes_no"  # unchanged
    other_event = await make_event(db, organizer=owner.organizer_email)
    assert (await browser.get(f"/manage/events/{other_event.id}/questions/{size_q.id}")).status_code == 404

    blocked = await browser.post(f"{url}/{company_q.id}/delete", data={"csrf_token": csrf})
    assert blocked.status_code == 303 and blocked.headers["location"].endswith("problem=dependent")
    assert "Another question is asked on this one" in (await browser.get(blocked.headers["location"])).text
    assert len(await list_questions(db, event.id)) == 3
    no_token = await browser.post(f"{url}/{vat_q.id}/delete", data={})
    assert no_token.status_code == 403
    for question in (vat_q, company_q):
        gone = await browser.post(f"{url}/{question.id}/delete", data={"csrf_token": csrf})
        assert gone.status_code == 303 and gone.headers["location"].endswith("done=deleted")
    assert [q.id for q in await list_questions(db, event.id)] == [size_q.id]


async def test_door_members_and_other_organizers_are_refused(site: LiveServer, browser: httpx.AsyncClient) -> None:
    db = site.box.db
    owner = await make_member(db, site.box.settings.secret_bytes)
    event = await make_event(db, organizer=owner.organizer_email)
    door = await make_member(db, site.box.settings.secret_bytes, role=Role.DOOR, organizer=owner.organizer_email)
    csrf = await sign_in(browser, door.email)
    assert (await browser.get(f"/manage/events/{event.id}/questions")).status_code == 403
    added = await browser.post(
        f"/manage/events/{event.id}/questions", data={"csrf_token": csrf, "question_label": "Size", "kind": "text"}
    )
    assert added.status_code == 403
    async with httpx.AsyncClient(base_url=site.url, timeout=30) as other:
        other_csrf = await sign_in(other, (await make_member(db, site.box.settings.secret_bytes)).email)
        assert (await other.get(f"/manage/events/{event.id}/questions")).status_code == 404
        settings = await other.post(
            f"/manage/events/{event.id}/attendee-settings",
            data={"csrf_token": other_csrf, "attendee_details": "required"},
        )
        assert settings.status_code == 404
    assert (await events.get_event(db, event.id)).attendee_details == "off"
    assert await list_questions(db, event.id) == []
