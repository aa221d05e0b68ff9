"""The door scanner page and its service worker as served: the page's own policy, the words of every result, the
files the service worker keeps, and the vendored QR decoder as published."""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from boxoffice.checkin.rules import REFUSALS
from boxoffice.web.headers import DOOR_POLICY
from tests.server import LiveServer, live_server

VENDOR = Path(__file__).resolve().parents[3] / "src" / "boxoffice" / "web" / "static" / "vendor" / "jsqr"


@pytest.fixture(scope="module")
async def site(sqlite_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LiveServer]:
    """The page and its files need no worker: none runs (it would drain the session's shared outbox)."""
    async with live_server(sqlite_url, mail_dir=str(tmp_path_factory.mktemp("mail")), run_worker=False) as srv:
        yield srv


async def test_the_page_carries_its_policy_and_the_words_of_every_result(site: LiveServer) -> None:
    page = await site.client.get("/door/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == DOOR_POLICY
    assert page.headers["cache-control"] == "no-cache"
    assert "'unsafe-inline'" not in DOOR_POLICY and "default-src 'none'" in DOOR_POLICY
    assert re.findall(r"<script(?![^>]*\bsrc=)", page.text) == []  # every script is a file of this origin
    assert re.findall(r"\son[a-z]+=", page.text) == []  # and no inline event handler
    attribute = re.search(r'data-words="([^"]*)"', page.text)
    assert attribute is not None
    words = json.loads(html.unescape(attribute.group(1)))
    assert set(words) == {r.value for r in REFUSALS}
    assert words["already_checked_in"] == "Already checked in" and words["invalid"] == "Not a ticket of this event"
    assert (await site.client.get("/door", follow_redirects=False)).status_code in (307, 308)


async def test_the_service_worker_keeps_the_page_and_its_files(site: LiveServer) -> None:
    sw = await site.client.get("/door/sw.js")
    assert sw.status_code == 200 and sw.headers["content-type"].startswith("text/javascript")
    assert sw.headers["cache-control"] == "no-cache"
    # a worker's own fetches follow the policy its script came with: the API and this origin's files
    assert sw.headers["content-security-policy"] == DOOR_POLICY and "connect-src 'self'" in DOOR_POLICY
    match = re.search(r"const SHELL = (\[.*?\]);", sw.text)
    assert match is not None
    shell = json.loads(match.group(1))
    assert shell[0] == "/door/" and len(shell) == 4
    page = (await site.client.get("/door/")).text
    for url in shell[1:]:
        assert f'"{html.escape(url)}"' in page or f'"{url}"' in page, url  # exactly the URLs the page loads
        assert (await site.client.get(url)).status_code == 200, url
    again = await site.client.get("/door/sw.js")
    assert again.text == sw.text  # a new cache only when a file changes


def test_the_vendored_decoder_is_the_published_file_with_its_licence() -> None:
    recorded = (VENDOR / "VENDOR.txt").read_text()
    digest = hashlib.sha256((VENDOR / "jsQR.js").read_bytes()).hexdigest()
    assert f"SHA-256 of jsQR.js: {digest}" in recorded
    assert "Apache License" in (VENDOR / "LICENSE.txt").read_text()
