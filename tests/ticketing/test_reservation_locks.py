"""The one-statement reservation and confirmation run inside PL/pgSQL functions of the connection's temporary schema
that first lock the rows every order of a sale updates (``locked_first``): a function is made on each connection that
needs it, made again when the session forgot it, and where a connection may not make one, the statement alone still
reserves."""

from __future__ import annotations

import asyncio
import logging
import secrets

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError

from boxoffice.db import Database, is_deadlock, sqlstate
from boxoffice.errors import SoldOut
from boxoffice.ticketing import locked_first
from boxoffice.ticketing.confirm_pg import confirm_paid_in_one_statement
from boxoffice.ticketing.reserve import reserve
from boxoffice.web.problems import refused_for_now
from tests.helpers import counters, make_event, make_ticket, order_request

pytestmark = pytest.mark.postgres


async def _functions_of_this_session(db: Database) -> list[str]:
    async with db.plain() as connection:
        rows = await connection.execute(
            text("SELECT proname FROM pg_proc WHERE pronamespace = pg_my_temp_schema() ORDER BY proname")
        )
        return [name for (name,) in rows.all()]


async def test_the_function_is_made_once_per_connection_and_again_after_discard_temp(pg_url: str) -> None:
    db = Database(pg_url, pool_size=1)  # one connection: every call below is on it
    try:
        event = await make_event(db)
        tt = await make_ticket(db, event.id, base_price_cents=1000, quantity=10)
        await reserve(db, order_request(event.id, (tt.id, 1)))
        await reserve(db, order_request(event.id, (tt.id, 2)))
        made = await _functions_of_this_session(db)
        assert len(made) == 1 and made[0].startswith("boxoffice_reserve_")
        async with db.plain() as connection:
            await connection.execute(text("DISCARD TEMP"))  # what a pooler's reset, for one, does
        assert await _functions_of_this_session(db) == []
        order = await reserve(db, order_request(event.id, (tt.id, 3)))
        assert order.status == "pending" and [line.quantity for line in order.lines] == [3]
        assert await _functions_of_this_session(db) == made
        assert await counters(db, tt.id) == (10, 0, 6)
    finally:
        await db.dispose()


async def test_without_the_temporary_privilege_the_statement_alone_reserves(
    fresh_pg: tuple[str, Database], caplog: pytest.LogCaptureFixture
) -> None:
    url, owner = fresh_pg
    async with owner.plain() as connection:
        if await connection.scalar(text("SELECT current_setting('is_superuser')")) != "on":
            pytest.skip("making a role without the TEMPORARY privilege takes a superuser")
    event = await make_event(owner)
    tt = await make_ticket(owner, event.id, base_price_cents=1000, quantity=10)
    role = f"boxoffice_no_temp_{secrets.token_hex(4)}"
    database = make_url(url).database
    grants = [
        f"CREATE ROLE {role} LOGIN",
        f"REVOKE TEMPORARY ON DATABASE {database} FROM PUBLIC",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
        f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {role}",
    ]
    async with owner.plain() as connection:
        for statement in grants:
            await connection.execute(text(statement))
    limited = Database(make_url(url).set(username=role, password=None).render_as_string(hide_password=False))
    try:
        with caplog.at_level(logging.WARNING, logger=locked_first.__name__):
            first = await reserve(limited, order_request(event.id, (tt.id, 2)))
            second = await reserve(limited, order_request(event.id, (tt.id, 1)))
        assert first.status == second.status == "pending"
        assert await counters(owner, tt.id) == (10, 0, 3)
        assert await _functions_of_this_session(limited) == []
        assert "could not be made" in caplog.text
    finally:
        await limited.dispose()
        async with owner.plain() as connection:
            await connection.execute(text(f"DROP OWNED BY {role}"))
            await connection.execute(text(f"DROP ROLE {role}"))


