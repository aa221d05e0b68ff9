"""/readyz: database and migration checks on the service's own pool, the migration scripts read once, the database
checks cached for a moment (however often the endpoint is polled), the in-memory Stripe and pub/sub flags fresh."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from boxoffice import migrate
from boxoffice.container import Boxoffice
from boxoffice.web import system
from boxoffice.web.app import create_app
from tests.server import settings_for

pytestmark = pytest.mark.integration  # a migrated SQLite database of each test's own


@dataclass
class Probe:
    client: httpx.AsyncClient
    box: Boxoffice
    readiness: system.Readiness
    now: list[float]
    calls: dict[str, int]
    statements: list[str]


@pytest.fixture
async def probe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Probe]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'ready.db'}"
    revisions = [r.revision for r in migrate_revisions()]
    await migrate.upgrade(url, revisions[-2])  # one migration behind: not ready yet
    box = Boxoffice(settings_for(url, mail_dir=str(tmp_path / "mail")))
    app = create_app(box=box, migrate_sqlite=False)
    readiness = system.readiness_of(app)
    now = [1000.0]
    readiness.clock = lambda: now[0]
    calls = {"head_revision": 0, "revision_on": 0}

    def counting(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            calls[name] += 1
            return real(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(migrate, "head_revision", counting("head_revision", migrate.head_revision))
    monkeypatch.setattr(migrate, "revision_on", counting("revision_on", migrate.revision_on))

    async def own_engine(*args: object, **kwargs: object) -> None:
        raise AssertionError("/readyz must use the service's pool, not an engine of its own")

    monkeypatch.setattr(migrate, "current_revision", own_engine)
    monkeypatch.setattr(migrate, "is_current", own_engine)
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    event.listen(box.db.engine.sync_engine, "before_cursor_execute", record)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ready.test") as client:
            yield Probe(client, box, readiness, now, calls, statements)
    finally:
        monkeypatch.undo()
        await box.gateway.close()
        await box.db.dispose()


def migrate_revisions() -> list[Any]:
    from alembic.script import ScriptDirectory

    return list(reversed(list(ScriptDirectory.from_config(migrate.alembic_config()).walk_revisions())))


async def test_readyz_answers_from_its_cache_within_the_window(probe: Probe) -> None:
    first = await probe.client.get("/readyz")
    assert first.status_code == 503 and first.json()["checks"]["migrations"].startswith("pending")
    assert probe.calls == {"head_revision": 1, "revision_on": 1} and probe.statements
    touched = len(probe.statements)

    probe.now[0] += 1.0  # within the window: neither the database nor the migration scripts are touched
    for _ in range(5):
        again = await probe.client.get("/readyz")
        assert again.status_code == 503 and again.json() == first.json()
    assert len(probe.statements) == touched
    assert probe.calls == {"head_revision": 1, "revision_on": 1}


async def test_migrations_are_rechecked_until_current_then_no_more(probe: Probe) -> None:
    assert (await probe.client.get("/readyz")).status_code == 503
    await migrate.upgrade(probe.box.db.url)
    probe.now[0] += system.READY_CACHE_SECONDS  # the window is over
    ready = await probe.client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {
        "database": "ok",
        "migrations": "ok",
        "stripe": "ok (sandbox mode)",
        "pubsub": "ok",
    }
    assert probe.calls == {"head_revision": 1, "revision_on": 2}  # the scripts were read once
    touched = len(probe.statements)
    probe.now[0] += system.READY_CACHE_SECONDS
    assert (await probe.client.get("/readyz")).status_code == 200
    assert len(probe.statements) > touched  # the database is checked again after the window...
    assert probe.calls == {"head_revision": 1, "revision_on": 2}  # ...but current migrations are not re-read


async def test_in_memory_flags_are_fresh_inside_the_window(probe: Probe) -> None:
    await probe.readiness.warm()  # as at start: the migrations are checked once
    assert probe.calls == {"head_revision": 1, "revision_on": 1}
    assert (await probe.client.get("/readyz")).json()["checks"]["stripe"] == "ok (sandbox mode)"
    probe.box.gateway.key_rejected = True
    try:
        rejected = await probe.client.get("/readyz")
        assert rejected.status_code == 503 and "key rejected" in rejected.json()["checks"]["stripe"]
    finally:
        probe.box.gateway.key_rejected = False
