"""One live Boxoffice (sandbox Stripe, SQLite) for the HTTP hardening tests, plus a way to drive its ASGI app
directly with a hand-made ``receive`` (to see how much of a body the app pulls)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.server import LiveServer, live_server


@pytest.fixture(scope="module")
async def site(sqlite_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LiveServer]:
    async with live_server(sqlite_url, mail_dir=str(tmp_path_factory.mktemp("mail"))) as srv:
        assert srv.box.stripe.is_sandbox
        yield srv