async def test_the_confirmation_function_is_made_again_after_discard_temp(pg_url: str) -> None:
    """The one-statement confirmation runs in a transaction: when the session forgot its function, the failed
    transaction is run again with the function made anew, and the order is confirmed once."""
    db = Database(pg_url, pool_size=1)
    try:
        event = await make_event(db)
        tt = await make_ticket(db, event.id, base_price_cents=1000, quantity=10)
        first = await reserve(db, order_request(event.id, (tt.id, 1)))
        assert await confirm_paid_in_one_statement(db, first.id, amount=1000, currency="usd", payment_intent_id=None)
        assert "boxoffice_confirm" in await _functions_of_this_session(db)
        async with db.plain() as connection:
            await connection.execute(text("DISCARD TEMP"))
        second = await reserve(db, order_request(event.id, (tt.id, 2)))  # (its own function is made again here)
        async with db.plain() as connection:
            await connection.execute(text("DISCARD TEMP"))
        assert await confirm_paid_in_one_statement(db, second.id, amount=2000, currency="usd", payment_intent_id=None)
        assert not await confirm_paid_in_one_statement(
            db, second.id, amount=2000, currency="usd", payment_intent_id=None
        )
        assert "boxoffice_confirm" in await _functions_of_this_session(db)
        assert await counters(db, tt.id) == (10, 3, 0)
        async with db.read() as session:
            tickets = await session.scalar(
                text("SELECT count(*) FROM tickets WHERE order_id IN (:a, :b)"), {"a": first.id, "b": second.id}
            )
        assert tickets == 3
    finally:
        await db.dispose()


async def test_once_sold_out_an_order_waits_for_no_lock(pg_db: Database) -> None:
    """The function locks a ticket type only while it can serve the order: with its tickets gone, an order is
    answered sold out even while another transaction holds the ticket type's row (it queued behind every lock
    holder, one by one, when the lock was taken whatever was left)."""
    event = await make_event(pg_db)
    tt = await make_ticket(pg_db, event.id, base_price_cents=1000, quantity=1)
    await reserve(pg_db, order_request(event.id, (tt.id, 1)))
    async with pg_db.engine.connect() as blocker:
        await blocker.execute(text("SELECT 1 FROM ticket_types WHERE id = :id FOR NO KEY UPDATE"), {"id": tt.id})
        attempt = asyncio.create_task(reserve(pg_db, order_request(event.id, (tt.id, 1))))
        blocked = False
        while not attempt.done() and not blocked:
            await asyncio.sleep(0.02)
            blocked = bool(
                await blocker.scalar(
                    text("SELECT count(*) FROM pg_stat_activity WHERE pg_backend_pid() = ANY(pg_blocking_pids(pid))")
                )
            )
        await blocker.rollback()
    with pytest.raises(SoldOut):
        await attempt
    assert not blocked, "the sold-out order waited for the ticket type's lock"


def _probe(statement: str) -> locked_first.LockedFirst:
    """A ``LockedFirst`` whose statement is ``statement`` (one varchar column ``x``), locking nothing."""
    return locked_first.LockedFirst(
        f"boxoffice_probe_{secrets.token_hex(4)}", text(statement), column="x", locks="", types={"v": "integer"}
    )


IN_TRANSACTION = pytest.mark.parametrize("transaction", [False, True], ids=["autocommit", "in a transaction"])


@IN_TRANSACTION
async def test_the_driver_s_errors_reach_the_caller_as_sqlalchemy_s(pg_url: str, transaction: bool) -> None:
    """The call runs on the driver's connection; its errors are SQLAlchemy's, SQLSTATE included: a unique
    violation is an ``IntegrityError`` (an Idempotency-Key used twice), a deadlock one that ``retrying_deadlocks``
    recognizes; in a transaction, what the failed call wrote is rolled back; the connection stays usable."""
    db = Database(pg_url, pool_size=1)
    try:
        async with db.plain() as connection:
            await connection.execute(text("CREATE TEMP TABLE probe_once (v integer PRIMARY KEY)"))
            insert = _probe("INSERT INTO probe_once (v) VALUES (:v) RETURNING CAST(v AS varchar) AS out_x")
            assert [row.x for row in await insert.run(connection, {"v": 7}, transaction=transaction)] == ["7"]
            with pytest.raises(IntegrityError) as unique:
                await insert.run(connection, {"v": 7}, transaction=transaction)
            assert sqlstate(unique.value) == "23505"
            await connection.execute(
                text(
                    "CREATE FUNCTION pg_temp.raise_deadlock() RETURNS integer LANGUAGE plpgsql AS "
                    "$$ BEGIN INSERT INTO probe_once (v) VALUES (8); "
                    "RAISE EXCEPTION 'a deadlock' USING ERRCODE = '40P01'; END $$"
                )
            )
            deadlock = _probe("SELECT CAST(pg_temp.raise_deadlock() AS varchar) AS out_x WHERE :v > 0")
            with pytest.raises(DBAPIError) as caught:
                await deadlock.run(connection, {"v": 1}, transaction=transaction)
            assert is_deadlock(caught.value)
            assert (await connection.execute(text("SELECT array_agg(v) FROM probe_once"))).scalar() == [7]
            assert not (await connection.get_raw_connection()).driver_connection.is_in_transaction()  # type: ignore[union-attr]
    finally:
        await db.dispose()


