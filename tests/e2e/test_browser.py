"""A buyer in a real browser (Playwright driving Debian's Chromium): choose a pay-what-you-want price and a tip,
pay on the sandbox's checkout page, watch the order turn confirmed without reloading, and see another tab's
availability drop. Also: the form without JavaScript, and the error summary's focus."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.helpers import make_event, make_ticket
from tests.server import LiveServer

REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) => {
  console.error("CSP violation: " + e.violatedDirective + " blocked " + (e.blockedURI || "inline"));
});
"""


async def watch_csp(context: Any) -> list[str]:
    """Every Content-Security-Policy violation of the context's pages: Chromium's own console messages, and the
    ``securitypolicyviolation`` events (reported by an init script, which the policy does not govern)."""
    seen: list[str] = []

    def on_console(message: Any) -> None:
        text = str(message.text)
        if "Content Security Policy" in text or "CSP violation" in text:
            seen.append(f"{message.page.url if message.page else '?'}: {text}")

    await context.add_init_script(REPORT_VIOLATIONS)
    context.on("console", on_console)
    return seen


async def test_buy_pay_what_you_want_with_tip_and_watch_it_confirm(
    browser_site: LiveServer, browser: Any, screenshot_dir: Path
) -> None:
    from playwright.async_api import expect

    site = browser_site
    assert site.box.sandbox is not None
    event = await make_event(site.box.db, title="Browser Night", description="Live jazz on the roof terrace.")
    flex = await make_ticket(
        site.box.db,
        event.id,
        title="Supporter",
        description="Pay what you can; it keeps the music going.",
        pricing_model="flexible",
        minimum_price_cents=500,
        suggested_price_cents=2000,
        tippable=True,
        quantity=10,
    )
    general = await make_ticket(site.box.db, event.id, title="General admission", quantity=50)
    context = await browser.new_context(viewport={"width": 1000, "height": 900})
    violations = await watch_csp(context)
    try:
        buyer = await context.new_page()
        watcher = await context.new_page()
        for page in (buyer, watcher):
            await page.goto(f"{site.url}/e/{event.id}")
            await expect(page.get_by_text("Test mode: payments go to the local Stripe sandbox")).to_be_visible()
        await expect(watcher.locator(f'[data-left="{flex.id}"]')).to_have_text("10 left")
        await expect(watcher.locator(f'[data-left="{general.id}"]')).to_have_text("50 left")
        await watcher.evaluate("window.__sameDocument = true")

        price = buyer.get_by_label("Your price per ticket (USD), at least $5.00")
        await expect(price).to_have_value("20.00")  # the suggested price
        await expect(buyer.locator("#total")).to_have_text("$0.00")
        await buyer.get_by_label("Quantity of Supporter").fill("2")
        await expect(buyer.locator("#total")).to_have_text("$40.00")
        await price.fill("4")  # below the minimum: named next to the field before Checkout
        await expect(buyer.locator(f"#price-{flex.id}-live")).to_have_text("At least $5.00 per ticket")
        await price.fill("12.50")
        await expect(buyer.locator(f"#price-{flex.id}-live")).to_be_hidden()
        await buyer.get_by_label("Tip for the organizer (USD, optional)").fill("3")
        await buyer.get_by_label("Name").fill("Grace Hopper")
        await buyer.get_by_label("Email").fill("grace@example.com")
        await expect(buyer.locator("#total")).to_have_text("$28.00")
        await buyer.screenshot(path=str(screenshot_dir / "event.png"), full_page=True)
        await buyer.get_by_role("button", name="Checkout").click()

        await buyer.wait_for_url("**/_sandbox/stripe/pay/cs_test_*")
        await expect(buyer.locator("#total")).to_have_text("$28.00")  # the sandbox's hosted checkout page
        # The other tab sees the hold at once, pushed over SSE, without reloading.
        await expect(watcher.locator(f'[data-left="{flex.id}"]')).to_have_text("8 left")
        await expect(watcher.locator(f'[data-left="{general.id}"]')).to_have_text("50 left")
        assert await watcher.evaluate("window.__sameDocument === true")

        site.box.sandbox.faults.webhook_paused = True  # hold the webhook so that the order page opens pending
        try:
            await buyer.get_by_role("button", name="Pay", exact=True).click()
            live = buyer.locator("#order-live")
            await expect(buyer.locator("#order-status")).to_have_text("Awaiting payment")
            await expect(live).to_contain_text("we are confirming your payment")
            await expect(buyer.locator(".issued")).to_have_count(0)
            await buyer.evaluate("window.__sameDocument = true")
        finally:
            site.box.sandbox.faults.webhook_paused = False
        await expect(live).to_contain_text("Confirmed", timeout=15_000)
        await expect(live).to_contain_text("Your order is confirmed")
        await expect(buyer.locator(".issued")).to_have_count(2)
        await expect(buyer.locator(".issued svg").first).to_be_visible()
        await expect(buyer.get_by_role("button", name="Continue to payment")).to_have_count(0)
        assert await buyer.evaluate("window.__sameDocument === true")  # no reload happened
        await buyer.screenshot(path=str(screenshot_dir / "order.png"), full_page=True)
        await expect(watcher.locator(f'[data-left="{flex.id}"]')).to_have_text("8 left")  # sold now, still 8
        assert violations == []  # the event page, the sandbox's checkout and the live order page
    finally:
        await context.close()


