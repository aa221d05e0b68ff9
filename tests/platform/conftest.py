"""Fixtures of the platform tests: an empty database of each kind, for the migration tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests import pg


@pytest.fixture(params=["sqlite", "postgres"])
async def empty_url(request: pytest.FixtureRequest, tmp_path: Path, pg_admin_url: str) -> AsyncIterator[str]:
    """An empty database (no tables), SQLite then PostgreSQL, dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
        return
    url, name = await pg.create_database(pg_admin_url)
    yield pg.to_sqlalchemy_url(url)
    await pg.drop_database(pg_admin_url, name)
