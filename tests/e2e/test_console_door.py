"""A door team member at work, in a real browser (Playwright driving Debian's Chromium): they sign in to the console
on a phone, open the event's check-in page, press "Open the scanner", land on the door page already paired (their
own scanner token, the address bar cleared), and scan codes through the text field; the owner's dashboard, open in
another browser, counts each admission live. No CSP violation."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from boxoffice.accounts.roles import Role
from boxoffice.checkin import lists
from boxoffice.checkin.rules import Scanner
from boxoffice.notifications.codes import ticket_code
from tests.accounts.support import PASSWORD, cheap_password_hashes, make_member
from tests.checkin.conftest import sell
from tests.e2e.test_browser import watch_csp
from tests.e2e.test_console_browser import PHONE, no_sideways_scroll
from tests.e2e.test_door import dismiss, scan_here
from tests.helpers import make_event, make_ticket
from tests.server import LiveServer


@pytest.fixture(scope="module", autouse=True)
def cheap_hashes() -> Iterator[None]:
    with cheap_password_hashes():
        yield


async def sign_in(page: Any, site: LiveServer, email: str) -> None:
    from playwright.async_api import expect

    await page.goto(f"{site.url}/manage/sign-in")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Events")).to_be_visible()


async def test_a_door_member_opens_the_scanner_from_the_console_and_the_dashboard_counts_live(
    browser_site: LiveServer, browser: Any, screenshot_dir: Path
) -> None:
    from playwright.async_api import expect

    site = browser_site
    db, secret = site.box.db, site.box.settings.secret_bytes
    owner = await make_member(db, secret, role=Role.OWNER)
    door = await make_member(db, secret, role=Role.DOOR, organizer=owner.organizer_email)
    event = await make_event(db, organizer=owner.organizer_email, title="Console Door Night")
    tt = await make_ticket(db, event.id, title="Standing", quantity=20)
    _, tickets = await sell(db, event.id, tt.id, 3, name="Ada Lovelace")
    organizer = Scanner(organizer_id=event.organizer_id, can_manage=True)
    (entrance,) = await lists.list_lists(db, event.id, organizer)
    codes = [ticket_code(t.id, 0, secret) for t in tickets]

    owner_context = await browser.new_context(viewport={"width": 1200, "height": 900})
    phone = await browser.new_context(viewport=PHONE)
    violations = [await watch_csp(owner_context), await watch_csp(phone)]  # each filled as pages run
    try:
        board = await owner_context.new_page()
        await sign_in(board, site, owner.email)
        await board.goto(f"{site.url}/manage/events/{event.id}")
        row = board.locator(f'#live-checkins [data-checkin-list="{entrance.id}"]')
        await expect(row.locator('[data-figure="checked_in"]')).to_have_text("0")
        await expect(row.locator('[data-figure="total"]')).to_have_text("3")

        page = await phone.new_page()
        await sign_in(page, site, door.email)
        await page.get_by_role("link", name=re.compile("Check-in at Console Door Night")).click()
        await expect(page.get_by_role("heading", name="Check-in", exact=True)).to_be_visible()
        await expect(page.get_by_role("link", name="Orders")).to_have_count(0)
        await no_sideways_scroll(page)
        await page.screenshot(path=str(screenshot_dir / "console-checkin-door-member.png"), full_page=True)
        await page.get_by_role("button", name=re.compile("Open the scanner")).click()

        await expect(page.locator("#door")).to_have_attribute("data-copy-version", re.compile(".+"))
        assert page.url == f"{site.url}/door/"  # the token left the address bar
        await expect(page.locator("#event-title")).to_have_text("Console Door Night")
        await expect(page.locator("#list-name")).to_have_text("Entrance")
        await expect(page.locator("#device-label")).to_have_text(f"This phone: {door.email}")

        answer = await scan_here(page, codes[0])
        await expect(answer).to_have_attribute("data-result", "ok")
        await expect(page.locator("#answer-name")).to_have_text("Ada Lovelace")
        await page.screenshot(path=str(screenshot_dir / "console-door-scan-ok.png"))
        await dismiss(page)
        await expect(row.locator('[data-figure="checked_in"]')).to_have_text("1")  # live, no reload

        answer = await scan_here(page, codes[1])
        await expect(answer).to_have_attribute("data-result", "ok")
        await dismiss(page)
        await expect(row.locator('[data-figure="checked_in"]')).to_have_text("2")
        await expect(page.locator("#checked-in")).to_have_text("2")
        await board.screenshot(path=str(screenshot_dir / "console-dashboard-checkin.png"), full_page=True)
    finally:
        await owner_context.close()
        await phone.close()
    assert violations == [[], []]
