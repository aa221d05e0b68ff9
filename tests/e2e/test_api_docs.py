"""The interactive API docs work with no internet access: /docs (Swagger UI) and /redoc (ReDoc) load every file from
Boxoffice itself. In a real browser whose requests to any other host are blocked, both render the operations, and
no Content-Security-Policy violation is reported."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.e2e.test_browser import watch_csp
from tests.server import LiveServer

REDOCLY_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


async def offline_context(browser: Any, site: LiveServer) -> tuple[Any, list[str], list[str]]:
    """A browser context that may reach the live server only: every request to another host is aborted (and
    recorded), as on a machine without internet access."""
    own = urlsplit(site.url).netloc
    blocked: list[str] = []
    context = await browser.new_context(viewport={"width": 1200, "height": 900})

    async def only_own_host(route: Any) -> None:
        url = route.request.url
        if urlsplit(url).netloc == own or url.startswith(("data:", "blob:")):
            await route.continue_()
        else:
            blocked.append(url)
            await route.abort()

    await context.route("**/*", only_own_host)
    violations = await watch_csp(context)
    return context, blocked, violations


async def test_swagger_ui_renders_the_operations_offline(
    browser_site: LiveServer, browser: Any, screenshot_dir: Path
) -> None:
    from playwright.async_api import expect

    context, blocked, violations = await offline_context(browser, browser_site)
    try:
        page = await context.new_page()
        response = await page.goto(f"{browser_site.url}/docs")
        assert response is not None and response.status == 200
        operations = page.locator(".opblock")
        await expect(operations.first).to_be_visible(timeout=20_000)
        assert await operations.count() >= 15
        await expect(page.locator(".opblock-summary-path", has_text="/api/v1/events").first).to_be_visible()
        await expect(page.get_by_text("List your events")).to_be_visible()
        # an operation opens, with its fields' descriptions and the ticket type examples
        await page.locator(".opblock-summary", has_text="Add a ticket type").first.click()
        await expect(page.locator(".opblock-body").first).to_be_visible()
        await page.screenshot(path=str(screenshot_dir / "docs.png"))
    finally:
        await context.close()
    assert blocked == [], blocked
    assert violations == [], violations


async def test_redoc_renders_the_operations_offline(
    browser_site: LiveServer, browser: Any, screenshot_dir: Path
) -> None:
    from playwright.async_api import expect

    context, blocked, violations = await offline_context(browser, browser_site)
    try:
        page = await context.new_page()
        response = await page.goto(f"{browser_site.url}/redoc")
        assert response is not None and response.status == 200
        await expect(page.get_by_role("heading", name="List your events").first).to_be_attached(timeout=20_000)
        await expect(page.get_by_role("heading", name="Create an event").first).to_be_attached()
        await page.screenshot(path=str(screenshot_dir / "redoc.png"))
    finally:
        await context.close()
    assert blocked == [], blocked
    # ReDoc always shows Redocly's logo from its CDN, whatever it is told: the docs' policy stops that request
    # before it leaves the browser (the link's text stays). Nothing else is refused.
    assert [v for v in violations if REDOCLY_LOGO not in v] == [], violations
