"""The console's check-in pages against a live Boxoffice: check-in lists (add with errors in words, edit, delete),
a list's recent check-ins with the flagged duplicate entry and the undo button, door devices (the pairing QR shown
once, the token scans, a revoked one is refused at once), a door member's own scanner token (it scans; it ends when
they sign out or leave the team), what a door member may not open, other organizers' things, CSRF, and the
dashboard's live check-in counts."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from boxoffice.accounts.roles import Role
from boxoffice.accounts.team import list_members
from boxoffice.checkin import lists
from boxoffice.checkin.models import CheckinDevice, CheckinList
from boxoffice.checkin.rules import Scanner
from boxoffice.checkin.scan import ScanRequest, scan
from boxoffice.clock import utcnow
from boxoffice.events.models import Event
from boxoffice.notifications.codes import ticket_code
from boxoffice.ticketing.models import Ticket
from tests.accounts.support import Member, make_member, sign_in
from tests.checkin.conftest import sell
from tests.helpers import make_event, make_ticket
from tests.server import LiveServer

PAIRING = re.compile(r"/door/#list=(cl_[0-9a-f]+)&amp;token=(bodev_[A-Za-z0-9_-]+)")


@pytest.fixture
async def browser(site: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=site.url, timeout=30) as client:
        yield client


async def member(site: LiveServer, **kw: Any) -> Member:
    return await make_member(site.box.db, site.box.settings.secret_bytes, **kw)


class Night:
    """An event of ``owner``'s organizer with two ticket types, three Standing and one VIP ticket sold."""

    def __init__(self, site: LiveServer, event: Event, standing: str, vip: str, tickets: list[Ticket]) -> None:
        self.site, self.event_id, self.standing, self.vip, self.tickets = site, event.id, standing, vip, tickets
        self.organizer = Scanner(organizer_id=event.organizer_id, can_manage=True, can_undo=True)

    def code(self, i: int) -> str:
        return ticket_code(self.tickets[i].id, 0, self.site.box.settings.secret_bytes)

    async def default_list(self) -> str:
        await lists.ensure_default_list(self.site.box.db, self.event_id)
        async with self.site.box.db.read() as session:
            found = await session.scalar(select(CheckinList.id).where(CheckinList.default_for_event == self.event_id))
        assert found is not None
        return found

    @property
    def url(self) -> str:
        return f"/manage/events/{self.event_id}/checkin"


async def night(site: LiveServer, owner: Member) -> Night:
    db = site.box.db
    event = await make_event(db, organizer=owner.organizer_email, title="Door Night")
    standing = await make_ticket(db, event.id, title="Standing", quantity=50)
    vip = await make_ticket(db, event.id, title="VIP", quantity=10)
    _, tickets = await sell(db, event.id, standing.id, 3, name="Ada Lovelace")
    _, more = await sell(db, event.id, vip.id, 1, name="Grace Hopper")
    return Night(site, event, standing.id, vip.id, [*tickets, *more])


async def scan_api(site: LiveServer, list_id: str, token: str, code: str) -> httpx.Response:
    return await site.client.post(
        f"/api/v1/checkin-lists/{list_id}/scans", json={"code": code}, headers={"Authorization": f"Bearer {token}"}
    )


