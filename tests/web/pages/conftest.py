"""The buyer pages' fixtures: one live server (sandbox Stripe, SQLite) shared by the module's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.server import LiveServer, live_server


@pytest.fixture(scope="module")
async def site(sqlite_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LiveServer]:
    async with live_server(sqlite_url, mail_dir=str(tmp_path_factory.mktemp("mail"))) as srv:
        assert srv.box.stripe.is_sandbox
        yield srv
