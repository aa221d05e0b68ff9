"""Schema migrations, run programmatically (``boxoffice migrate``, ``boxoffice serve`` on an embedded database)."""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from boxoffice.db import make_engine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
VERSION_TABLE = "alembic_version"

# Alembic (with Mako, which its script machinery imports) is imported only to run migrations: a web process checks
# the revision (/readyz) without it, which keeps about 6 MB and 100 modules out of every PostgreSQL web worker.


def alembic_config() -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def _revision_fields(path: Path) -> dict[str, object]:
    """A migration file's module-level ``revision`` and ``down_revision`` (literals, as Alembic's template has them)."""
    found: dict[str, object] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        targets = (
            node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        )
        value = node.value if isinstance(node, ast.Assign | ast.AnnAssign) else None
        for target in targets:
            if isinstance(target, ast.Name) and target.id in ("revision", "down_revision") and value is not None:
                found[target.id] = ast.literal_eval(value)
    return found


def head_revision() -> str:
    """The newest revision: the one no other migration names as its ``down_revision`` (the same as Alembic's
    ``ScriptDirectory.get_current_head()``, read from the files without importing Alembic)."""
    downs: dict[str, tuple[str, ...]] = {}
    for path in sorted((MIGRATIONS_DIR / "versions").glob("*.py")):
        fields = _revision_fields(path)
        if isinstance(fields.get("revision"), str):
            down = fields.get("down_revision")
            downs[str(fields["revision"])] = (
                (down,) if isinstance(down, str) else tuple(down) if isinstance(down, tuple | list) else ()
            )
    named = {down for parents in downs.values() for down in parents}
    heads = sorted(revision for revision in downs if revision not in named)
    if len(heads) != 1:
        raise RuntimeError(f"the migrations have {len(heads)} heads, not one: {heads}")
    return heads[0]


async def upgrade(url: str, revision: str = "head") -> None:
    from alembic import command

    await _run(url, lambda conn, cfg: command.upgrade(cfg, revision))


async def downgrade(url: str, revision: str) -> None:
    from alembic import command

    await _run(url, lambda conn, cfg: command.downgrade(cfg, revision))


def _current(conn: Connection) -> str | None:
    if not inspect(conn).has_table(VERSION_TABLE):
        return None
    versions = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    if len(versions) > 1:
        raise RuntimeError(f"the database is at several revisions: {sorted(versions)}")
    return str(versions[0]) if versions else None


async def revision_on(conn: AsyncConnection) -> str | None:
    """The database's revision, read on a connection the caller already has (e.g. one of the service's pool)."""
    return await conn.run_sync(_current)


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