async def test_lists_are_added_with_errors_in_words_edited_and_deleted(
    site: LiveServer, browser: httpx.AsyncClient
) -> None:
    manager = await member(site, role=Role.MANAGER)
    n = await night(site, manager)
    csrf = await sign_in(browser, manager.email)
    page = await browser.get(n.url)
    assert page.status_code == 200
    assert "Entrance" in page.text and "Every ticket type" in page.text
    default = await n.default_list()
    row = page.text.split(f'data-checkin-list="{default}"')[1].split("</li>")[0]
    assert '<span data-figure="checked_in">0</span> checked in of <span data-figure="total">4</span>' in row

    bad = await browser.post(
        f"{n.url}/lists",
        data={"csrf_token": csrf, "list_name": "", "opens_at": "2027-06-12T20:00", "closes_at": "2027-06-12T18:00"},
    )
    assert bad.status_code == 422
    assert "Please enter the list&#39;s name" in bad.text and "The list must close after it opens" in bad.text
    assert 'value="2027-06-12T20:00"' in bad.text  # what was typed is kept
    unreadable = await browser.post(
        f"{n.url}/lists", data={"csrf_token": csrf, "list_name": "VIP door", "opens_at": "tomorrow"}
    )
    assert unreadable.status_code == 422 and "Please check the opening time" in unreadable.text
    foreign = await browser.post(
        f"{n.url}/lists", data={"csrf_token": csrf, "list_name": "VIP door", "ticket_type_ids": "tt_nope"}
    )
    assert foreign.status_code == 422 and "Please choose among this event&#39;s ticket types" in foreign.text
    forged = await browser.post(f"{n.url}/lists", data={"list_name": "Sneaky"})  # no CSRF token
    assert forged.status_code == 403 and "This form has expired" in forged.text
    assert len(await lists.list_lists(site.box.db, n.event_id, n.organizer)) == 1  # nothing was added

    added = await browser.post(
        f"{n.url}/lists",
        data={
            "csrf_token": csrf,
            "list_name": "VIP door",
            "ticket_type_ids": n.vip,
            "opens_at": "2027-06-12T18:00",
            "closes_at": "2027-06-13T02:00",
        },
    )
    assert added.status_code == 303 and added.headers["location"] == f"{n.url}?done=created"
    (_, vip_list) = await lists.list_lists(site.box.db, n.event_id, n.organizer)
    assert vip_list.name == "VIP door" and vip_list.ticket_type_ids == [n.vip]
    assert vip_list.starts_at is not None and vip_list.starts_at.isoformat() == "2027-06-12T16:00:00+00:00"  # Berlin
    listed = await browser.get(n.url)
    vip_row = listed.text.split(f'data-checkin-list="{vip_list.id}"')[1].split("</li>")[0]
    assert "VIP" in vip_row and '<span data-figure="total">1</span>' in vip_row

    edit = await browser.get(f"{n.url}/lists/{vip_list.id}")
    assert edit.status_code == 200 and 'value="2027-06-12T18:00"' in edit.text
    saved = await browser.post(
        f"{n.url}/lists/{vip_list.id}",
        data={"csrf_token": csrf, "list_name": "Side door", "ticket_type_ids": [n.vip, n.standing]},
    )
    assert saved.status_code == 303
    changed, _ = await lists.get_list(site.box.db, vip_list.id, n.organizer)
    assert changed.name == "Side door" and set(changed.ticket_type_ids) == {n.vip, n.standing}
    assert changed.starts_at is None and changed.ends_at is None  # the window was emptied
    refused = await browser.post(f"{n.url}/lists/{vip_list.id}", data={"csrf_token": csrf, "list_name": " "})
    assert refused.status_code == 422 and "Please enter the list&#39;s name" in refused.text

    deleted = await browser.post(f"{n.url}/lists/{vip_list.id}/delete", data={"csrf_token": csrf})
    assert deleted.status_code == 303
    assert [lst.id for lst in await lists.list_lists(site.box.db, n.event_id, n.organizer)] == [default]
    assert (await browser.get(f"{n.url}/lists/{vip_list.id}")).status_code == 404


