"""Browser fixtures: a live server (sandbox Stripe, SQLite) and Debian's Chromium driven by Playwright.

Without /usr/bin/chromium the browser tests are skipped, except under CI (``CI`` set), where they fail.
Screenshots go to the test's tmp dir, or to ``BOXOFFICE_SCREENSHOT_DIR`` when it is set.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.server import LiveServer, live_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require_chromium() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("CI"):
        pytest.fail(
            f"{CHROMIUM} is required for the browser tests under CI: install Debian's chromium "
            "(apt-get install -y chromium); do not use `playwright install`",
            pytrace=False,
        )
    pytest.skip(f"no {CHROMIUM}: install Debian's chromium (apt-get install -y chromium) to run the browser tests")


@pytest.fixture(scope="module")
async def browser_site(sqlite_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LiveServer]:
    require_chromium()
    async with live_server(sqlite_url, mail_dir=str(tmp_path_factory.mktemp("mail"))) as srv:
        yield srv


@pytest.fixture(scope="module")
async def browser(browser_site: LiveServer) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
def screenshot_dir(tmp_path: Path) -> Path:
    target = Path(os.environ.get("BOXOFFICE_SCREENSHOT_DIR") or tmp_path / "screenshots")
    target.mkdir(parents=True, exist_ok=True)
    return target
