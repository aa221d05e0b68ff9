"""A buyer in a real browser (Playwright driving Debian's Chromium): choose a pay-what-you-want price and a tip,
pay on the sandbox's checkout page, watch the order turn confirmed without reloading, and see another tab's
availability drop."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.helpers import make_event, make_ticket
from tests.server import LiveServer, live_server

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
async def site(sqlite_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LiveServer]:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("Debian's chromium is required for the browser test (scripts/bootstrap dev installs it)")
        pytest.skip("no /usr/bin/chromium (apt-get install chromium)")
    async with live_server(sqlite_url, mail_dir=str(tmp_path_factory.mktemp("mail"))) as srv:
        yield srv


async def test_buy_pay_what_you_want_with_tip_and_watch_it_confirm(site: LiveServer, tmp_path: Path) -> None:
    from playwright.async_api import async_playwright, expect

    event = await make_event(site.box.db, title="Browser Night")
    flex = await make_ticket(
        site.box.db,
        event.id,
        title="Supporter",
        pricing_model="flexible",
        base_price_cents=None,
        minimum_price_cents=500,
        suggested_price_cents=2000,
        tippable=True,
        quantity=10,
    )
    await make_ticket(site.box.db, event.id, title="General admission", quantity=50)
    assert site.box.sandbox is not None
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        context = await browser.new_context()
        buyer = await context.new_page()
        watcher = await context.new_page()
        for page in (buyer, watcher):
            await page.goto(f"{site.url}/e/{event.id}")
        await expect(watcher.locator(f'[data-left="{flex.id}"]')).to_have_text("10 left")
        await expect(buyer.get_by_label("Your price per ticket (USD), minimum $5.00")).to_have_value("20.00")

        await buyer.locator(f"#qty-{flex.id}").fill("2")
        await buyer.locator(f"#price-{flex.id}").fill("12.50")
        await buyer.get_by_label("Add a tip for the organizers (USD, optional)").fill("3")
        await buyer.get_by_label("Name").fill("Grace Hopper")
        await buyer.get_by_label("Email (your tickets are sent here)").fill("grace@example.com")
        await expect(buyer.locator("#total")).to_have_text("$28.00")
        await buyer.screenshot(path=str(tmp_path / "event.png"), full_page=True)
        await buyer.get_by_role("button", name="Checkout").click()

        await expect(buyer.locator("#total")).to_have_text("$28.00")  # the sandbox's checkout page
        await expect(watcher.locator(f'[data-left="{flex.id}"]')).to_have_text("8 left")  # held, pushed live

        site.box.sandbox.faults.webhook_paused = True  # hold the webhook so the order page opens pending
        await buyer.get_by_role("button", name="Pay", exact=True).click()
        status = buyer.locator("#order-status")
        await expect(status).to_have_text("Awaiting payment")
        await buyer.evaluate("window.__sameDocument = true")
        site.box.sandbox.faults.webhook_paused = False
        await expect(status).to_have_text("Confirmed", timeout=15_000)
        assert await buyer.evaluate("window.__sameDocument === true")  # no reload happened
        await expect(buyer.locator(".issued")).to_have_count(2)
        await buyer.screenshot(path=str(tmp_path / "order.png"), full_page=True)
        await browser.close()
