"""Statements that update a sale's hot rows, run on PostgreSQL inside a function that locks those rows first.

In a flash sale every order updates the same row (the ticket type's; with a code, the voucher's too), and so does
every confirmation, so most of these statements wait for it. A statement that waited for a row that another one
updated meanwhile re-checks it on its newest version (PostgreSQL's EvalPlanQual), and that re-check first sets up
again every part of the statement, each of its CTEs: about as much PostgreSQL CPU as the statement itself, paid by
nearly every order, and twice by a voucher order, which waits on two rows (``benchmarks/hot_rows.py``).

So such a statement runs inside a PL/pgSQL function that first locks those rows with small statements (in the order
every writer locks them: a voucher, then ticket types by id) and only then runs the statement itself, with a snapshot
taken once the locks are held: nothing it reads has changed under it, so there is nothing to re-check. It is still
one round trip and one statement's worth of atomicity (the function call). The function lives in the connection's
own temporary schema (``pg_temp``) and is made the first time a connection needs it: no schema object, nothing to
migrate, and its body is always the statement's current text. Its one argument is the parameters as a JSON object;
``LockedFirst`` rewrites each ``:name`` of the statement into a typed read of it.

Where a connection may not make one (no TEMPORARY privilege on the database), the statement runs alone: correct, only
slower under contention. A session that forgot its functions (``DISCARD TEMP``, a pooler's reset) makes them again.
"""

from __future__ import annotations

import logging
import re
from collections import namedtuple
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import asyncpg
from pydantic_core import to_json
from sqlalchemy import Row, TextClause
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.pool import PoolProxiedConnection

from boxoffice.db import session_ended, sqlstate

log = logging.getLogger(__name__)

UNDEFINED_FUNCTION = "42883"
INSUFFICIENT_PRIVILEGE = "42501"
_PARAMETER = re.compile(r"(?<![:\w]):([a-z_]+)\b")
_T = TypeVar("_T")
_MADE = "boxoffice_locked_first"  # per connection (its ``info``): function name -> whether it could be made

# Off: every statement runs alone (``benchmarks/hot_rows.py`` compares the two).
ENABLED = True


class FunctionUnavailable(Exception):
    """The function could not be made on this connection (or ``ENABLED`` is off), and its statement may not run
    alone: nothing was run."""


def parameter_types(**listed: str) -> dict[str, str]:
    """Each parameter's SQL type, from ``type="name name ..."`` (``timestamptz="now expires_at"``)."""
    return {name: kind for kind, names in listed.items() for name in names.split()}


class LockedFirst:
    """``statement`` (whose rows are returned as its column ``column``, a string, then the columns of ``also``, each
    name with its SQL type) inside ``pg_temp.<name>``, which first runs ``locks`` (PL/pgSQL statements reading the
    parameters as ``_a ->> 'name'``). ``types``: the SQL type of each parameter of the statement (``jsonb`` ones are
    passed as they are); one without a type fails here, when the module that makes it is imported. ``declare``: the
    function's variables, for ``locks`` that need some (they may also end the call early with ``RETURN QUERY ...;
    RETURN;``). ``alone``: whether the statement may run without the function (where it cannot be made); when not
    (``locks`` do more than lock), ``run`` raises ``FunctionUnavailable`` instead."""

    def __init__(
        self,
        name: str,
        statement: TextClause,
        *,
        column: str,
        locks: str,
        types: Mapping[str, str],
        declare: str = "",
        alone: bool = True,
        also: Mapping[str, str] | None = None,
    ) -> None:
        self.name, self.statement, self.alone = name, statement, alone

        def argument(match: re.Match[str]) -> str:
            kind = types[match.group(1)]
            return f"(_a -> '{match.group(1)}')" if kind == "jsonb" else f"CAST(_a ->> '{match.group(1)}' AS {kind})"

        columns = {column: "varchar", **(also or {})}
        self.ddl = (
            f"CREATE OR REPLACE FUNCTION pg_temp.{name}(_a jsonb) RETURNS TABLE ("
            + ", ".join(f"out_{key} {kind}" for key, kind in columns.items())
            + ")\n"
            "LANGUAGE plpgsql VOLATILE AS $function$\n#variable_conflict use_column\n"
            + (f"DECLARE\n{declare.strip()}\n" if declare else "")
            + "BEGIN\n"
            + f"{locks.strip()}\nRETURN QUERY {_PARAMETER.sub(argument, statement.text)};\nEND\n$function$"
        )
        outputs = ", ".join(f"out_{key} AS {key}" for key in columns)
        self._call_sql = f"SELECT {outputs} FROM pg_temp.{name}(CAST($1 AS jsonb))"
        self._row = namedtuple("_Row", list(columns))  # type: ignore[misc]  # rows as SQLAlchemy's read

    async def run(
        self, connection: AsyncConnection, params: dict[str, Any], *, transaction: bool = False
    ) -> list[Row[Any]]:
        """The statement's rows: through the function (made on this connection first if need be), or alone.
        ``connection``: an autocommit one (``Database.plain()``), with nothing else running on it. The call is sent
        on the driver's connection itself, without SQLAlchemy's execution machinery (a greenlet, its cursor, its
        result; a sixth of a web process's CPU per order went to them): alone in its transaction (autocommit), or
        with ``transaction`` inside BEGIN and COMMIT, so that a process killed while the call waits for a lock
        leaves nothing done (PostgreSQL aborts the open transaction of a client that is gone, where an autocommit
        statement would finish and commit by itself); a failed call is rolled back. The function is made outside
        any transaction and stays made; a session that forgot it makes it again and calls it again."""
        raw = await connection.get_raw_connection()
        if not getattr(raw.dbapi_connection, "autocommit", False):
            raise TypeError(f"pg_temp.{self.name} runs on an autocommit connection (Database.plain())")
        made: dict[str, bool] = raw.info.setdefault(_MADE, {})
        argument = to_json(params).decode()  # datetimes as ISO 8601 (UTC written "Z")

        async def call() -> list[Any]:
            records = await _on_driver(raw, "fetch", self._call_sql, argument)
            return [self._row(*record) for record in records]

        async def alone() -> list[Row[Any]]:
            return list((await connection.execute(self.statement, params)).all())

        for _ in range(2):
            if self.name not in made:
                try:
                    await _on_driver(raw, "execute", self.ddl)
                    made[self.name] = True
                except DBAPIError as exc:
                    if sqlstate(exc) != INSUFFICIENT_PRIVILEGE:
                        raise
                    log.warning("pg_temp.%s could not be made (%s): its statement runs alone", self.name, exc.orig)
                    made[self.name] = False
            if not (made[self.name] and ENABLED):
                if not self.alone:
                    raise FunctionUnavailable(self.name)
                return await _in_transaction(raw, alone) if transaction else await alone()
            try:
                return await _in_transaction(raw, call) if transaction else await call()
            except DBAPIError as exc:
                if sqlstate(exc) != UNDEFINED_FUNCTION:
                    raise
                del made[self.name]  # (rolled back: the connection is ready to make it again)
        raise RuntimeError(f"pg_temp.{self.name} vanished twice in a row")


