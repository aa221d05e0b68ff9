"""One organizer's walk through the console in a real browser (Playwright driving Debian's Chromium), 390 px wide:
sign in, create an event (a draft, with its venue) and three ticket types (fixed, pay what you want, tiers), publish
it, watch the dashboard change while a buyer pays in another browser context (the sandbox's pay page), find the
order, refund part of it after the confirmation, export the orders CSV and read it back, revoke an API key; then a
door member refused on the refund, and a refund form without its CSRF token refused (nothing refunded). No CSP
violation, no horizontal scrolling."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from boxoffice.accounts.roles import Role
from boxoffice.accounts.service import create_key_for, list_api_keys
from boxoffice.ticketing.orders import list_orders
from boxoffice.ticketing.refunds import list_refunds
from tests.accounts.support import PASSWORD, cheap_password_hashes, make_member
from tests.e2e.test_browser import watch_csp
from tests.e2e.test_console_browser import PHONE, no_sideways_scroll
from tests.helpers import eventually
from tests.server import LiveServer


@pytest.fixture(scope="module", autouse=True)
def cheap_hashes() -> Iterator[None]:
    with cheap_password_hashes():
        yield


async def sign_in(page: Any, url: str, email: str) -> None:
    from playwright.async_api import expect

    await page.goto(f"{url}/manage/sign-in")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("button", name="Sign out")).to_be_visible()


async def add_ticket_type(page: Any, url: str, event_id: str, fields: dict[str, str], model: str) -> None:
    from playwright.async_api import expect

    await page.goto(f"{url}/manage/events/{event_id}/ticket-types/new")
    await page.get_by_label("Pricing model").select_option(model)
    for label, value in fields.items():
        await page.get_by_label(label, exact=True).fill(value)
    await page.get_by_role("button", name="Create ticket type").click()
    await expect(page.get_by_role("status")).to_contain_text("Ticket type created")


async def test_an_organizer_runs_an_event_from_the_browser(
    browser_site: LiveServer, browser: Any, screenshot_dir: Path
) -> None:
    from playwright.async_api import expect

    site = browser_site
    assert site.box.sandbox is not None
    owner = await make_member(site.box.db, site.box.settings.secret_bytes, role=Role.OWNER)
    door = await make_member(
        site.box.db, site.box.settings.secret_bytes, organizer=owner.organizer_email, role=Role.DOOR
    )
    await create_key_for(site.box.db, owner.organizer_id, name="Old script")
    organizer = await browser.new_context(viewport=PHONE)
    shopper = await browser.new_context(viewport={"width": 1000, "height": 900})
    violations = await watch_csp(organizer)
    try:
        page = await organizer.new_page()
        await sign_in(page, site.url, owner.email)
        await page.get_by_role("link", name="Create an event").click()
        await page.get_by_label("Title").fill("Harbour Lights")
        await page.get_by_label("Venue", exact=True).fill("Pier 9")
        await page.get_by_label("Venue address").fill("Hafenstraße 1\n20359 Hamburg")
        await page.get_by_label("Time zone").fill("Europe/Berlin")
        await page.get_by_label("Starts").fill("2031-06-01T20:00")
        await page.get_by_label("Ends").fill("2031-06-01T23:00")
        await page.get_by_label("Currency").fill("USD")
        await expect(page.get_by_label("Status")).to_have_value("draft")
        await page.get_by_role("button", name="Create event").click()
        await expect(page.get_by_role("status")).to_contain_text("Event created")
        event_id = page.url.split("/manage/events/")[1].split("?")[0]
        await no_sideways_scroll(page)

        await add_ticket_type(
            page,
            site.url,
            event_id,
            {"Name": "Standard", "Price (fixed pricing)": "25", "Tickets for sale": "50"},
            "fixed",
        )
        await add_ticket_type(
            page,
            site.url,
            event_id,
            {
                "Name": "Supporter",
                "Minimum price (pay what you want)": "10",
                "Suggested price (pay what you want)": "20",
                "Tickets for sale": "20",
            },
            "flexible",
        )
        await add_ticket_type(
            page,
            site.url,
            event_id,
            {
                "Name": "Early bird",
                "Tier 1 price": "15",
                "Tier 1 up to ticket number": "10",
                "Tier 2 price": "30",
                "Tickets for sale": "30",
            },
            "dynamic",
        )
        await page.goto(f"{site.url}/manage/events/{event_id}")
        for title in ("Standard", "Supporter", "Early bird"):
            await expect(page.get_by_role("rowheader", name=title)).to_be_visible()
        await page.get_by_role("button", name="show Early bird earlier").click()  # the order buyers see
        await expect(page.get_by_role("status")).to_contain_text("Ticket type moved")
        shown = page.locator("#live-figures tbody th[scope=row]")
        await expect(shown).to_have_text([re.compile("^Standard"), re.compile("^Early bird"), re.compile("^Supporter")])

        buyer = await shopper.new_page()
        await buyer.goto(f"{site.url}/e/{event_id}")
        await expect(buyer.get_by_role("heading", name="Harbour Lights")).to_have_count(0)  # a draft: not found
        await page.get_by_role("button", name="Publish").click()
        await expect(page.get_by_role("status")).to_contain_text("Event published")
        await expect(page.locator("[data-status]")).to_have_text("published")
        await expect(page.locator('[data-figure="gross"]')).to_have_text("$0.00")
        await page.screenshot(path=str(screenshot_dir / "console-dashboard.png"), full_page=True)
        await no_sideways_scroll(page)

        # A buyer pays in another context while the dashboard is open: its figures change without a reload.
        await page.evaluate("window.__sameDocument = true")
        await buyer.goto(f"{site.url}/e/{event_id}")
        await expect(buyer.get_by_text("Pier 9")).to_be_visible()
        await buyer.get_by_label("Quantity of Standard").fill("2")
        await buyer.get_by_label("Name").fill("Grace Hopper")
        await buyer.get_by_label("Email").fill("grace@example.com")
        await buyer.get_by_role("button", name="Checkout").click()
        await buyer.wait_for_url("**/_sandbox/stripe/pay/cs_test_*")
        await buyer.get_by_role("button", name="Pay", exact=True).click()
        await expect(buyer.locator("#order-live")).to_contain_text("Your order is confirmed", timeout=15_000)
        await expect(page.locator('[data-figure="gross"]')).to_have_text("$50.00", timeout=15_000)
        await expect(page.locator('#live-figures [data-figure="sold"]').first).to_have_text("2")
        assert await page.evaluate("window.__sameDocument === true")  # updated live, not reloaded

        # Find the order, refund part of it after the confirmation.
        await page.get_by_role("link", name="Orders", exact=True).click()
        await page.get_by_label("Email, name, order id or ticket code").fill("GRACE@")
        await page.get_by_role("button", name="Search").click()
        await page.get_by_role("link", name="ord_").first.click()
        order_url = page.url
        order_id = order_url.rsplit("/", 1)[1]
        await page.get_by_label("Amount to refund (USD)").fill("10")
        await page.get_by_role("button", name="Refund…").click()
        await page.get_by_role("button", name="Yes, refund $10.00").click()
        await expect(page.get_by_role("status")).to_contain_text("Refund asked")

        async def refunded_in_part() -> bool:
            return [r.amount_cents for r in await list_refunds(site.box.db, order_id)] == [1000] and (
                (await list_orders(site.box.db, event_id))[0].status == "partially_refunded"
            )

        await eventually(refunded_in_part)
        await page.reload()
        await expect(page.locator("#history-heading + ol")).to_contain_text("refunded in part: $10.00 refunded so far")
        await no_sideways_scroll(page)

        # The orders export, downloaded and read back.
        await page.goto(f"{site.url}/manage/events/{event_id}")
        async with page.expect_download() as waiting:
            await page.get_by_role("link", name="Export orders (CSV)").click()
        download = await waiting.value
        rows = list(csv.DictReader(io.StringIO(Path(await download.path()).read_text("utf-8").lstrip("\ufeff"))))
        assert [(r["order_id"], r["email"], r["total"], r["refunded"], r["status"]) for r in rows] == [
            (order_id, "grace@example.com", "50.00", "10.00", "partially_refunded")
        ]
        async with page.expect_download() as waiting:
            await page.get_by_role("link", name="Export orders (XLSX)").click()
        workbook = load_workbook(io.BytesIO(Path(await (await waiting.value).path()).read_bytes()))
        sheet = list(workbook.worksheets[0].values)
        row = dict(zip(sheet[0], sheet[1], strict=True))
        assert (row["order_id"], row["total"], row["refunded"], len(sheet)) == (order_id, 50, 10, 2)

        # Revoke the API key.
        await page.get_by_role("navigation", name="Console").get_by_role("link", name="API keys").click()
        await page.get_by_text("Revoke Old script", exact=True).click()
        await page.get_by_role("button", name="Yes, revoke Old script").click()
        await expect(page.get_by_role("status")).to_contain_text("API key revoked")
        assert await list_api_keys(site.box.db, owner.organizer_id) == []

        # A refund form whose CSRF token is gone: refused, nothing refunded.
        await page.goto(order_url)
        await page.get_by_label("Amount to refund (USD)").fill("5")
        await page.locator('form[action$="/refund"] input[name="csrf_token"]').evaluate("e => e.remove()")
        await page.get_by_role("button", name="Refund…").click()
        await expect(page.get_by_role("heading", name="This form has expired")).to_be_visible()

        # A door member is refused the order and its refund.
        door_context = await browser.new_context(viewport=PHONE)
        try:
            door_page = await door_context.new_page()
            await sign_in(door_page, site.url, door.email)
            await door_page.goto(order_url)
            await expect(door_page.get_by_role("heading", name="Not allowed")).to_be_visible()
            await expect(door_page.get_by_label("Amount to refund (USD)")).to_have_count(0)
        finally:
            await door_context.close()
        assert [r.amount_cents for r in await list_refunds(site.box.db, order_id)] == [1000]
        assert violations == []
    finally:
        await shopper.close()
        await organizer.close()
