"""Fixtures for the outgoing-webhook tests: a real receiver, and a live Boxoffice (worker running) whose webhooks may
go to loopback, with fast retries, and an organizer with an API key."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from boxoffice.accounts.service import create_api_key
from boxoffice.db import Database
from boxoffice.integrations import endpoints
from tests.helpers import make_event, unique_email
from tests.integrations.receiver import Receiver
from tests.server import LiveServer, live_server

FAST: dict[str, Any] = {
    "webhook_allow_loopback": True,
    "webhook_retry_seconds": 0.05,
    "webhook_max_retry_delay_seconds": 0.2,
    "webhook_timeout_seconds": 5.0,
    "webhook_claim_seconds": 10.0,
}


@dataclass
class Hooks:
    srv: LiveServer
    key: str
    organizer_email: str
    organizer_id: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    async def register(self, url: str, event_types: list[str] | None = None, **extra: Any) -> dict[str, Any]:
        r = await self.srv.client.post(
            "/api/v1/webhook-endpoints",
            json={"url": url, "event_types": event_types or ["*"], **extra},
            headers=self.auth,
        )
        assert r.status_code == 201, r.text
        body: dict[str, Any] = r.json()
        return body

    async def deliveries(self, endpoint_id: str, **params: Any) -> list[dict[str, Any]]:
        r = await self.srv.client.get(
            f"/api/v1/webhook-endpoints/{endpoint_id}/deliveries", params={"limit": 200, **params}, headers=self.auth
        )
        assert r.status_code == 200, r.text
        found: list[dict[str, Any]] = r.json()
        return found


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    hook = await Receiver().start()
    try:
        yield hook
    finally:
        hook.release.set()
        await hook.stop()


@asynccontextmanager
async def running_hooks(database_url: str, tmp_path: Path, **overrides: Any) -> AsyncIterator[Hooks]:
    """A live Boxoffice on ``database_url`` with its worker running, and an organizer with an API key. Its
    endpoints are deleted at the end, so no later test's worker retries them."""
    settings = {**FAST, **overrides}
    async with live_server(database_url, mail_dir=str(tmp_path / "mail"), **settings) as srv:
        email = unique_email("org-hooks")
        key_row, key = await create_api_key(srv.box.db, email)
        hooks = Hooks(srv, key, email, key_row.person_id)
        try:
            yield hooks
        finally:
            for endpoint in await endpoints.list_endpoints(srv.box.db, hooks.organizer_id):
                await endpoints.delete_endpoint(srv.box.db, endpoint.id, hooks.organizer_id)


@pytest.fixture
async def hooks(pg_url: str, tmp_path: Path) -> AsyncIterator[Hooks]:
    async with running_hooks(pg_url, tmp_path) as running:
        yield running


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    return url


@pytest.fixture
async def hooks_on_both(database_url: str, tmp_path: Path) -> AsyncIterator[Hooks]:
    async with running_hooks(database_url, tmp_path) as running:
        yield running


@dataclass
class Org:
    """An organizer with an event, on a database of the test's choice; its endpoints are deleted at the end."""

    db: Database
    organizer_id: str
    event_id: str


@asynccontextmanager
async def organizer_on(db: Database) -> AsyncIterator[Org]:
    event = await make_event(db)
    org = Org(db, event.organizer_id, event.id)
    try:
        yield org
    finally:
        for endpoint in await endpoints.list_endpoints(db, org.organizer_id):
            await endpoints.delete_endpoint(db, endpoint.id, org.organizer_id)


@pytest.fixture
async def org(pg_db: Database) -> AsyncIterator[Org]:
    async with organizer_on(pg_db) as made:
        yield made


@pytest.fixture
async def org_on_both(db: Database) -> AsyncIterator[Org]:
    async with organizer_on(db) as made:
        yield made


@pytest.fixture(scope="module")
async def strict_hooks(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Hooks]:
    """A server as production checks addresses (no loopback), http allowed (env test)."""
    async with running_hooks(pg_url, tmp_path_factory.mktemp("strict"), webhook_allow_loopback=False) as running:
        yield running
