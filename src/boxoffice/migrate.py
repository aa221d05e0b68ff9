"""Schema migrations, run programmatically (``boxoffice migrate``, ``boxoffice serve`` on an embedded database)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from boxoffice.db import make_engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


async def upgrade(url: str, revision: str = "head") -> None:
    await _run(url, lambda conn, cfg: command.upgrade(cfg, revision))


async def downgrade(url: str, revision: str) -> None:
    await _run(url, lambda conn, cfg: command.downgrade(cfg, revision))


async def revision_on(conn: AsyncConnection) -> str | None:
    """The database's revision, read on a connection the caller already has (e.g. one of the service's pool)."""
    return await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())


async def current_revision(url: str) -> str | None:
    """The revision of the database at ``url``, on an engine of its own (for tools; the service uses its pool)."""
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return await revision_on(conn)
    finally:
        await engine.dispose()


async def is_current(url: str) -> bool:
    return await current_revision(url) == head_revision()


async def _run(url: str, action: Callable[[Connection, Config], None]) -> None:
    # SQLite migrations rebuild tables (batch mode), which foreign keys would block; they are checked afterwards.
    engine = make_engine(url, foreign_keys=False)
    try:
        async with engine.begin() as conn:

            def run(sync_conn: Connection) -> None:
                cfg = alembic_config()
                cfg.attributes["connection"] = sync_conn
                action(sync_conn, cfg)

            await conn.run_sync(run)
            if conn.dialect.name == "sqlite":
                problems = (await conn.exec_driver_sql("PRAGMA foreign_key_check")).all()
                if problems:
                    raise RuntimeError(f"foreign key violations after migration: {problems[:5]}")
    finally:
        await engine.dispose()