async def test_recent_checkins_flag_the_duplicate_entry_and_undo_lets_the_ticket_in_again(
    site: LiveServer, browser: httpx.AsyncClient
) -> None:
    owner = await member(site, role=Role.OWNER)
    n = await night(site, owner)
    default = await n.default_list()
    keys = site.box.settings.signing_keys
    first = await scan(
        site.box.db, default, ScanRequest(n.code(0), None, None, None, "Phone A"), n.organizer, keys=keys
    )
    earlier = utcnow() - timedelta(minutes=2)
    second = await scan(
        site.box.db, default, ScanRequest(n.code(0), None, "offline-1", earlier, "Phone B"), n.organizer, keys=keys
    )
    assert first.checkin is not None and second.duplicate and second.checkin is not None
    csrf = await sign_in(browser, owner.email)

    page = await browser.get(f"{n.url}/lists/{default}")
    assert page.status_code == 200
    doubled = page.text.split(f'data-checkin="{second.checkin.id}"')[1].split("</tr>")[0]
    assert 'data-duplicate="true"' in page.text.split(f'data-checkin="{second.checkin.id}"')[1][:40]
    assert "Duplicate entry" in doubled and "Phone B" in doubled and "Ada Lovelace" in doubled
    admitted = page.text.split(f'data-checkin="{first.checkin.id}"')[1].split("</tr>")[0]
    assert "Duplicate entry" not in admitted and "Phone A" in admitted
    assert "1 duplicate entry" in page.text
    only = await browser.get(f"{n.url}/lists/{default}?duplicates=1")
    assert second.checkin.id in only.text and first.checkin.id not in only.text

    undone = await browser.post(
        f"{n.url}/checkins/{first.checkin.id}/undo", data={"csrf_token": csrf, "list_id": default}
    )
    assert undone.status_code == 303 and undone.headers["location"] == f"{n.url}/lists/{default}?done=undone"
    after = await browser.get(undone.headers["location"])
    assert "Check-in undone" in after.text
    assert "Undone" in after.text.split(f'data-checkin="{first.checkin.id}"')[1].split("</tr>")[0]
    again = await scan(site.box.db, default, ScanRequest(n.code(0), None, None, None, ""), n.organizer, keys=keys)
    assert again.result.value == "ok"  # the ticket may enter again
    twice = await browser.post(
        f"{n.url}/checkins/{first.checkin.id}/undo", data={"csrf_token": csrf, "list_id": default}
    )
    assert twice.headers["location"].endswith("?problem=undone-already")
    assert "was undone already" in (await browser.get(twice.headers["location"])).text
    no_token = await browser.post(f"{n.url}/checkins/{again.checkin.id}/undo", data={"list_id": default})  # type: ignore[union-attr]
    assert no_token.status_code == 403 and "This form has expired" in no_token.text
    assert (await browser.get(f"{n.url}/lists/{default}")).text.count("Undone ") == 1


async def test_a_device_is_paired_once_scans_and_once_revoked_is_refused_at_once(
    site: LiveServer, browser: httpx.AsyncClient
) -> None:
    manager = await member(site, role=Role.MANAGER)
    n = await night(site, manager)
    default = await n.default_list()
    csrf = await sign_in(browser, manager.email)
    empty = await browser.get(f"{n.url}/devices")
    assert empty.status_code == 200 and "No paired devices yet" in empty.text
    blank = await browser.post(f"{n.url}/devices", data={"csrf_token": csrf, "label": "  ", "checkin_list_id": default})
    assert blank.status_code == 422 and "Please enter the device&#39;s name" in blank.text
    wrong = await browser.post(
        f"{n.url}/devices", data={"csrf_token": csrf, "label": "Gate 1", "checkin_list_id": "cl_elsewhere"}
    )
    assert wrong.status_code == 422 and "Please choose one of this event&#39;s check-in lists" in wrong.text

    created = await browser.post(
        f"{n.url}/devices", data={"csrf_token": csrf, "label": "North gate", "checkin_list_id": default}
    )
    assert created.status_code == 201 and created.headers["cache-control"] == "no-store"
    found = PAIRING.search(created.text)
    assert found is not None and found.group(1) == default
    token = found.group(2)
    assert 'class="qr"><g' in created.text and "shown only this once" in created.text
    assert f'value="{site.url}/door/#list={default}&amp;token={token}"' in created.text

    ok = await scan_api(site, default, token, n.code(1))
    assert ok.status_code == 201 and ok.json()["device"] == "North gate"
    listed = await browser.get(f"{n.url}/devices")
    assert "North gate" in listed.text and token not in listed.text  # never shown again
    async with site.box.db.read() as session:
        device = (await session.scalars(select(CheckinDevice).where(CheckinDevice.label == "North gate"))).one()
    assert device.last_used_at is not None
    row = listed.text.split(f'data-device="{device.id}"')[1].split("</tr>")[0]
    assert "never" not in row and "Entrance" in row

    revoked = await browser.post(f"{n.url}/devices/{device.id}/revoke", data={"csrf_token": csrf})
    assert revoked.status_code == 303
    refused = await scan_api(site, default, token, n.code(2))
    assert refused.status_code == 401
    shown = await browser.get(revoked.headers["location"])
    assert "Revoked: that token is refused" in shown.text and "revoked " in shown.text

    other_owner = await member(site, role=Role.OWNER)
    other = await night(site, other_owner)
    elsewhere = await browser.post(f"/manage/events/{other.event_id}/checkin/devices", data={"csrf_token": csrf})
    assert elsewhere.status_code == 404
    # a device of another event of the same organizer is not revoked through this event's page
    second = await night(site, manager)
    not_here = await browser.post(f"{second.url}/devices/{device.id}/revoke", data={"csrf_token": csrf})
    assert not_here.status_code == 404


