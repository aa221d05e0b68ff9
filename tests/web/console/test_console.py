"""The console over HTTP (a live server, SQLite): sign-in and its cookie, throttling, CSRF refusals that change
nothing, role refusals, another organizer's things answering 404, the team (invitations by email, roles, the last
owner), password reset by email, the organizer chooser, sign-out, API keys, and the landing page."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from boxoffice.accounts.roles import Role
from boxoffice.accounts.service import create_api_key, list_api_keys
from boxoffice.web.console.access import SESSION_COOKIE, secure_cookies
from tests.accounts.support import PASSWORD, Member, csrf_of, make_member, sign_in
from tests.helpers import eventually, make_event, unique_email
from tests.server import LiveServer


@pytest.fixture
async def browser(site: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    """A client with a cookie jar of its own (one browser)."""
    async with httpx.AsyncClient(base_url=site.url, timeout=30) as client:
        yield client


async def member(site: LiveServer, **kw: Any) -> Member:
    return await make_member(site.box.db, site.box.settings.secret_bytes, **kw)


def mail_to(site: LiveServer, address: str) -> list[EmailMessage]:
    found = []
    for path in sorted(Path(site.box.settings.mail_dir).glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        if str(message["To"]) == address:
            found.append(message)
    return found


def link_in(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    found = re.search(r"http://\S+/manage/password/\S+", body.get_content())
    assert found is not None, body.get_content()
    return found.group(0)


async def test_the_landing_page_points_organizers_to_sign_in_and_buyers_to_event_links(site: LiveServer) -> None:
    answer = await site.client.get("/")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    assert 'href="/manage/sign-in"' in answer.text and "/e/" in answer.text


async def test_console_pages_send_strangers_to_sign_in_and_back(site: LiveServer, browser: httpx.AsyncClient) -> None:
    for path in ("/manage", "/manage/team", "/manage/api-keys?x=1", "/manage/organizers"):
        answer = await browser.get(path)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/manage/sign-in?next=/manage")
    owner = await member(site)
    form = await browser.get("/manage/sign-in", params={"next": "/manage/team"})
    signed = await browser.post(
        "/manage/sign-in",
        data={"csrf_token": csrf_of(form), "email": owner.email, "password": PASSWORD, "next": "/manage/team"},
    )
    assert (signed.status_code, signed.headers["location"]) == (303, "/manage/team")
    cookie = signed.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=") and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Path=/manage" in cookie and "Secure" not in cookie  # BOXOFFICE_ENV=test
    team = await browser.get("/manage/team")
    assert team.status_code == 200 and owner.email in team.text
    assert team.headers["cache-control"] == "no-store" and team.headers["referrer-policy"] == "no-referrer"


def test_the_session_cookie_is_secure_outside_development_and_test() -> None:
    def request(env: str) -> Any:
        return SimpleNamespace(
            app=SimpleNamespace(state=SimpleNamespace(box=SimpleNamespace(settings=SimpleNamespace(env=env))))
        )

    assert [secure_cookies(request(env)) for env in ("production", "development", "test")] == [True, False, False]


async def test_after_sign_in_never_another_site(site: LiveServer, browser: httpx.AsyncClient) -> None:
    owner = await member(site)
    form = await browser.get("/manage/sign-in")
    signed = await browser.post(
        "/manage/sign-in",
        data={"csrf_token": csrf_of(form), "email": owner.email, "password": PASSWORD, "next": "//evil.example/x"},
    )
    assert signed.headers["location"] == "/manage"


async def test_a_wrong_password_is_said_in_words_and_the_password_never_shown_again(
    site: LiveServer, browser: httpx.AsyncClient
) -> None:
    owner = await member(site)
    form = await browser.get("/manage/sign-in")
    answer = await browser.post(
        "/manage/sign-in", data={"csrf_token": csrf_of(form), "email": owner.email, "password": "not it at all"}
    )
    assert answer.status_code == 401
    assert "Wrong email or password" in answer.text and f'value="{owner.email}"' in answer.text
    assert "not it at all" not in answer.text and SESSION_COOKIE not in answer.headers.get("set-cookie", "")
    empty = await browser.post("/manage/sign-in", data={"csrf_token": csrf_of(form), "email": "", "password": ""})
    assert empty.status_code == 422 and "Please enter your email address" in empty.text


async def test_repeated_failures_answer_429_with_retry_after(site: LiveServer, browser: httpx.AsyncClient) -> None:
    owner = await member(site)
    token = csrf_of(await browser.get("/manage/sign-in"))
    statuses = []
    for _ in range(site.box.settings.sign_in_failures_per_account + 1):
        answer = await browser.post(
            "/manage/sign-in", data={"csrf_token": token, "email": owner.email, "password": "nope"}
        )
        statuses.append(answer.status_code)
    assert statuses == [401] * (site.box.settings.sign_in_failures_per_account - 1) + [429, 429]
    assert 0 < int(answer.headers["retry-after"]) <= site.box.settings.sign_in_window_seconds
    assert "Too many failed sign-ins" in answer.text
    right = await browser.post(
        "/manage/sign-in", data={"csrf_token": token, "email": owner.email, "password": PASSWORD}
    )
    assert right.status_code == 429  # not even the right password, until the window ends


async def test_a_form_without_its_token_is_refused_and_changes_nothing(
    site: LiveServer, browser: httpx.AsyncClient
) -> None:
    owner = await member(site)
    token = await sign_in(browser, owner.email)
    async with httpx.AsyncClient(base_url=site.url) as other_browser:
        other_token = await sign_in(other_browser, (await member(site)).email)
    for data in (
        {"name": "sneaky"},
        {"name": "sneaky", "csrf_token": "wrong"},
        {"name": "x", "csrf_token": other_token},
    ):
        refused = await browser.post("/manage/api-keys", data=data)
        assert refused.status_code == 403 and "This form has expired" in refused.text
    assert await list_api_keys(site.box.db, owner.organizer_id) == []
    bad_team = await browser.post("/manage/team/invite", data={"email": unique_email(), "role": "owner"})
    assert (
        bad_team.status_code == 403 and len((await browser.get("/manage/team")).text.split('class="card member"')) == 2
    )
    assert (await browser.post("/manage/sign-out")).status_code == 403
    assert (await browser.get("/manage")).status_code == 200  # still signed in
    made = await browser.post("/manage/api-keys", data={"name": "fine", "csrf_token": token})
    assert made.status_code == 201 and [k.name for k in await list_api_keys(site.box.db, owner.organizer_id)] == [
        "fine"
    ]


async def test_the_sign_in_form_needs_its_own_token(site: LiveServer, browser: httpx.AsyncClient) -> None:
    owner = await member(site)
    refused = await browser.post("/manage/sign-in", data={"email": owner.email, "password": PASSWORD})
    assert refused.status_code == 403 and SESSION_COOKIE not in refused.headers.get("set-cookie", "")


@pytest.mark.parametrize("role", [Role.DOOR, Role.MANAGER])
async def test_roles_below_owner_are_refused_on_team_and_api_keys(
    site: LiveServer, browser: httpx.AsyncClient, role: Role
) -> None:
    owner = await member(site)
    staff = await member(site, organizer=owner.organizer_email, role=role)
    token = await sign_in(browser, staff.email)
    home = await browser.get("/manage")
    assert (
        home.status_code == 200
        and 'href="/manage/team"' not in home.text
        and 'href="/manage/api-keys"' not in home.text
    )
    for path in ("/manage/team", "/manage/api-keys"):
        page = await browser.get(path)
        assert page.status_code == 403 and "Not allowed" in page.text, path
    created = await browser.post("/manage/api-keys", data={"csrf_token": token, "name": "mine"})
    invited = await browser.post(
        "/manage/team/invite", data={"csrf_token": token, "email": unique_email(), "role": "owner"}
    )
    assert created.status_code == invited.status_code == 403
    assert await list_api_keys(site.box.db, owner.organizer_id) == []


async def test_another_organizers_key_and_member_are_not_found(site: LiveServer, browser: httpx.AsyncClient) -> None:
    owner = await member(site)
    stranger = await member(site)
    theirs, raw = await create_api_key(site.box.db, stranger.organizer_email)
    token = await sign_in(browser, owner.email)
    revoke = await browser.post(f"/manage/api-keys/{theirs.id}/revoke", data={"csrf_token": token})
    assert revoke.status_code == 404 and "Not found" in revoke.text
    assert (await site.client.get("/api/v1/api-keys", headers={"Authorization": f"Bearer {raw}"})).status_code == 200
    page = await browser.get("/manage/team")
    assert stranger.email not in page.text
    their_membership = re.search(r"/manage/team/(mem_\w+)/role", (await _team_page_of(site, stranger)).text)
    assert their_membership is not None
    demote = await browser.post(
        f"/manage/team/{their_membership.group(1)}/role", data={"csrf_token": token, "role": "door"}
    )
    assert demote.status_code == 404


async def _team_page_of(site: LiveServer, someone: Member) -> httpx.Response:
    async with httpx.AsyncClient(base_url=site.url) as client:
        await sign_in(client, someone.email)
        return await client.get("/manage/team")


async def test_home_lists_only_the_organizers_own_events(site: LiveServer, browser: httpx.AsyncClient) -> None:
    owner = await member(site)
    await make_event(site.box.db, organizer=owner.organizer_email, title="Our Rooftop Night")
    await make_event(site.box.db, title="Someone Else's Gala")
    await sign_in(browser, owner.email)
    home = await browser.get("/manage")
    assert "Our Rooftop Night" in home.text and "Someone Else" not in home.text


async def test_an_invitation_is_emailed_and_its_link_signs_the_new_member_in(
    site: LiveServer, browser: httpx.AsyncClient
) -> None:
    owner = await member(site)
    token = await sign_in(browser, owner.email)
    newcomer = unique_email("door")
    bad = await browser.post("/manage/team/invite", data={"csrf_token": token, "email": "not an email", "role": "door"})
    assert (
        bad.status_code == 422
        and "Please enter a valid email address" in bad.text
        and 'value="not an email"' in bad.text
    )
    sent = await browser.post("/manage/team/invite", data={"csrf_token": token, "email": newcomer, "role": "door"})
    assert (sent.status_code, sent.headers["location"]) == (303, "/manage/team?done=invited")
    again = await browser.post("/manage/team/invite", data={"csrf_token": token, "email": newcomer, "role": "owner"})
    assert again.status_code == 409 and "already in the team" in again.text

    async def invitation() -> list[EmailMessage]:
        return mail_to(site, newcomer)

    (message,) = await eventually(invitation)
    assert owner.organizer_email in str(message["Subject"])
    link = link_in(message)
    async with httpx.AsyncClient(base_url=site.url) as theirs:
        page = await theirs.get(link)
        assert page.status_code == 200 and "Join the team" in page.text and newcomer in page.text
        short = await theirs.post(
            link, data={"csrf_token": csrf_of(page), "password": "short", "password_confirm": "short"}
        )
        assert short.status_code == 422 and "at least 10 characters" in short.text
        differ = await theirs.post(
            link, data={"csrf_token": csrf_of(page), "password": PASSWORD, "password_confirm": PASSWORD + "!"}
        )
        assert differ.status_code == 422 and "The two passwords differ" in differ.text
        done = await theirs.post(
            link, data={"csrf_token": csrf_of(page), "password": PASSWORD, "password_confirm": PASSWORD}
        )
        assert (done.status_code, done.headers["location"]) == (303, "/manage?done=password-set")
        home = await theirs.get("/manage?done=password-set")
        assert "(door)" in home.text and "Your password is set" in home.text
        assert (await theirs.get(link)).status_code == 404  # used up
    listed = await browser.get("/manage/team")
    assert newcomer in listed.text


async def test_roles_change_but_the_last_owner_stays(site: LiveServer, browser: httpx.AsyncClient) -> None:
    owner = await member(site)
    staff = await member(site, organizer=owner.organizer_email, role=Role.MANAGER)
    token = await sign_in(browser, owner.email)
    page = (await browser.get("/manage/team")).text
    ids = dict(re.findall(r'data-member="([^"]+)">.*?/manage/team/(mem_\w+)/role', page, re.S))
    refused = await browser.post(f"/manage/team/{ids[owner.email]}/role", data={"csrf_token": token, "role": "door"})
    assert refused.status_code == 409 and "at least one owner" in refused.text
    removed_self = await browser.post(f"/manage/team/{ids[owner.email]}/remove", data={"csrf_token": token})
    assert removed_self.status_code == 409
    bad_role = await browser.post(f"/manage/team/{ids[staff.email]}/role", data={"csrf_token": token, "role": "boss"})
    assert bad_role.status_code == 422
    promoted = await browser.post(f"/manage/team/{ids[staff.email]}/role", data={"csrf_token": token, "role": "owner"})
    assert promoted.headers["location"] == "/manage/team?done=role-changed"

    async with httpx.AsyncClient(base_url=site.url) as theirs:
        await sign_in(theirs, staff.email)
        assert (await theirs.get("/manage/team")).status_code == 200  # an owner now, at once
        removed = await browser.post(f"/manage/team/{ids[staff.email]}/remove", data={"csrf_token": token})
        assert removed.headers["location"] == "/manage/team?done=removed"
        after = await theirs.get("/manage/team")  # their session no longer works for this organizer
        assert after.status_code == 303 and after.headers["location"].startswith("/manage/organizers")
        chooser = await theirs.get("/manage/organizers")
        assert "not a member of any organizer" in chooser.text


async def test_a_password_reset_by_email_ends_the_old_sessions(site: LiveServer, browser: httpx.AsyncClient) -> None:
    owner = await member(site)
    await sign_in(browser, owner.email)
    async with httpx.AsyncClient(base_url=site.url) as forgetful:
        form = await forgetful.get("/manage/forgot-password")
        ghost = await forgetful.post(
            "/manage/forgot-password", data={"csrf_token": csrf_of(form), "email": unique_email()}
        )
        real = await forgetful.post("/manage/forgot-password", data={"csrf_token": csrf_of(form), "email": owner.email})
        assert ghost.status_code == real.status_code == 200
        assert "If" in real.text and "we have emailed it a link" in real.text

        async def reset() -> list[EmailMessage]:
            return mail_to(site, owner.email)

        (message,) = await eventually(reset)
        assert str(message["Subject"]) == "Reset your Boxoffice password"
        link = link_in(message)
        page = await forgetful.get(link)
        new = "a whole new passphrase"
        done = await forgetful.post(link, data={"csrf_token": csrf_of(page), "password": new, "password_confirm": new})
        assert done.status_code == 303
    old_session = await browser.get("/manage")
    assert old_session.status_code == 303 and old_session.headers["location"].startswith("/manage/sign-in")
    await sign_in(browser, owner.email, new)


async def test_a_member_of_two_organizers_chooses_and_switches(site: LiveServer, browser: httpx.AsyncClient) -> None:
    first = await member(site, role=Role.MANAGER)
    second = await member(site, email=first.email, role=Role.OWNER, password=None)
    stranger = await member(site)
    form = await browser.get("/manage/sign-in")
    signed = await browser.post(
        "/manage/sign-in", data={"csrf_token": csrf_of(form), "email": first.email, "password": PASSWORD}
    )
    home = await browser.get(signed.headers["location"])
    assert home.status_code == 303 and home.headers["location"] == "/manage/organizers?next=/manage"
    chooser = await browser.get(home.headers["location"])
    token = csrf_of(chooser)
    assert first.organizer_email in chooser.text and second.organizer_email in chooser.text
    sneaky = await browser.post(
        "/manage/organizers", data={"csrf_token": token, "organizer_id": stranger.organizer_id, "next": "/manage"}
    )
    assert sneaky.headers["location"] == "/manage/organizers"
    chosen = await browser.post(
        "/manage/organizers", data={"csrf_token": token, "organizer_id": second.organizer_id, "next": "/manage"}
    )
    page = await browser.get(chosen.headers["location"])
    assert f"<strong>{second.organizer_email}</strong>" in page.text and "(owner)" in page.text
    assert 'href="/manage/organizers"' in page.text and (await browser.get("/manage/team")).status_code == 200
    await browser.post("/manage/organizers", data={"csrf_token": token, "organizer_id": first.organizer_id})
    assert (await browser.get("/manage/team")).status_code == 403  # a manager there


async def test_sign_out_ends_the_session_for_good(site: LiveServer, browser: httpx.AsyncClient) -> None:
    owner = await member(site)
    token = await sign_in(browser, owner.email)
    cookie = browser.cookies.get(SESSION_COOKIE)
    assert cookie
    out = await browser.post("/manage/sign-out", data={"csrf_token": token})
    assert out.headers["location"] == "/manage/sign-in?done=signed-out"
    assert 'bo_session=""' in out.headers["set-cookie"] or "Max-Age=0" in out.headers["set-cookie"]
    async with httpx.AsyncClient(base_url=site.url, cookies={SESSION_COOKIE: cookie}) as replay:
        assert (await replay.get("/manage")).status_code == 303  # the old cookie opens nothing


async def test_api_keys_page_shows_a_new_key_once_and_revokes(site: LiveServer, browser: httpx.AsyncClient) -> None:
    owner = await member(site)
    token = await sign_in(browser, owner.email)
    made = await browser.post("/manage/api-keys", data={"csrf_token": token, "name": "Website shop"})
    raw = re.search(r'id="new-key"[^>]*value="(bo_[^"]+)"', made.text)
    assert made.status_code == 201 and raw is not None
    assert made.headers["cache-control"] == "no-store"
    auth = {"Authorization": f"Bearer {raw.group(1)}"}
    assert (await site.client.get("/api/v1/api-keys", headers=auth)).status_code == 200
    listed = await browser.get("/manage/api-keys")
    assert "Website shop" in listed.text and raw.group(1) not in listed.text and raw.group(1)[:10] in listed.text
    assert re.search(r'data-label="Last used">\d', listed.text)  # used just now, by the request above
    key_id = re.search(r'data-key="(key_\w+)"', listed.text)
    assert key_id is not None
    revoked = await browser.post(f"/manage/api-keys/{key_id.group(1)}/revoke", data={"csrf_token": token})
    assert revoked.headers["location"] == "/manage/api-keys?done=revoked"
    assert (await site.client.get("/api/v1/api-keys", headers=auth)).status_code == 401
    long_name = await browser.post("/manage/api-keys", data={"csrf_token": token, "name": "x" * 201})
    assert long_name.status_code == 422 and "Please shorten the name to 200 characters" in long_name.text
