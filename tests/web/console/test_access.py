"""The console's contract for pages other modules add (``web.console.access`` and ``render``): a page for owners
and managers refuses a door member (403), ``CsrfChecked`` and the route class refuse a POST without its token
before the endpoint runs, ``NotFound`` becomes a 404 page, an unexpected error a 500 page, and ``render`` gives
templates the member, the CSRF token and the navigation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import httpx
import pytest
from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse, Response

from boxoffice.accounts.roles import Role
from boxoffice.errors import NotFound
from boxoffice.web.app import create_app
from boxoffice.web.console.access import (
    ConsoleMember,
    ConsoleRoute,
    CsrfChecked,
    Member,
    OwnerOrManager,
    csrf_token,
    require,
)
from boxoffice.web.console.render import render
from tests.accounts.support import make_member, sign_in
from tests.server import LiveServer

calls: list[str] = []


def pages() -> APIRouter:
    router = APIRouter(route_class=ConsoleRoute)

    @router.get("/manage/probe/managers")
    async def managers(member: OwnerOrManager) -> Response:
        return PlainTextResponse(f"{member.role} of {member.organizer_id}")

    @router.post("/manage/probe/managers")
    async def change(member: Annotated[Member, Depends(require(Role.OWNER, Role.MANAGER))], _: CsrfChecked) -> Response:
        calls.append(member.email)
        return PlainTextResponse("changed")

    @router.get("/manage/probe/page")
    async def page(request: Request, member: ConsoleMember) -> Response:
        assert csrf_token(request)
        return render(request, "console/message.html", {"heading": "Probe", "message": csrf_token(request)})

    @router.get("/manage/probe/missing")
    async def missing(member: ConsoleMember) -> Response:
        raise NotFound("another organizer's thing")

    @router.get("/manage/probe/broken")
    async def broken(member: ConsoleMember) -> Response:
        raise RuntimeError("a bug")

    return router


def probe_client(site: LiveServer) -> httpx.AsyncClient:
    """A client of an app with the probe pages, sharing the live server's box and database."""
    app = create_app(box=site.box)
    app.include_router(pages())
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://console.test")


@asynccontextmanager
async def client_for(site: LiveServer, role: Role) -> AsyncIterator[tuple[httpx.AsyncClient, str, Member]]:
    """A probe client signed in as a new member with ``role``, its CSRF token and the member."""
    made = await make_member(site.box.db, site.box.settings.secret_bytes, role=role)
    async with probe_client(site) as client:
        token = await sign_in(client, made.email)
        yield client, token, Member(made.user_id, made.email, made.organizer_id, role)


@pytest.mark.parametrize("role", [Role.OWNER, Role.MANAGER])
async def test_owners_and_managers_pass(site: LiveServer, role: Role) -> None:
    async with client_for(site, role) as (client, token, member):
        page = await client.get("/manage/probe/managers")
        assert page.status_code == 200 and page.text == f"{role.value} of {member.organizer_id}"
        changed = await client.post("/manage/probe/managers", data={"csrf_token": token})
        assert changed.status_code == 200 and calls[-1] == member.email


async def test_a_door_member_is_refused_on_a_managers_page(site: LiveServer) -> None:
    async with client_for(site, Role.DOOR) as (client, token, member):
        page = await client.get("/manage/probe/managers")
        assert page.status_code == 403 and "Not allowed" in page.text
        refused = await client.post("/manage/probe/managers", data={"csrf_token": token})
        assert refused.status_code == 403 and member.email not in calls


async def test_a_post_without_its_token_never_reaches_the_endpoint(site: LiveServer) -> None:
    async with client_for(site, Role.OWNER) as (client, token, member):
        for data, headers in (({}, {}), ({"csrf_token": token + "x"}, {}), ({}, {"X-CSRF-Token": "nope"})):
            refused = await client.post("/manage/probe/managers", data=data, headers=headers)
            assert refused.status_code == 403 and "This form has expired" in refused.text
        assert member.email not in calls
        by_header = await client.post("/manage/probe/managers", headers={"X-CSRF-Token": token})
        assert by_header.status_code == 200 and calls[-1] == member.email


async def test_render_not_found_and_errors(site: LiveServer) -> None:
    async with client_for(site, Role.MANAGER) as (client, token, member):
        page = await client.get("/manage/probe/page")
        assert page.status_code == 200 and token in page.text and member.email in page.text
        assert 'href="/manage"' in page.text and 'href="/manage/team"' not in page.text  # a manager's navigation
        assert page.headers["cache-control"] == "no-store"
        missing = await client.get("/manage/probe/missing")
        assert missing.status_code == 404 and "Not found" in missing.text
        mangled = await client.get("/manage", params={"done": "x" * 100})
        assert mangled.status_code == 400 and "This link is not valid" in mangled.text
        broken = await client.get("/manage/probe/broken")
        assert broken.status_code == 500 and "Something went wrong" in broken.text and "a bug" not in broken.text
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(box=site.box)), base_url="http://x"
    ) as anon:
        app = anon._transport.app  # type: ignore[attr-defined]
        app.include_router(pages())
        away = await anon.get("/manage/probe/managers?x=1")
        assert (
            away.status_code == 303
            and away.headers["location"] == "/manage/sign-in?next=/manage/probe/managers%3Fx%3D1"
        )