async def test_the_form_works_without_javascript(browser_site: LiveServer, browser: Any, screenshot_dir: Path) -> None:
    from playwright.async_api import expect

    site = browser_site
    event = await make_event(site.box.db, title="No Script Night")
    tt = await make_ticket(site.box.db, event.id, title="Seat", quantity=5)
    context = await browser.new_context(java_script_enabled=False)
    violations = await watch_csp(context)
    try:
        page = await context.new_page()
        await page.goto(f"{site.url}/e/{event.id}")
        await expect(page.locator("[data-total-row]")).to_be_hidden()  # no stale total without the script
        await page.get_by_label("Quantity of Seat").fill("1")
        await page.get_by_label("Email").fill("plain@example.com")
        await page.get_by_role("button", name="Checkout").click()
        await page.wait_for_url("**/_sandbox/stripe/pay/cs_test_*")
        await expect(page.locator("#total")).to_have_text("$15.00")
        await page.get_by_role("button", name="Cancel and go back").click()
        await expect(page.get_by_role("heading", name="Checkout canceled")).to_be_visible()
        await page.screenshot(path=str(screenshot_dir / "order-canceled-checkout.png"), full_page=True)
        await page.get_by_role("button", name="Release my tickets").click()
        await expect(page.locator("#order-status")).to_have_text("Canceled")
        await page.goto(f"{site.url}/e/{event.id}")
        await expect(page.locator(f'[data-left="{tt.id}"]')).to_have_text("5 left")
        assert violations == []
    finally:
        await context.close()


async def test_error_summary_takes_focus_and_links_to_the_field(
    browser_site: LiveServer, browser: Any, screenshot_dir: Path
) -> None:
    from playwright.async_api import expect

    site = browser_site
    event = await make_event(site.box.db, title="Error Night")
    flex = await make_ticket(
        site.box.db, event.id, title="Supporter", pricing_model="flexible", minimum_price_cents=500, quantity=5
    )
    context = await browser.new_context(viewport={"width": 1000, "height": 900})
    violations = await watch_csp(context)
    try:
        page = await context.new_page()
        await page.goto(f"{site.url}/e/{event.id}")
        await page.get_by_label("Quantity of Supporter").fill("1")
        await page.get_by_label("Your price per ticket (USD), at least $5.00").fill("2")
        await page.get_by_label("Email").fill("low@example.com")
        await page.get_by_role("button", name="Checkout").click()
        summary = page.locator("#error-summary")
        await expect(summary).to_be_focused()
        await expect(summary).to_contain_text("Please enter at least $5.00 for Supporter")
        await page.screenshot(path=str(screenshot_dir / "event-error.png"), full_page=True)
        await summary.get_by_role("link", name="Please enter at least $5.00 for Supporter").click()
        await expect(page.locator(f"#price-{flex.id}")).to_be_focused()
        await expect(page.locator(f"#price-{flex.id}")).to_have_value("2")
        assert violations == []
    finally:
        await context.close()