async def test_a_door_member_opens_the_scanner_scans_and_sees_nothing_else(
    site: LiveServer, browser: httpx.AsyncClient
) -> None:
    owner = await member(site, role=Role.OWNER)
    door = await member(site, role=Role.DOOR, organizer=owner.organizer_email)
    n = await night(site, owner)
    default = await n.default_list()
    csrf = await sign_in(browser, door.email)

    home = await browser.get("/manage")
    assert f'href="{n.url}"' in home.text
    page = await browser.get(n.url)
    assert page.status_code == 200 and "Open the scanner" in page.text
    assert "Add a check-in list" not in page.text and "Door devices" not in page.text
    assert f'href="{n.url}/lists/{default}"' not in page.text

    no_csrf = await browser.post(f"{n.url}/lists/{default}/scanner")
    assert no_csrf.status_code == 403
    async with site.box.db.read() as session:
        assert await session.scalar(select(func.count()).where(CheckinDevice.label == door.email)) == 0
    opened = await browser.post(f"{n.url}/lists/{default}/scanner", data={"csrf_token": csrf})
    assert opened.status_code == 303
    location = opened.headers["location"]
    assert location.startswith(f"/door/#list={default}&token=bodev_")
    token = location.split("token=")[1]
    ok = await scan_api(site, default, token, n.code(0))
    assert ok.status_code == 201 and ok.json()["device"] == door.email
    copy = await site.client.get(
        f"/api/v1/checkin-lists/{default}/offline", headers={"Authorization": f"Bearer {token}"}
    )
    assert copy.status_code == 200
    # what the token may not do: the organizer's business
    for refused_call in (
        site.client.get(f"/api/v1/checkin-lists/{default}/checkins", headers={"Authorization": f"Bearer {token}"}),
        site.client.delete(f"/api/v1/checkins/{ok.json()['checkin_id']}", headers={"Authorization": f"Bearer {token}"}),
        site.client.get(f"/api/v1/events/{n.event_id}/orders", headers={"Authorization": f"Bearer {token}"}),
    ):
        assert (await refused_call).status_code in (401, 403)

    checkin_id = ok.json()["checkin_id"]
    for path in (
        f"/manage/events/{n.event_id}",
        f"/manage/events/{n.event_id}/orders",
        f"/manage/events/{n.event_id}/orders/{n.tickets[0].order_id}",
        f"/manage/events/{n.event_id}/attendees",
        f"{n.url}/lists/{default}",
        f"{n.url}/devices",
    ):
        assert (await browser.get(path)).status_code == 403, path
    for path, data in (
        (f"/manage/events/{n.event_id}/orders/{n.tickets[0].order_id}/refund", {}),
        (f"{n.url}/lists", {"list_name": "Mine"}),
        (f"{n.url}/lists/{default}/delete", {}),
        (f"{n.url}/checkins/{checkin_id}/undo", {"list_id": default}),
        (f"{n.url}/devices", {"label": "Mine", "checkin_list_id": default}),
    ):
        answer = await browser.post(path, data={"csrf_token": csrf, **data})
        assert answer.status_code in (403, 404), path
    assert len(await lists.list_lists(site.box.db, n.event_id, n.organizer)) == 1

    other = await night(site, await member(site, role=Role.OWNER))
    assert (await browser.get(other.url)).status_code == 404
    foreign = await browser.post(f"{other.url}/lists/{await other.default_list()}/scanner", data={"csrf_token": csrf})
    assert foreign.status_code == 404
    mixed = await browser.post(f"{n.url}/lists/{await other.default_list()}/scanner", data={"csrf_token": csrf})
    assert mixed.status_code == 404  # another organizer's list under this event's address

    signed_out = await browser.post("/manage/sign-out", data={"csrf_token": csrf})
    assert signed_out.status_code == 303
    assert (await scan_api(site, default, token, n.code(1))).status_code == 401  # it ended with the session


