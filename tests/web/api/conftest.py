"""A live Boxoffice (sandbox mode) on PostgreSQL with two organizers and their API keys."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from boxoffice.accounts.service import create_api_key
from tests.helpers import unique_email
from tests.server import LiveServer, live_server


@dataclass
class Api:
    srv: LiveServer
    key: str
    other_key: str

    def auth(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.key}"}


@pytest.fixture(scope="module")
async def api(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Api]:
    async with live_server(pg_url, mail_dir=str(tmp_path_factory.mktemp("mail"))) as srv:
        _, key = await create_api_key(srv.box.db, unique_email("org-a"))
        _, other = await create_api_key(srv.box.db, unique_email("org-b"))
        yield Api(srv, key, other)
