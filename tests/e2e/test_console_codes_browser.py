"""The console's vouchers and waiting-list pages in a real browser (Playwright driving Debian's Chromium), 390 px
wide: an organizer adds a code, finds it by the start of its code, and a buyer who opens the event's link with it
sees the discounted price; on the waiting-list page the organizer switches a list off and on again and sends the
next offer by hand. No CSP violation, no horizontal scrolling.

The server's waiting-list worker is kept quiet (an interval of an hour) so that the offer is the organizer's, sent by
the button, whatever the timing."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from boxoffice.ids import new_id
from boxoffice.ticketing import voucher_codes, waitlist
from boxoffice.ticketing.orders import expire_order
from boxoffice.ticketing.reserve import reserve
from boxoffice.ticketing.ticket_types import availability, get_ticket_type
from tests.accounts.support import cheap_password_hashes, make_member
from tests.e2e.conftest import require_chromium
from tests.e2e.test_browser import watch_csp
from tests.e2e.test_console_browser import PHONE, no_sideways_scroll
from tests.e2e.test_console_walk import sign_in
from tests.helpers import make_event, make_ticket, order_request
from tests.server import LiveServer, live_server


@pytest.fixture(scope="module", autouse=True)
def cheap_hashes() -> Iterator[None]:
    with cheap_password_hashes():
        yield


@pytest.fixture(scope="module")
async def browser_site(sqlite_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LiveServer]:
    """The conftest's live server, with a quiet waiting-list worker."""
    require_chromium()
    mail = str(tmp_path_factory.mktemp("mail"))
    async with live_server(sqlite_url, mail_dir=mail, sweep_interval_seconds=3600) as srv:
        yield srv


async def test_an_organizer_adds_a_code_and_a_buyer_sees_its_price(
    browser_site: LiveServer, browser: Any, screenshot_dir: Path
) -> None:
    from playwright.async_api import expect

    site = browser_site
    db = site.box.db
    owner = await make_member(db, site.box.settings.secret_bytes)
    event = await make_event(db, organizer=owner.organizer_email, title="Friends Night")
    general = await make_ticket(db, event.id, title="General", base_price_cents=2500, quantity=20)
    await voucher_codes.create_vouchers(db, event.id, {"count": 3, "prefix": "PRESS-", "discount": {"percent": 100}})
    context = await browser.new_context(viewport=PHONE)
    violations = await watch_csp(context)
    try:
        page = await context.new_page()
        await sign_in(page, site.url, owner.email)
        await page.goto(f"{site.url}/manage/events/{event.id}")
        await page.get_by_role("link", name="Vouchers").click()
        await expect(page.get_by_role("heading", name="Vouchers and access codes")).to_be_visible()
        await expect(page.locator("[data-count]")).to_have_text("3 codes.")

        await page.get_by_label("Code", exact=True).fill("Friends20")
        await page.get_by_label("Kind").select_option("percent")
        await page.get_by_label("Value").fill("20")
        await page.get_by_label("Most uses (tickets, across orders)").fill("50")
        await page.get_by_role("button", name="Add").click()
        await expect(page.get_by_role("status")).to_have_text("Voucher created.")
        await expect(page.locator("[data-count]")).to_have_text("4 codes.")
        row = page.locator("tr", has=page.get_by_role("link", name="Friends20"))
        await expect(row).to_contain_text("20% off")
        await expect(row).to_contain_text("0 / 50")
        await no_sideways_scroll(page)

        await page.get_by_label("Code starts with").fill("friend")
        await page.get_by_role("button", name="Search").click()
        await expect(page.locator("[data-count]")).to_have_text("1 code starting with “friend” (4 in all).")
        await expect(page.locator("table.vouchers tbody tr")).to_have_count(1)
        await expect(page.get_by_role("link", name="Friends20")).to_be_visible()
        await page.screenshot(path=str(screenshot_dir / "console-vouchers.png"), full_page=True)

        buyer = await context.new_page()
        await buyer.goto(f"{site.url}/e/{event.id}?voucher=friends20")
        await expect(buyer.get_by_text("Code Friends20 is applied")).to_be_visible()
        await expect(buyer.locator(f"#price-text-{general.id}")).to_have_text("$20.00")
        await expect(buyer.locator(f"#code-note-{general.id}")).to_have_text("With code Friends20, instead of $25.00")
        await buyer.get_by_label("Quantity of General").fill("2")
        await expect(buyer.locator("#total")).to_have_text("$40.00")
        assert violations == []
    finally:
        await context.close()


async def test_an_organizer_switches_a_waiting_list_off_and_on_and_sends_an_offer_by_hand(
    browser_site: LiveServer, browser: Any, screenshot_dir: Path
) -> None:
    from playwright.async_api import expect

    site = browser_site
    db = site.box.db
    owner = await make_member(db, site.box.settings.secret_bytes)
    event = await make_event(db, organizer=owner.organizer_email, title="Rooftop")
    tt = await make_ticket(db, event.id, title="Terrace", quantity=2)
    holds = [(await reserve(db, order_request(event.id, (tt.id, 1)))).id for _ in range(2)]  # sold out
    body = {"email": f"ada-{new_id('x')}@example.com", "name": "Ada Waiting", "ticket_id": tt.id, "quantity": 1}
    joined = await site.client.post(f"/api/v1/events/{event.id}/waiting-list", json=body)
    assert joined.status_code == 201
    entry_id = joined.json()["id"]
    context = await browser.new_context(viewport=PHONE)
    violations = await watch_csp(context)
    try:
        page = await context.new_page()
        await sign_in(page, site.url, owner.email)
        await page.goto(f"{site.url}/manage/events/{event.id}")
        await page.get_by_role("link", name="Waiting list").click()
        section = page.locator(f'section.waiting-list[data-ticket="{tt.id}"]')
        entry = section.locator(f'tr[data-entry="{entry_id}"]')
        await expect(entry).to_have_attribute("data-state", "waiting")
        await expect(section.locator("[data-summary]")).to_contain_text("1 waiting (1 ticket)")
        await no_sideways_scroll(page)

        await section.get_by_role("button", name="Switch it off").click()
        await expect(page.get_by_role("status")).to_contain_text("Waiting list switched off")
        await expect(section).to_contain_text("The waiting list is off")
        await expect(section).to_contain_text("the people waiting (1) keep their places but get no offers")
        assert not (await get_ticket_type(db, tt.id)).waiting_list

        await section.get_by_role("button", name="Switch it on").click()
        await expect(page.get_by_role("status")).to_contain_text("Waiting list switched on")
        await expect(section.get_by_role("button", name="Switch it off")).to_be_visible()
        assert (await get_ticket_type(db, tt.id)).waiting_list

        await expire_order(db, holds[0], force=True)  # a ticket comes back: held back for Ada, not on sale
        assert (await availability(db, event.id))[0].available == 0
        await page.reload()
        send = section.get_by_role("button", name="Send the next offer now")
        await expect(section).to_contain_text("to Ada Waiting (1 ticket)")
        await send.click()
        await expect(page.get_by_role("status")).to_contain_text("Offer sent")
        await expect(entry).to_have_attribute("data-state", "offered")
        offered = await waitlist.get_entry(db, entry_id)
        assert offered.entry.status == "offered" and offered.code is not None
        await expect(entry).to_contain_text(offered.code)
        await expect(section.get_by_role("button", name="Send the next offer now")).to_have_count(0)
        await page.screenshot(path=str(screenshot_dir / "console-waiting-list.png"), full_page=True)
        await no_sideways_scroll(page)
        assert violations == []
    finally:
        await context.close()