async def test_a_door_members_scanner_ends_when_they_leave_the_team(
    site: LiveServer, browser: httpx.AsyncClient
) -> None:
    owner = await member(site, role=Role.OWNER)
    door = await member(site, role=Role.DOOR, organizer=owner.organizer_email)
    n = await night(site, owner)
    default = await n.default_list()
    door_csrf = await sign_in(browser, door.email)
    token = (
        (await browser.post(f"{n.url}/lists/{default}/scanner", data={"csrf_token": door_csrf}))
        .headers["location"]
        .split("token=")[1]
    )
    assert (await scan_api(site, default, token, n.code(0))).status_code == 201

    async with httpx.AsyncClient(base_url=site.url, timeout=30) as owners:
        csrf = await sign_in(owners, owner.email)
        devices_page = await owners.get(f"{n.url}/devices")
        assert "Team members' scanners" in devices_page.text and door.email in devices_page.text
        (membership,) = [m for m in await list_members(site.box.db, owner.organizer_id) if m.email == door.email]
        removed = await owners.post(f"/manage/team/{membership.membership_id}/remove", data={"csrf_token": csrf})
        assert removed.status_code == 303
        assert (await scan_api(site, default, token, n.code(1))).status_code == 401
        assert door.email not in (await owners.get(f"{n.url}/devices")).text  # no longer open


async def test_the_dashboard_shows_the_counts_and_its_stream_sends_them_after_a_scan(
    site: LiveServer, browser: httpx.AsyncClient
) -> None:
    manager = await member(site, role=Role.MANAGER)
    n = await night(site, manager)
    default = await n.default_list()
    await sign_in(browser, manager.email)
    board = await browser.get(f"/manage/events/{n.event_id}")
    row = board.text.split(f'data-checkin-list="{default}"')[1].split("</tr>")[0]
    assert '<span data-figure="checked_in">0</span> of <span data-figure="total">4</span>' in row

    async def counts(lines: AsyncIterator[str]) -> dict[str, Any]:
        name = ""
        async for line in lines:
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: ") and name == "checkin.counts":
                return dict(json.loads(line[6:]))
        raise AssertionError("the stream ended")

    async with browser.stream("GET", f"/manage/events/{n.event_id}/stream") as stream:
        lines = stream.aiter_lines()
        first = await counts(lines)
        assert first["lists"] == [{"id": default, "checked_in": 0, "duplicates": 0, "total": 4}]
        keys = site.box.settings.signing_keys
        await scan(site.box.db, default, ScanRequest(n.code(3), None, None, None, ""), n.organizer, keys=keys)
        later = await counts(lines)
        assert later["lists"] == [{"id": default, "checked_in": 1, "duplicates": 0, "total": 4}]