async def _in_transaction(raw: PoolProxiedConnection, work: Callable[[], Awaitable[_T]]) -> _T:
    """``work`` between BEGIN and COMMIT sent on the driver's connection under ``raw`` (in autocommit, so
    SQLAlchemy sends neither). A failure of ``work`` or of the COMMIT is rolled back before it reaches the caller;
    a connection that cannot be rolled back (lost, or its state unknown) is invalidated, never handed out again."""
    await _on_driver(raw, "execute", "BEGIN")
    try:
        result = await work()
        await _on_driver(raw, "execute", "COMMIT")
    except Exception:
        if raw.is_valid:
            try:
                await _on_driver(raw, "execute", "ROLLBACK")
            except Exception:
                if raw.is_valid:
                    raw.invalidate()
        raise
    except BaseException:  # a cancellation: the connection's state is unknown (its transaction maybe open)
        if raw.is_valid:
            raw.invalidate()
        raise
    return result


async def _on_driver(raw: PoolProxiedConnection, method: str, sql: str, *args: Any) -> Any:
    """``sql`` run by ``method`` (``fetch``, ``execute``) of the driver's connection (asyncpg's) under ``raw``. Its
    errors reach the caller as SQLAlchemy's would (``DBAPIError`` and its subclasses, the SQLSTATE kept). A connection
    that is lost (closed, its session ended by the server, or left by an earlier failure in a state it cannot leave:
    asyncpg's "another operation is in progress") is invalidated with the pool's older ones, and the error marked
    ``connection_invalidated`` (the API answers 503 for it), as SQLAlchemy does on a disconnection; one interrupted by
    a cancellation is invalidated alone. The pool then never hands them out again."""
    driver = raw.driver_connection
    assert driver is not None
    try:
        return await getattr(driver, method)(sql, *args)
    except Exception as error:
        lost = (
            driver.is_closed()
            or isinstance(error, asyncpg.InterfaceError | asyncpg.exceptions.InternalClientError)
            or session_ended(getattr(error, "sqlstate", None))
        )
        translated = _translated(raw, sql, args, error, lost)  # before the invalidation below drops the adapter
        if lost:
            raw._pool._invalidate(raw, error)
        raise translated from error
    except BaseException:  # a cancellation mid-statement: the connection's state is unknown
        raw.invalidate()
        raise


def _translated(raw: PoolProxiedConnection, sql: str, args: tuple[Any, ...], error: Exception, lost: bool) -> Exception:
    """``error`` (the driver's) as the ``DBAPIError`` SQLAlchemy raises for it: the dialect's adapter translates it
    to its DB-API error, which ``DBAPIError.instance`` wraps in the matching class (``IntegrityError``, ...), marked
    ``connection_invalidated`` when the connection was ``lost`` (a 503 then, as for SQLAlchemy's own statements). An
    error that is not the driver's (the adapter gives it back as it is) stays as it is."""
    adapter: Any = type(raw.dbapi_connection)
    dbapi: Any = raw._pool._dialect.loaded_dbapi
    try:
        adapter._handle_exception_no_connection(dbapi, error)
    except Exception as translated:
        wrapped = DBAPIError.instance(sql, args, translated, dbapi.Error, connection_invalidated=lost)
        return wrapped if isinstance(wrapped, DBAPIError) else error
    raise AssertionError("the adapter raises every error it is given")  # pragma: no cover
