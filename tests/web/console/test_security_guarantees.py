"""What the security review's findings must hold now: an open live stream ends as soon as its credentials stop
working (a door device revoked, a member signed out or removed from the team, an API key revoked), for the check-in
API's stream and the console dashboard's; a password link's secret never reaches the logs; a burst of sign-ins
cannot check more passwords than the limit allows."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from boxoffice.accounts import throttle, users
from boxoffice.accounts.models import SignInFailure
from boxoffice.accounts.roles import Role
from boxoffice.accounts.service import create_api_key
from boxoffice.accounts.team import list_members
from boxoffice.accounts.users import TokenPurpose, issue_token
from boxoffice.checkin import devices
from boxoffice.checkin.scan import ScanRequest, scan
from boxoffice.web.clients import address_key
from tests.accounts.support import csrf_of, sign_in
from tests.server import LiveServer
from tests.web.console.test_checkin_pages import Night, member, night, scan_api


async def _next(lines: AsyncIterator[str], wanted: str) -> dict[str, Any]:
    name = ""
    async for line in lines:
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: ") and name == wanted:
            return dict(json.loads(line[6:]))
    raise AssertionError("the stream ended")


async def _rest(lines: AsyncIterator[str]) -> list[str]:
    """Every event the stream still sends until it ends (a stream that does not end fails the wait)."""
    return [line[7:] async for line in lines if line.startswith("event: ")]


async def _check_in(site: LiveServer, n: Night, list_id: str, i: int) -> None:
    request = ScanRequest(n.code(i), None, None, None, "")
    await scan(site.box.db, list_id, request, n.organizer, keys=site.box.settings.signing_keys)


async def test_a_revoked_devices_open_stream_ends_before_the_next_checkin(site: LiveServer) -> None:
    manager = await member(site, role=Role.MANAGER)
    n = await night(site, manager)
    default = await n.default_list()
    created = await devices.create_device(site.box.db, n.event_id, "Lost phone", n.organizer, list_id=default)
    auth = {"Authorization": f"Bearer {created.token}"}
    async with site.client.stream("GET", f"/api/v1/checkin-lists/{default}/stream", headers=auth) as stream:
        assert stream.status_code == 200
        lines = stream.aiter_lines()
        await asyncio.wait_for(_next(lines, "checkin.status"), 10)
        await site.box.devices.revoke(created.device.id, n.organizer)
        assert (await scan_api(site, default, created.token, n.code(0))).status_code == 401
        await _check_in(site, n, default, 1)
        rest = await asyncio.wait_for(_rest(lines), 10)
    assert "checkin.created" not in rest and "checkin.status" not in rest  # nothing more: it ended


async def test_a_revoked_api_keys_open_stream_ends(site: LiveServer) -> None:
    owner = await member(site, role=Role.OWNER)
    n = await night(site, owner)
    default = await n.default_list()
    key, raw = await create_api_key(site.box.db, owner.organizer_email, name="script")
    auth = {"Authorization": f"Bearer {raw}"}
    async with site.client.stream("GET", f"/api/v1/checkin-lists/{default}/stream", headers=auth) as stream:
        lines = stream.aiter_lines()
        await asyncio.wait_for(_next(lines, "checkin.status"), 10)
        await _check_in(site, n, default, 0)  # while the key works, check-ins arrive
        assert (await asyncio.wait_for(_next(lines, "checkin.created"), 10))["ticket_id"] == n.tickets[0].id
        assert (await site.client.delete(f"/api/v1/api-keys/{key.id}", headers=auth)).status_code == 204
        await _check_in(site, n, default, 1)
        rest = await asyncio.wait_for(_rest(lines), 10)
    assert "checkin.created" not in rest


async def test_a_door_members_stream_ends_with_their_sign_out(site: LiveServer) -> None:
    owner = await member(site, role=Role.OWNER)
    door = await member(site, role=Role.DOOR, organizer=owner.organizer_email)
    n = await night(site, owner)
    default = await n.default_list()
    async with httpx.AsyncClient(base_url=site.url, timeout=30) as browser:
        csrf = await sign_in(browser, door.email)
        opened = await browser.post(f"{n.url}/lists/{default}/scanner", data={"csrf_token": csrf})
        token = opened.headers["location"].split("token=")[1]
        auth = {"Authorization": f"Bearer {token}"}
        async with site.client.stream("GET", f"/api/v1/checkin-lists/{default}/stream", headers=auth) as stream:
            lines = stream.aiter_lines()
            await asyncio.wait_for(_next(lines, "checkin.status"), 10)
            assert (await browser.post("/manage/sign-out", data={"csrf_token": csrf})).status_code == 303
            assert (await scan_api(site, default, token, n.code(0))).status_code == 401
            await _check_in(site, n, default, 1)
            rest = await asyncio.wait_for(_rest(lines), 10)
    assert "checkin.created" not in rest


async def test_the_dashboards_stream_ends_with_sign_out(site: LiveServer) -> None:
    manager = await member(site, role=Role.MANAGER)
    n = await night(site, manager)
    default = await n.default_list()
    async with httpx.AsyncClient(base_url=site.url, timeout=30) as browser:
        csrf = await sign_in(browser, manager.email)
        async with browser.stream("GET", f"/manage/events/{n.event_id}/stream") as stream:
            assert stream.status_code == 200
            lines = stream.aiter_lines()
            await asyncio.wait_for(_next(lines, "checkin.counts"), 10)
            await _check_in(site, n, default, 0)  # while signed in, the counts follow
            counts = await asyncio.wait_for(_next(lines, "checkin.counts"), 10)
            assert [c["checked_in"] for c in counts["lists"] if c["id"] == default] == [1]
            assert (await browser.post("/manage/sign-out", data={"csrf_token": csrf})).status_code == 303
            await _check_in(site, n, default, 1)
            rest = await asyncio.wait_for(_rest(lines), 10)
    assert "checkin.created" not in rest and "checkin.counts" not in rest


async def test_the_dashboards_stream_ends_when_its_member_leaves_the_team(site: LiveServer) -> None:
    owner = await member(site, role=Role.OWNER)
    manager = await member(site, role=Role.MANAGER, organizer=owner.organizer_email)
    n = await night(site, owner)
    default = await n.default_list()
    async with (
        httpx.AsyncClient(base_url=site.url, timeout=30) as browser,
        httpx.AsyncClient(base_url=site.url, timeout=30) as owners,
    ):
        await sign_in(browser, manager.email)
        csrf = await sign_in(owners, owner.email)
        async with browser.stream("GET", f"/manage/events/{n.event_id}/stream") as stream:
            lines = stream.aiter_lines()
            await asyncio.wait_for(_next(lines, "checkin.counts"), 10)
            (membership,) = [m for m in await list_members(site.box.db, owner.organizer_id) if m.email == manager.email]
            removed = await owners.post(f"/manage/team/{membership.membership_id}/remove", data={"csrf_token": csrf})
            assert removed.status_code == 303
            await _check_in(site, n, default, 0)
            rest = await asyncio.wait_for(_rest(lines), 10)
    assert "checkin.counts" not in rest


async def test_a_password_links_secret_never_reaches_the_log_when_its_form_is_refused(
    site: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    someone = await member(site, role=Role.OWNER)
    async with site.box.db.transaction() as session:
        _, raw = await issue_token(session, someone.user_id, TokenPurpose.RESET, site.box.settings.secret_bytes)
    caplog.set_level(logging.DEBUG, logger="boxoffice")
    # the owner of the link, whose bo_csrf cookie is gone (another browser, a restart): the form is refused
    async with httpx.AsyncClient(base_url=site.url, timeout=30) as fresh:
        refused = await fresh.post(
            f"/manage/password/{raw}", data={"password": "x" * 12, "password_confirm": "x" * 12, "csrf_token": "?"}
        )
    assert refused.status_code == 403
    refusals = [r for r in caplog.records if "CSRF" in r.getMessage()]
    assert [getattr(r, "path", None) for r in refusals] == ["/manage/password/{token}"]  # the route, not the link
    assert not [r for r in caplog.records if raw in repr(vars(r)) or raw in r.getMessage()]
    assert (await users.check_link(site.box.db, raw)).purpose == TokenPurpose.RESET  # unused: it still works


async def _open_scanner(browser: httpx.AsyncClient, n: Night, list_id: str, csrf: str) -> httpx.Response:
    return await browser.post(f"{n.url}/lists/{list_id}/scanner", data={"csrf_token": csrf})


async def test_a_revoked_members_scanner_signs_that_console_out_so_it_cannot_open_another(site: LiveServer) -> None:
    owner = await member(site, role=Role.OWNER)
    door = await member(site, role=Role.DOOR, organizer=owner.organizer_email)
    n = await night(site, owner)
    default = await n.default_list()
    async with (
        httpx.AsyncClient(base_url=site.url, timeout=30) as phone,
        httpx.AsyncClient(base_url=site.url, timeout=30) as owners,
    ):
        csrf = await sign_in(phone, door.email)
        token = (await _open_scanner(phone, n, default, csrf)).headers["location"].split("token=")[1]
        (device,) = await devices.open_member_scanners(site.box.db, n.event_id, n.organizer)
        owner_csrf = await sign_in(owners, owner.email)
        revoked = await owners.post(f"{n.url}/devices/{device.id}/revoke", data={"csrf_token": owner_csrf})
        assert revoked.status_code == 303
        assert (await scan_api(site, default, token, n.code(0))).status_code == 401
        again = await _open_scanner(phone, n, default, csrf)  # refused: its session (and so its token) is gone
        assert again.status_code == 403 and "token=" not in again.headers.get("location", "")
        assert (await phone.get(n.url)).headers["location"].startswith("/manage/sign-in")
        assert await devices.open_member_scanners(site.box.db, n.event_id, n.organizer) == []


async def test_signing_in_again_ends_the_old_sessions_scanner_at_once(site: LiveServer) -> None:
    door = await member(site, role=Role.DOOR)
    n = await night(site, await member(site, role=Role.OWNER, organizer=door.organizer_email))
    default = await n.default_list()
    async with httpx.AsyncClient(base_url=site.url, timeout=30) as phone:
        csrf = await sign_in(phone, door.email)
        token = (await _open_scanner(phone, n, default, csrf)).headers["location"].split("token=")[1]
        assert (await scan_api(site, default, token, n.code(0))).status_code == 201  # now cached in this process
        form = await phone.get("/manage/sign-in?done=signed-out")  # the form, while still signed in
        data = {"csrf_token": csrf_of(form), "email": door.email, "password": door.password}
        assert (await phone.post("/manage/sign-in", data=data)).status_code == 303  # a new session; the old one ends
        assert (await scan_api(site, default, token, n.code(1))).status_code == 401


async def test_a_new_password_ends_the_users_scanners_at_once(site: LiveServer) -> None:
    door = await member(site, role=Role.DOOR)
    n = await night(site, await member(site, role=Role.OWNER, organizer=door.organizer_email))
    default = await n.default_list()
    async with httpx.AsyncClient(base_url=site.url, timeout=30) as phone:
        csrf = await sign_in(phone, door.email)
        token = (await _open_scanner(phone, n, default, csrf)).headers["location"].split("token=")[1]
        assert (await scan_api(site, default, token, n.code(0))).status_code == 201
    async with site.box.db.transaction() as session:
        _, raw = await issue_token(session, door.user_id, TokenPurpose.RESET, site.box.settings.secret_bytes)
    async with httpx.AsyncClient(base_url=site.url, timeout=30) as laptop:
        form = await laptop.get(f"/manage/password/{raw}")
        new = "a brand new password"
        data = {"csrf_token": csrf_of(form), "password": new, "password_confirm": new}
        assert (await laptop.post(f"/manage/password/{raw}", data=data)).status_code == 303
    assert (await scan_api(site, default, token, n.code(1))).status_code == 401


# last: it uses up some of the per-address attempts of 127.0.0.1 for the module's server
async def test_a_burst_of_wrong_passwords_gets_429_past_the_limit_and_so_does_the_right_one(site: LiveServer) -> None:
    victim = await member(site, role=Role.OWNER)
    limit = site.box.settings.sign_in_failures_per_account
    before = await _address_attempts(site)
    clients = [httpx.AsyncClient(base_url=site.url, timeout=60) for _ in range(4 * limit)]
    try:
        tokens = [csrf_of(await c.get("/manage/sign-in")) for c in clients]

        async def guess(c: httpx.AsyncClient, token: str, password: str) -> httpx.Response:
            return await c.post(
                "/manage/sign-in", data={"csrf_token": token, "email": victim.email, "password": password}
            )

        answers = await asyncio.gather(
            *(guess(c, t, f"wrong guess {i}") for i, (c, t) in enumerate(zip(clients, tokens, strict=True)))
        )
        right = await guess(clients[0], tokens[0], victim.password)
    finally:
        for c in clients:
            await c.aclose()
    codes = [a.status_code for a in answers]
    # limit - 1 plain refusals; the failure that reaches the limit and every attempt past it: 429, untried
    assert codes.count(401) == limit - 1 and codes.count(429) == len(codes) - (limit - 1)
    assert all(int(a.headers["Retry-After"]) > 0 for a in answers if a.status_code == 429)
    assert right.status_code == 429 and int(right.headers["Retry-After"]) > 0
    # only the attempts the account's limit let through reached the password check (and the address's count)
    assert await _address_attempts(site) - before == limit


async def _address_attempts(site: LiveServer) -> int:
    key = throttle.address_throttle_key(address_key(site.box.settings.secret_bytes, "127.0.0.1"))
    async with site.box.db.read() as session:
        found = await session.scalar(select(SignInFailure.failures).where(SignInFailure.key == key))
    return int(found or 0)
