"""The organizer console in a real browser (Playwright driving Debian's Chromium), 390 px wide: sign in (a wrong
password first: the error summary takes the focus), create an API key and use it, revoke it, a form whose CSRF token
was removed is refused and changes nothing, a door member is refused on the owner's pages. No CSP violation, no
horizontal scrolling."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from boxoffice.accounts.roles import Role
from boxoffice.accounts.service import list_api_keys
from tests.accounts.support import PASSWORD, cheap_password_hashes, make_member
from tests.e2e.test_browser import watch_csp
from tests.server import LiveServer

PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module", autouse=True)
def cheap_hashes() -> Iterator[None]:
    with cheap_password_hashes():
        yield


async def no_sideways_scroll(page: Any) -> None:
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width} px wide"


async def test_sign_in_create_use_and_revoke_a_key_and_csrf_refused(
    browser_site: LiveServer, browser: Any, screenshot_dir: Path
) -> None:
    from playwright.async_api import expect

    site = browser_site
    owner = await make_member(site.box.db, site.box.settings.secret_bytes, role=Role.OWNER)
    context = await browser.new_context(viewport=PHONE)
    violations = await watch_csp(context)
    try:
        page = await context.new_page()
        await page.goto(f"{site.url}/")
        await page.get_by_role("link", name="Sign in to the console").click()
        await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()

        await page.get_by_label("Email").fill(owner.email)
        await page.get_by_label("Password").fill("not my password")
        await page.get_by_role("button", name="Sign in").click()
        summary = page.locator("#error-summary")
        await expect(summary).to_contain_text("Wrong email or password")
        await expect(summary).to_be_focused()
        await expect(page.get_by_label("Email")).to_have_value(owner.email)
        await expect(page.get_by_label("Password")).to_have_value("")
        await no_sideways_scroll(page)

        await page.get_by_label("Password").fill(PASSWORD)
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.get_by_role("heading", name="Events")).to_be_visible()
        nav = page.get_by_role("navigation", name="Console")
        await expect(nav.get_by_role("link", name="Events")).to_have_attribute("aria-current", "page")
        await no_sideways_scroll(page)

        await nav.get_by_role("link", name="Team").click()
        await expect(page.get_by_role("heading", name="Team")).to_be_visible()
        await expect(page.get_by_label(f"Role of {owner.email}")).to_have_value("owner")
        await no_sideways_scroll(page)

        await nav.get_by_role("link", name="API keys").click()
        await page.get_by_label("Name").fill("Website shop")
        await page.get_by_role("button", name="Create key").click()
        new_key = page.get_by_label("API key")
        await expect(new_key).to_be_visible()
        raw = await new_key.input_value()
        assert raw.startswith("bo_")
        await page.screenshot(path=str(screenshot_dir / "console-api-keys.png"), full_page=True)
        await no_sideways_scroll(page)
        auth = {"Authorization": f"Bearer {raw}"}
        async with httpx.AsyncClient(base_url=site.url) as program:
            assert (await program.get("/api/v1/api-keys", headers=auth)).status_code == 200

            await page.goto(f"{site.url}/manage/api-keys")  # shown once: not on the page any more
            await expect(page.get_by_label("API key")).to_have_count(0)
            await expect(page.get_by_role("cell", name="Website shop")).to_be_visible()
            await page.get_by_text("Revoke Website shop", exact=True).click()  # opens the confirmation
            await page.get_by_role("button", name="Yes, revoke Website shop").click()
            await expect(page.get_by_role("status")).to_contain_text("API key revoked")
            await expect(page.get_by_role("cell", name="Website shop")).to_have_count(0)
            assert (await program.get("/api/v1/api-keys", headers=auth)).status_code == 401

        # A form whose CSRF token is gone (as a forged cross-site form would be): refused, nothing created.
        await page.get_by_label("Name").fill("Forged")
        await page.locator('form[action="/manage/api-keys"] input[name="csrf_token"]').evaluate("e => e.remove()")
        await page.get_by_role("button", name="Create key").click()
        await expect(page.get_by_role("heading", name="This form has expired")).to_be_visible()
        assert await list_api_keys(site.box.db, owner.organizer_id) == []
        await page.screenshot(path=str(screenshot_dir / "console-csrf-refused.png"), full_page=True)

        await page.goto(f"{site.url}/manage")
        await page.get_by_role("button", name="Sign out").click()
        await expect(page.get_by_role("status")).to_contain_text("You are signed out")
        await page.goto(f"{site.url}/manage/api-keys")
        await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        assert violations == []
    finally:
        await context.close()


async def test_a_door_member_is_refused_on_the_owners_pages(browser_site: LiveServer, browser: Any) -> None:
    from playwright.async_api import expect

    site = browser_site
    owner = await make_member(site.box.db, site.box.settings.secret_bytes)
    door = await make_member(
        site.box.db, site.box.settings.secret_bytes, organizer=owner.organizer_email, role=Role.DOOR
    )
    context = await browser.new_context(viewport=PHONE)
    violations = await watch_csp(context)
    try:
        page = await context.new_page()
        await page.goto(f"{site.url}/manage/team")
        await page.get_by_label("Email").fill(door.email)
        await page.get_by_label("Password").fill(PASSWORD)
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()  # back to /manage/team: 403
        nav = page.get_by_role("navigation", name="Console")
        await expect(nav.get_by_role("link", name="Team")).to_have_count(0)
        await expect(nav.get_by_role("link", name="API keys")).to_have_count(0)
        await page.goto(f"{site.url}/manage/api-keys")
        await expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
        await page.goto(f"{site.url}/manage")
        await expect(page.get_by_text("Your role is door")).to_be_visible()
        await no_sideways_scroll(page)
        assert violations == []
    finally:
        await context.close()
