"""A running Boxoffice with the Stripe sandbox mounted in-process (no STRIPE_SECRET_KEY), on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.server import LiveServer, live_server


@pytest.fixture(scope="module")
async def shop(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LiveServer]:
    mail = tmp_path_factory.mktemp("mail")
    async with live_server(pg_url, mail_dir=str(mail), email_retry_seconds=0.2) as srv:
        yield srv
