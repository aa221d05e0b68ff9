"""Codes and the waiting list in a real browser (Playwright driving Debian's Chromium): type a code into "Have a
code?", see its prices and the running total with them, pay the discounted amount on the sandbox's checkout page;
join a sold-out ticket type's waiting list; both without a Content-Security-Policy violation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from boxoffice.ticketing import voucher_codes, waitlist
from boxoffice.ticketing.reserve import reserve
from tests.e2e.test_browser import watch_csp
from tests.helpers import make_event, make_ticket, order_request
from tests.server import LiveServer


async def test_the_code_field_shows_the_prices_and_checkout_charges_them(
    browser_site: LiveServer, browser: Any, screenshot_dir: Path
) -> None:
    from playwright.async_api import expect

    site = browser_site
    db = site.box.db
    event = await make_event(db, title="Members Night")
    ga = await make_ticket(db, event.id, title="General", base_price_cents=2500, quantity=20)
    crew = await make_ticket(db, event.id, title="Backstage", base_price_cents=6000, hidden=True, quantity=4)
    await voucher_codes.create_vouchers(
        db, event.id, {"code": "MEMBERS", "discount": {"percent": 20}, "unlocks": [crew.id], "ticket_ids": [ga.id]}
    )
    context = await browser.new_context(viewport={"width": 1000, "height": 900})
    violations = await watch_csp(context)
    try:
        page = await context.new_page()
        await page.goto(f"{site.url}/e/{event.id}")
        await expect(page.get_by_text("Backstage")).to_have_count(0)
        code = page.get_by_label("Have a code?")
        await code.fill("nope")
        await page.get_by_role("button", name="Apply").click()
        await expect(page.locator("#error-summary")).to_contain_text("This code is not valid for this event")
        await expect(code).to_have_attribute("aria-invalid", "true")
        await page.get_by_label("Have a code?").fill("members")
        await page.get_by_role("button", name="Apply").click()
        await page.wait_for_url("**/e/*?voucher=members")
        await expect(page.get_by_text("Code MEMBERS is applied")).to_be_visible()
        await expect(page.locator(f"#price-text-{ga.id}")).to_have_text("$20.00")
        await expect(page.locator(f"#code-note-{ga.id}")).to_have_text("With code MEMBERS, instead of $25.00")
        await expect(page.locator(f"#price-text-{crew.id}")).to_have_text("$48.00")  # unlocked, and discounted
        await page.get_by_label("Quantity of General").fill("2")
        await page.get_by_label("Quantity of Backstage").fill("1")
        await expect(page.locator("#total")).to_have_text("$88.00")
        await page.get_by_label("Name", exact=True).fill("Mara Member")
        await page.get_by_label("Email", exact=True).fill("mara@example.com")
        await page.screenshot(path=str(screenshot_dir / "event-with-code.png"), full_page=True)
        await page.get_by_role("button", name="Checkout").click()
        await page.wait_for_url("**/_sandbox/stripe/pay/cs_test_*")
        await expect(page.locator("#total")).to_have_text("$88.00")  # what Stripe charges
        await expect(page.get_by_text("Code MEMBERS: $25.00, now $20.00 each").first).to_be_visible()
        assert violations == []
    finally:
        await context.close()


async def test_joining_the_waiting_list_of_a_sold_out_ticket(
    browser_site: LiveServer, browser: Any, screenshot_dir: Path
) -> None:
    from playwright.async_api import expect

    site = browser_site
    db = site.box.db
    event = await make_event(db, title="Full Moon")
    tt = await make_ticket(db, event.id, title="Terrace", quantity=3)
    await reserve(db, order_request(event.id, (tt.id, 3)))
    context = await browser.new_context(viewport={"width": 1000, "height": 900})
    violations = await watch_csp(context)
    try:
        page = await context.new_page()
        await page.goto(f"{site.url}/e/{event.id}")
        await expect(page.locator(f'[data-left="{tt.id}"]')).to_have_text("Sold out")
        waiting = page.locator("form.waiting-list")
        await expect(waiting.get_by_role("heading", name="Sold out? Join the waiting list")).to_be_visible()
        await waiting.get_by_label("Tickets").fill("2")
        await waiting.get_by_label("Name").fill("Wanda Waiter")
        await waiting.get_by_label("Email").fill("wanda@example.com")
        await page.screenshot(path=str(screenshot_dir / "waiting-list.png"), full_page=True)
        await waiting.get_by_role("button", name="Join the waiting list").click()
        await expect(page.get_by_role("heading", name="You are on the waiting list")).to_be_visible()
        await expect(page.get_by_text("You are number 1 in line")).to_be_visible()
        (entry,) = await waitlist.list_entries(db, event.id)
        assert (entry.entry.email, entry.entry.quantity, entry.entry.status) == ("wanda@example.com", 2, "waiting")
        assert violations == []
    finally:
        await context.close()
