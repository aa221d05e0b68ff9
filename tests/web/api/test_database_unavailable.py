"""A database that cannot serve now is a 503 problem with Retry-After, never a 500: PostgreSQL refusing a connection
("too many connections", SQLSTATE 53300: asyncpg's TooManyConnectionsError, which SQLAlchemy wraps in a plain
DBAPIError) and a pool whose connections are all busy past the pool timeout. Once the database serves again, so does
Boxoffice."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from boxoffice.accounts.service import create_api_key
from boxoffice.db import Database
from boxoffice.web.problems import refused_for_now
from tests.helpers import eventually, unique_email
from tests.server import live_server


class DriverError(Exception):
    """A driver's error as SQLAlchemy's adapted DBAPI errors carry it: with the server's SQLSTATE."""

    def __init__(self, sqlstate: str | None) -> None:
        super().__init__(f"SQLSTATE {sqlstate}")
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("sqlstate", "for_now"),
    [
        ("53300", True),  # too many connections (asyncpg: TooManyConnectionsError)
        ("53200", True),  # out of memory
        ("57P03", True),  # the database system is starting up
        ("08006", True),  # connection failure
        ("23505", False),  # a unique violation is Boxoffice's to handle: a 500 if it ever gets this far
        ("42P01", False),  # an undefined table: a fault, not a wait
        (None, False),
    ],
)
def test_which_database_errors_mean_retry_later(sqlstate: str | None, for_now: bool) -> None:
    assert refused_for_now(DBAPIError("SELECT 1", {}, DriverError(sqlstate))) is for_now
    assert refused_for_now(OperationalError("SELECT 1", {}, DriverError(sqlstate)))  # SQLite busy, and the like


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert int(response.headers["retry-after"]) > 0
    body = response.json()
    assert body["status"] == 503 and body["type"].endswith("/unavailable")


@pytest.fixture
async def limited_role(pg_url: str) -> AsyncIterator[tuple[str, Database]]:
    """A login role of its own with the rights Boxoffice needs on the test database, and an admin connection to
    change its connection limit; the role is dropped afterwards."""
    role = f"bo_limited_{secrets.token_hex(4)}"
    admin = Database(pg_url, pool_size=1)
    async with admin.engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(f"CREATE ROLE {role} LOGIN"))
        await conn.execute(text(f"GRANT USAGE ON SCHEMA public TO {role}"))
        await conn.execute(text(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}"))
        await conn.execute(text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}"))
    try:
        yield make_url(pg_url).set(username=role).render_as_string(hide_password=False), admin
    finally:
        async with admin.engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(f"DROP OWNED BY {role}"))
            await conn.execute(text(f"DROP ROLE {role}"))
        await admin.dispose()


async def set_connection_limit(admin: Database, role: str, limit: int) -> None:
    async with admin.engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(f"ALTER ROLE {role} CONNECTION LIMIT {limit}"))


async def test_postgresql_refusing_connections_answers_503_then_serves_again(
    limited_role: tuple[str, Database], tmp_path_factory: pytest.TempPathFactory
) -> None:
    url, admin = limited_role
    role = make_url(url).username
    assert role is not None
    async with live_server(url, mail_dir=str(tmp_path_factory.mktemp("mail"))) as srv:
        _, key = await create_api_key(srv.box.db, unique_email("org"))
        auth = {"Authorization": f"Bearer {key}"}
        assert (await srv.client.get("/api/v1/events", headers=auth)).status_code == 200

        # PostgreSQL now refuses every new connection of the role; the pooled ones go, so requests must connect
        await set_connection_limit(admin, role, 0)
        await srv.box.db.engine.dispose()
        try:
            assert_unavailable(await srv.client.get("/api/v1/events", headers=auth))
            assert_unavailable(await srv.client.get(f"/api/v1/events/ev_{secrets.token_hex(10)}/questions"))
        finally:
            await set_connection_limit(admin, role, -1)

        async def served() -> bool:
            return (await srv.client.get("/api/v1/events", headers=auth)).status_code == 200

        assert await eventually(served)


async def test_an_exhausted_pool_answers_503_then_serves_again(
    pg_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    async with live_server(
        pg_url,
        mail_dir=str(tmp_path_factory.mktemp("mail")),
        database_pool_size=1,
        database_pool_timeout_seconds=0.2,
    ) as srv:
        _, key = await create_api_key(srv.box.db, unique_email("org"))
        auth = {"Authorization": f"Bearer {key}"}
        # the pool's one connection, held busy for as long as the request takes
        async with srv.box.db.engine.connect() as busy:
            await busy.execute(text("SELECT 1"))
            assert_unavailable(await srv.client.get("/api/v1/events", headers=auth))

        async def served() -> bool:
            return (await srv.client.get("/api/v1/events", headers=auth)).status_code == 200

        assert await eventually(served)
