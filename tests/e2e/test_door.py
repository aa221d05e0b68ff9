"""The door scanner in a real browser (Playwright driving Debian's Chromium): pair by opening the pairing link, scan
through the code field (a keyboard-wedge scanner types there), go offline and keep scanning from the phone's copy,
reload the page offline (service worker), come back and see the uploads, the duplicate entry and the counts; and a
fake camera (Chromium's file-based fake video capture) showing a ticket's QR code; a revoked phone keeps nothing."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import segno
from PIL import Image
from sqlalchemy import select

from boxoffice.checkin import devices, lists
from boxoffice.checkin.models import Checkin
from boxoffice.checkin.rules import Scanner
from boxoffice.checkin.scan import ScanRequest, scan
from boxoffice.notifications.codes import sign_ticket_code, ticket_code
from tests.checkin.conftest import sell
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.e2e.test_browser import watch_csp
from tests.helpers import eventually, make_event, make_ticket
from tests.server import LiveServer


class Door:
    def __init__(self, site: LiveServer, event_id: str, list_id: str, tickets: list[str], organizer: Scanner):
        self.site, self.event_id, self.list_id, self.tickets, self.organizer = (
            site,
            event_id,
            list_id,
            tickets,
            organizer,
        )

    def code(self, i: int) -> str:
        return ticket_code(self.tickets[i], 0, self.site.box.settings.secret_bytes)

    async def rows(self) -> list[Checkin]:
        async with self.site.box.db.read() as session:
            return list((await session.scalars(select(Checkin).where(Checkin.list_id == self.list_id))).all())


async def door(site: LiveServer, n: int = 4) -> tuple[Door, str]:
    """An event with ``n`` tickets sold to Ada Lovelace, and the pairing link of a phone at its default list."""
    db = site.box.db
    event = await make_event(db, title="Door Night")
    tt = await make_ticket(db, event.id, title="Standing", quantity=50)
    _, tickets = await sell(db, event.id, tt.id, n, name="Ada Lovelace")
    organizer = Scanner(organizer_id=event.organizer_id, can_undo=True, can_manage=True)
    (default,) = await lists.list_lists(db, event.id, organizer)
    phone = await devices.create_device(db, event.id, "Phone A", organizer)
    link = f"{site.url}/door/#list={default.id}&token={phone.token}"
    return Door(site, event.id, default.id, [t.id for t in tickets], organizer), link


async def scan_here(page: Any, code: str) -> Any:
    from playwright.async_api import expect

    field = page.locator("#code")
    await expect(page.locator("#answer")).to_be_hidden()
    await field.fill(code)
    await field.press("Enter")
    answer = page.locator("#answer")
    await expect(answer).to_be_visible()
    return answer


async def dismiss(page: Any) -> None:
    from playwright.async_api import expect

    await page.locator("#answer").click()
    await expect(page.locator("#answer")).to_be_hidden()


async def go_offline(site: LiveServer, context: Any) -> None:
    """No network for the phone: the browser offline, and the cable pulled (offline emulation alone lets some
    requests of a page that a service worker controls through, Playwright issue 2311)."""
    await context.set_offline(True)
    site.cable.unplugged = True


async def go_online(site: LiveServer, context: Any) -> None:
    site.cable.unplugged = False
    await context.set_offline(False)


async def test_scan_go_offline_reload_and_come_back(
    browser_site: LiveServer, browser: Any, screenshot_dir: Path
) -> None:
    from playwright.async_api import expect

    d, link = await door(browser_site)
    context = await browser.new_context(viewport={"width": 390, "height": 844})  # a phone
    violations = await watch_csp(context)
    try:
        page = await context.new_page()
        await page.goto(link)
        await expect(page.locator("#door")).to_have_attribute("data-copy-version", re.compile(".+"))
        assert page.url == f"{browser_site.url}/door/"  # the token left the address bar
        await expect(page.locator("#event-title")).to_have_text("Door Night")
        await expect(page.locator("#list-name")).to_have_text("Entrance")
        await expect(page.locator("#checked-in")).to_have_text("0")
        await expect(page.locator("#total")).to_have_text("4")
        await expect(page.locator("#connection")).to_have_attribute("data-state", "online")

        answer = await scan_here(page, d.code(0))
        await expect(answer).to_have_attribute("data-result", "ok")
        await expect(page.locator("#answer-title")).to_have_text("Welcome")
        await expect(page.locator("#answer-name")).to_have_text("Ada Lovelace")
        await expect(page.locator("#answer-type")).to_have_text("Standing")
        await page.screenshot(path=str(screenshot_dir / "door-ok.png"))
        await dismiss(page)
        await expect(page.locator("#checked-in")).to_have_text("1")  # the live count (SSE)
        answer = await scan_here(page, d.code(0))
        await expect(answer).to_have_attribute("data-result", "already_checked_in")
        await expect(page.locator("#answer-title")).to_have_text("Already checked in")
        await expect(page.locator("#answer-more")).to_contain_text("First in at")
        await page.screenshot(path=str(screenshot_dir / "door-refused.png"))
        await dismiss(page)
        # another device admits ticket 3 while this phone is about to lose the network
        assert await page.evaluate("navigator.serviceWorker.ready.then(() => true)")

        await go_offline(browser_site, context)
        answer = await scan_here(page, d.code(1))
        await expect(answer).to_have_attribute("data-result", "ok")
        await expect(page.locator("#answer-more")).to_contain_text("Admitted offline")
        await expect(page.locator("#connection")).to_have_attribute("data-state", "offline")
        await dismiss(page)
        await expect(page.locator("#pending")).to_have_text("1")
        await expect(page.locator("#checked-in")).to_have_text("2")
        answer = await scan_here(page, d.code(1))
        await expect(answer).to_have_attribute("data-result", "already_checked_in")
        await dismiss(page)
        answer = await scan_here(page, sign_ticket_code(d.tickets[2], b"a forger's key"))
        await expect(answer).to_have_attribute("data-result", "invalid")
        await dismiss(page)
        # meanwhile, at another door with a network, ticket 3 goes in
        online = await scan(
            browser_site.box.db,
            d.list_id,
            ScanRequest(code=d.code(3), device="Phone B"),
            d.organizer,
            keys=browser_site.box.settings.signing_keys,
        )
        assert online.result.value == "ok"
        # this phone does not know: it admits ticket 3 too (the double entry offline scanning allows)
        answer = await scan_here(page, d.code(3))
        await expect(answer).to_have_attribute("data-result", "ok")
        await dismiss(page)
        await expect(page.locator("#pending")).to_have_text("2")
        assert {r.ticket_id for r in await d.rows()} == {d.tickets[0], d.tickets[3]}  # nothing of this phone yet

        # the page opens without a network (service worker) and still has its queue and copy (IndexedDB)
        await page.reload()
        await expect(page.locator("#scanner")).to_be_visible()
        await expect(page.locator("#pending")).to_have_text("2")
        await expect(page.locator("#event-title")).to_have_text("Door Night")
        assert await d.rows() != [] and {r.ticket_id for r in await d.rows()} == {d.tickets[0], d.tickets[3]}
        await page.screenshot(path=str(screenshot_dir / "door-offline.png"))

        await go_online(browser_site, context)
        await page.evaluate("window.dispatchEvent(new Event('online'))")
        await expect(page.locator("#pending-line")).to_be_hidden(timeout=15_000)
        await expect(page.locator("#connection")).to_have_attribute("data-state", "online")

        async def uploaded() -> list[tuple[str, bool, str]] | None:
            rows = await d.rows()
            return sorted((r.ticket_id, r.duplicate, r.device_label) for r in rows) if len(rows) == 4 else None

        assert await eventually(uploaded) == sorted(
            [
                (d.tickets[0], False, "Phone A"),
                (d.tickets[1], False, "Phone A"),
                (d.tickets[3], False, "Phone B"),
                (d.tickets[3], True, "Phone A"),  # the second admission, flagged
            ]
        )
        await expect(page.locator("#checked-in")).to_have_text("3", timeout=15_000)
        await expect(page.locator("#duplicates")).to_have_text("1")
        await expect(page.locator("#duplicates-line")).to_be_visible()
        await page.screenshot(path=str(screenshot_dir / "door-back-online.png"))
        assert violations == []
    finally:
        await context.close()


async def test_manual_search_checks_in_a_buyer_whose_phone_died(browser_site: LiveServer, browser: Any) -> None:
    from playwright.async_api import expect

    d, link = await door(browser_site, n=1)
    context = await browser.new_context(viewport={"width": 390, "height": 844})
    violations = await watch_csp(context)
    try:
        page = await context.new_page()
        await page.goto(link)
        await page.get_by_text("Find a ticket by name, email or order").click()
        await page.get_by_label("Name, email or order id").fill("lovelace")
        await page.get_by_role("button", name="Search").click()
        await page.get_by_role("button", name="Check in").click()
        await expect(page.locator("#answer")).to_have_attribute("data-result", "ok")
        await expect(page.locator("#answer-name")).to_have_text("Ada Lovelace")
        (row,) = await d.rows()
        assert (row.ticket_id, row.manual) == (d.tickets[0], True)
        assert violations == []
    finally:
        await context.close()


async def _kept_on_the_phone(page: Any) -> dict[str, Any]:
    """What the page keeps: its token in localStorage, and how many offline copies and queued scans IndexedDB has."""
    kept: dict[str, Any] = await page.evaluate(
        """() => new Promise((resolve, reject) => {
          const open = indexedDB.open("boxoffice-door", 1);
          open.onerror = () => reject(open.error);
          open.onsuccess = () => {
            const tx = open.result.transaction(["copies", "queue"], "readonly");
            const copies = tx.objectStore("copies").count();
            const queue = tx.objectStore("queue").count();
            tx.oncomplete = () => resolve({
              token: localStorage.getItem("boxoffice.door.token"),
              copies: copies.result,
              queued: queue.result,
            });
          };
        })"""
    )
    return kept


async def test_a_revoked_phone_forgets_its_token_and_its_offline_copy(browser_site: LiveServer, browser: Any) -> None:
    from playwright.async_api import expect

    d, link = await door(browser_site, n=2)
    context = await browser.new_context(viewport={"width": 390, "height": 844})
    try:
        page = await context.new_page()
        await page.goto(link)
        await expect(await scan_here(page, d.code(0))).to_have_attribute("data-result", "ok")
        await dismiss(page)

        async def copy_kept() -> bool:
            kept = await _kept_on_the_phone(page)
            return bool(kept["token"]) and kept["copies"] == 1

        assert await eventually(copy_kept)  # the holders' names are on the phone, for offline use
        (phone,) = await devices.list_devices(browser_site.box.db, d.event_id, d.organizer)
        await browser_site.box.devices.revoke(phone.id, d.organizer)
        field = page.locator("#code")
        await field.fill(d.code(1))
        await field.press("Enter")
        await expect(page.locator("#revoked")).to_be_visible()
        await expect(page.locator("#scanner")).to_be_hidden()

        async def forgotten() -> bool:
            return await _kept_on_the_phone(page) == {"token": None, "copies": 0, "queued": 0}

        assert await eventually(forgotten)
        await page.reload()  # nothing left to scan with
        await expect(page.locator("#unpaired")).to_be_visible()
    finally:
        await context.close()


def y4m_of(image: Image.Image, path: Path, frames: int = 5) -> Path:
    """A YUV4MPEG2 (4:2:0) video showing ``image``: what Chromium's fake camera plays."""
    width, height = image.size
    ycbcr = image.convert("YCbCr")
    y, cb, cr = ycbcr.split()
    half = (width // 2, height // 2)
    planes = y.tobytes() + cb.resize(half).tobytes() + cr.resize(half).tobytes()
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            out.write(b"FRAME\n" + planes)
    return path


async def test_a_fake_camera_shows_a_ticket_and_the_page_reads_it(
    browser_site: LiveServer, tmp_path: Path, screenshot_dir: Path
) -> None:
    from playwright.async_api import async_playwright, expect

    d, link = await door(browser_site, n=1)
    qr = segno.make(d.code(0), error="m", micro=False)
    png = tmp_path / "ticket.png"
    qr.save(str(png), scale=6, border=4)
    frame = Image.new("RGB", (640, 480), "white")
    ticket = Image.open(png).convert("RGB")
    frame.paste(ticket, ((640 - ticket.width) // 2, (480 - ticket.height) // 2))
    video = y4m_of(frame, tmp_path / "ticket.y4m")
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                *CHROMIUM_ARGS,
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-video-capture={video}",
            ],
        )
        try:
            context = await chromium.new_context(viewport={"width": 390, "height": 844})
            await context.grant_permissions(["camera"], origin=browser_site.url)
            violations = await watch_csp(context)
            # the vendored decoder is what reads the code (Chromium on Linux has no BarcodeDetector anyway)
            await context.add_init_script("delete window.BarcodeDetector;")
            page = await context.new_page()
            await page.goto(link)
            await expect(page.locator("#door")).to_have_attribute("data-copy-version", re.compile(".+"))
            await page.get_by_role("button", name="Start camera").click()
            await expect(page.locator("#camera")).to_be_visible()
            await expect(page.locator("#answer")).to_have_attribute("data-result", "ok", timeout=20_000)
            await expect(page.locator("#answer-name")).to_have_text("Ada Lovelace")
            assert await page.locator("#camera").get_attribute("data-decoder") == "jsqr"
            await page.screenshot(path=str(screenshot_dir / "door-camera.png"))
            (row,) = await d.rows()
            assert (row.ticket_id, row.manual, row.device_label) == (d.tickets[0], False, "Phone A")
            assert violations == []
        finally:
            await chromium.close()
