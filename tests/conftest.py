"""Shared fixtures (a migrated SQLite database and a migrated PostgreSQL database of this run's own) and the test
levels as markers.

Every test gets exactly one level, from what it uses, so no test module has to say it:
- ``e2e``: the tests under ``tests/e2e`` (a real browser, server processes) and ``tests/drills`` (which also get
  ``drill``): running servers, killed and restarted;
- ``integration``: a test that takes a database (SQLite or PostgreSQL), a live server, a real SMTP server or a served
  sandbox, directly or through another fixture; or that says so with ``pytest.mark.integration`` (Redis, child
  processes, a database of its own in ``tmp_path``);
- ``unit``: the rest, pure and fast (``./scripts/test -m unit``).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from boxoffice import migrate
from boxoffice.db import Database
from tests import pg

LEVELS = ("unit", "integration", "e2e")
# Fixtures that bring a real component; every database fixture (pg_url, pg_db, fresh_pg, the live servers) depends on
# pg_admin_url or sqlite_url. ``db`` picks its database at run time, so it is named too.
INTEGRATION_FIXTURES = frozenset({"pg_admin_url", "sqlite_url", "db", "smtp_server", "sb", "hooked", "receiver"})
TESTS = Path(__file__).resolve().parent
E2E, DRILLS = TESTS / "e2e", TESTS / "drills"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Marks each test with its level (see the module's docstring) unless it is marked with one already, and the
    drills with ``drill``."""
    for item in items:
        path = Path(str(item.path)).resolve()
        uses = INTEGRATION_FIXTURES.intersection(getattr(item, "fixturenames", ()))
        marked = [name for name in LEVELS if item.get_closest_marker(name)]
        if len(marked) > 1 or (marked == ["unit"] and uses):
            raise pytest.UsageError(f"{item.nodeid}: marked {marked}, using {sorted(uses)}: one level, the right one")
        if path.is_relative_to(DRILLS):
            item.add_marker("drill")
        if marked:
            continue
        if path.is_relative_to(E2E) or path.is_relative_to(DRILLS):
            item.add_marker("e2e")
        elif uses:
            item.add_marker("integration")
        else:
            item.add_marker("unit")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
    """Under CI (``CI`` set, as ``.ci/run`` does) a skipped test fails: a missing Redis, Chromium or server binary
    must never turn into a silent green."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()  # type: ignore[attr-defined]
    if os.environ.get("CI") and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped under CI, which fails the run: {reason}"
    return None


@pytest.fixture(scope="session")
async def pg_admin_url() -> AsyncIterator[str]:
    url, source = await pg.find_server()
    print(f"\nPostgreSQL for tests: {source}")
    yield url


@pytest.fixture(scope="session")
async def pg_url(pg_admin_url: str) -> AsyncIterator[str]:
    """A fresh, migrated PostgreSQL database for this test run (dropped at the end)."""
    url, name = await pg.create_database(pg_admin_url)
    sa_url = pg.to_sqlalchemy_url(url)
    await migrate.upgrade(sa_url)
    yield sa_url
    if not os.environ.get("BOXOFFICE_KEEP_TEST_DB"):
        await pg.drop_database(pg_admin_url, name)


@pytest.fixture(scope="session")
async def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    path = tmp_path_factory.mktemp("sqlite") / "boxoffice.db"
    url = f"sqlite+aiosqlite:///{path}"
    await migrate.upgrade(url)
    yield url


@pytest.fixture(scope="session")
async def pg_db(pg_url: str) -> AsyncIterator[Database]:
    db = Database(pg_url, pool_size=20)
    yield db
    await db.dispose()


@pytest.fixture(scope="session")
async def sqlite_db(sqlite_url: str) -> AsyncIterator[Database]:
    db = Database(sqlite_url)
    yield db
    await db.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest) -> Database:
    """The same test on both databases."""
    name = "sqlite_db" if request.param == "sqlite" else "pg_db"
    return request.getfixturevalue(name)  # type: ignore[no-any-return]


@pytest.fixture
async def fresh_pg(pg_admin_url: str) -> AsyncIterator[tuple[str, Database]]:
    """A PostgreSQL database of the test's own (migrated, dropped afterwards), for drills whose servers must not
    inherit other tests' unpublished outbox rows or emails."""
    url, name = await pg.create_database(pg_admin_url)
    sa_url = pg.to_sqlalchemy_url(url)
    await migrate.upgrade(sa_url)
    db = Database(sa_url, pool_size=5)
    yield sa_url, db
    await db.dispose()
    if not os.environ.get("BOXOFFICE_KEEP_TEST_DB"):
        await pg.drop_database(pg_admin_url, name)