async def test_a_call_in_a_transaction_commits_what_it_wrote(pg_url: str) -> None:
    """BEGIN, the call, COMMIT: what the call wrote is there for every other connection, and the connection is
    back in autocommit (no transaction left open)."""
    db = Database(pg_url, pool_size=2)
    try:
        async with db.plain() as connection:
            await connection.execute(text("CREATE TABLE IF NOT EXISTS probe_committed (v integer)"))
        try:
            value = secrets.randbelow(10**6)
            insert = _probe("INSERT INTO probe_committed (v) VALUES (:v) RETURNING CAST(v AS varchar) AS out_x")
            async with db.plain() as connection:
                assert [row.x for row in await insert.run(connection, {"v": value}, transaction=True)] == [str(value)]
                raw = await connection.get_raw_connection()
                assert not raw.driver_connection.is_in_transaction()  # type: ignore[union-attr]
                async with db.plain() as other:
                    seen = await other.scalar(text("SELECT count(*) FROM probe_committed WHERE v = :v"), {"v": value})
                assert seen == 1
        finally:
            async with db.plain() as connection:
                await connection.execute(text("DROP TABLE probe_committed"))
    finally:
        await db.dispose()


@IN_TRANSACTION
async def test_a_call_cancelled_while_it_waits_leaves_no_connection_behind_in_the_pool(
    pg_url: str, transaction: bool
) -> None:
    db = Database(pg_url, pool_size=1)
    try:
        waits = _probe("SELECT CAST(1 AS varchar) AS out_x FROM pg_sleep(:v)")
        started = asyncio.Event()

        pids: list[int] = []

        async def call() -> None:
            async with db.plain() as connection:
                pids.append(await connection.scalar(text("SELECT pg_backend_pid()")))
                started.set()
                await waits.run(connection, {"v": 30}, transaction=transaction)

        task = asyncio.create_task(call())
        await started.wait()
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        async with db.plain() as connection:  # the pool's one connection: a new one, not the interrupted one
            assert await connection.scalar(text("SELECT pg_backend_pid()")) != pids[0]
            rows = await _probe("SELECT CAST(:v AS varchar) AS out_x").run(connection, {"v": 5})
            assert [row.x for row in rows] == ["5"]
    finally:
        await db.dispose()


@IN_TRANSACTION
async def test_a_call_on_a_connection_the_server_dropped_is_a_lost_connection_and_is_replaced(
    pg_url: str, transaction: bool
) -> None:
    """The server ended the pooled connection (a restart, ``pg_terminate_backend``): the call's error says the
    connection was invalidated (the API answers 503 for it, as for SQLAlchemy's own statements), and the pool hands
    out a new connection next."""
    db = Database(pg_url, pool_size=1)
    try:
        probe = _probe("SELECT CAST(:v AS varchar) AS out_x")
        async with db.plain() as connection:
            first = await connection.scalar(text("SELECT pg_backend_pid()"))
            await probe.run(connection, {"v": 1})  # the function made on this connection
        killer = Database(pg_url, pool_size=1)
        try:
            async with killer.plain() as connection:
                await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        finally:
            await killer.dispose()
        async with db.plain() as connection:
            raw = await connection.get_raw_connection()
            for _ in range(100):  # until the driver has seen the server close it
                if raw.driver_connection.is_closed():  # type: ignore[union-attr]
                    break
                await asyncio.sleep(0.02)
            with pytest.raises(DBAPIError) as lost:
                await probe.run(connection, {"v": 2}, transaction=transaction)
        assert lost.value.connection_invalidated
        assert refused_for_now(lost.value)
        async with db.plain() as connection:
            assert await connection.scalar(text("SELECT pg_backend_pid()")) != first
            rows = await probe.run(connection, {"v": 3})
            assert [row.x for row in rows] == ["3"]
    finally:
        await db.dispose()
