"""Engine, sessions and the declarative Base, for SQLite (aiosqlite) and PostgreSQL (asyncpg)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, Generic, TypeAlias, TypeVar

from sqlalchemy import (
    JSON,
    ColumnElement,
    DateTime,
    Executable,
    MetaData,
    Row,
    delete,
    event,
    inspect,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.instrumentation import manager_of_class
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out. SQLite stores naive UTC; PostgreSQL stores ``timestamptz``."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONType = JSON().with_variant(JSONB(), "postgresql")

M = TypeVar("M")


def as_loaded(cls: type[M], values: dict[str, Any], **collections: list[Any]) -> M:
    """An instance of the mapped class ``cls`` holding ``values`` (and the related objects of ``collections``) as if
    read from the database: no attribute events, no history, no backrefs. For rows a statement writes itself, built
    in memory to be read and answered, never added to a session (a session would flush nothing of it)."""
    instance = manager_of_class(cls).new_instance()
    instance.__dict__.update(values)
    for key, items in collections.items():
        set_committed_value(instance, key, items)
    return instance


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSONType, list[Any]: JSONType}


# The dialect seam: what differs between SQLite and PostgreSQL is decided here, and nowhere else in the contexts.

# An INSERT that knows ``on_conflict_do_nothing`` and ``on_conflict_do_update`` (both dialects spell them alike).
UpsertInsert: TypeAlias = postgresql.Insert | sqlite.Insert


def dialect_insert(dialect: str, model: type[Base]) -> UpsertInsert:
    """The INSERT construct of ``dialect`` (``"postgresql"`` or ``"sqlite"``) for ``model``."""
    return postgresql.insert(model) if dialect == "postgresql" else sqlite.insert(model)


def insert_for(session: AsyncSession, model: type[Base]) -> UpsertInsert:
    """The INSERT construct, with its ON CONFLICT clauses, of the database ``session`` is bound to."""
    return dialect_insert(session.get_bind().dialect.name, model)


async def insert_new(
    session: AsyncSession, model: type[Base], rows: Sequence[dict[str, Any]], *, unique: Sequence[str]
) -> None:
    """``rows`` of ``model`` written in one plain INSERT on ``session``'s connection and transaction (Core, without
    the ORM's bulk machinery, and not built per row: the outbox handlers' batches), a row whose ``unique`` columns
    match a stored one left out; nothing for no rows."""
    if rows:
        connection = await session.connection()
        await connection.execute(insert_for(session, model).on_conflict_do_nothing(index_elements=list(unique)), rows)


def is_sqlite_url(url: str) -> bool:
    return url.startswith("sqlite")


def make_engine(
    url: str, *, pool_size: int = 10, pool_timeout: float = 30.0, echo: bool = False, foreign_keys: bool = True
) -> AsyncEngine:
    """An engine for ``url``. ``foreign_keys=False`` is for SQLite migrations, which rebuild tables. A request that
    waits ``pool_timeout`` seconds for a pooled connection gets ``sqlalchemy.exc.TimeoutError`` (answered 503)."""
    if is_sqlite_url(url):
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy emit BEGIN itself (below) and make every transaction take the write lock up front,
            # so concurrent writers queue on the busy timeout instead of failing with "database is locked".
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    # No pre-ping: it would cost a round trip on every checkout. A connection that the server dropped fails its
    # statement with a disconnect error instead (answered 503 with Retry-After), and SQLAlchemy then discards every
    # pooled connection older than the failure, so the next requests connect afresh. No overflow either: in a burst,
    # connections opened beyond the pool would be closed again as soon as they are returned (a connect and a
    # disconnect per request); waiting a moment for one of the pool's is cheaper.
    return create_async_engine(
        url, echo=echo, pool_size=pool_size, max_overflow=0, pool_recycle=1800, pool_timeout=pool_timeout
    )


DEADLOCK_RETRIES = 3
R = TypeVar("R")


# SQLSTATEs after which PostgreSQL has ended the client's session: connection exceptions (class 08) and a server
# shutting down or starting up (57P01 to 57P03).
SESSION_ENDED_CLASS = "08"
SESSION_ENDED_STATES = frozenset({"57P01", "57P02", "57P03"})


def session_ended(state: str | None) -> bool:
    """Whether an error's SQLSTATE says the server ended the session (the connection cannot be used again)."""
    return state is not None and (state.startswith(SESSION_ENDED_CLASS) or state in SESSION_ENDED_STATES)


def sqlstate(exc: DBAPIError) -> str | None:
    """PostgreSQL's SQLSTATE of the error (None from SQLite)."""
    return getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)


def is_deadlock(exc: DBAPIError) -> bool:
    """PostgreSQL ended the statement's transaction to break a deadlock (SQLSTATE 40P01): nothing of it was written."""
    return sqlstate(exc) == "40P01"


async def retrying_deadlocks(run: Callable[[], Awaitable[R]]) -> R:
    """``run()`` (one statement alone in its transaction), run again up to ``DEADLOCK_RETRIES`` times when PostgreSQL
    makes it a deadlock's victim: it wrote nothing then. Two statements that lock rows the other holds in different
    modes (a reservation's ``FOR NO KEY UPDATE`` queued on a ticket type, a confirmation upgrading its own lock on
    it) can still meet that way however their locks are ordered."""
    for _ in range(DEADLOCK_RETRIES):
        try:
            return await run()
        except DBAPIError as exc:
            if not is_deadlock(exc):
                raise
    return await run()  # the last try: its deadlock, if any, goes to the caller


_IN_INDEX_ORDER = text("SET LOCAL enable_sort = off")


async def in_index_order(connection: AsyncConnection | AsyncSession) -> None:
    """For the rest of the transaction, have PostgreSQL read what an ``ORDER BY ... LIMIT`` asks for through an index
    in that order, stopping at the limit, instead of reading every match to sort them (nothing on SQLite). The queue
    claims (outbox, emails, webhook deliveries) use it: where PostgreSQL's statistics predate a burst of rows (a
    sale's first minutes, a worker back after an outage), its planner takes the queued rows for a handful and reads
    them all at every claim, through a bitmap scan that also never marks the index entries of rows already gone as
    dead: every claim read the whole backlog and every row the burst left behind (``benchmarks/README.md``)."""
    dialect = connection.dialect if isinstance(connection, AsyncConnection) else connection.get_bind().dialect
    if dialect.name == "postgresql":
        await connection.execute(_IN_INDEX_ORDER)


class Database:
    """Owns the engine and hands out transactions. Callbacks registered with ``on_commit`` run after each commit."""

    def __init__(self, url: str, *, pool_size: int = 10, pool_timeout: float = 30.0, echo: bool = False) -> None:
        self.url = url
        self.engine = make_engine(url, pool_size=pool_size, pool_timeout=pool_timeout, echo=echo)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        # PostgreSQL: reads and single statements run in autocommit, one round trip each instead of BEGIN, the
        # statement and COMMIT/ROLLBACK. Under READ COMMITTED every statement sees its own snapshot anyway, so a read
        # loses no consistency; a single statement is atomic by itself. SQLite keeps its explicit transactions.
        self._autocommit_engine = (
            self.engine if self.is_sqlite else self.engine.execution_options(isolation_level="AUTOCOMMIT")
        )
        self._autocommit = (
            self.sessionmaker if self.is_sqlite else async_sessionmaker(self._autocommit_engine, expire_on_commit=False)
        )
        self._dialect = self.engine.dialect.name
        self._commit_listeners: list[Callable[[], None]] = []
        # The dialect's capabilities, by name (tests may turn one off on their Database to compare the paths).
        # One-statement reservations (ticketing.reserve_pg): PostgreSQL's data-modifying WITH and its jsonb functions.
        self.one_statement_reservations = self.dialect == "postgresql"
        # One-statement check-ins (checkin.scan): the admission and its outbox message in one data-modifying WITH.
        self.one_statement_checkins = self.dialect == "postgresql"
        # One-statement confirmations (ticketing.confirm_pg): a paid order's whole confirmation in one data-modifying
        # WITH.
        self.one_statement_confirmations = self.dialect == "postgresql"

    @property
    def is_sqlite(self) -> bool:
        return is_sqlite_url(self.url)

    @property
    def dialect(self) -> str:
        return self._dialect

    def insert(self, model: type[Base]) -> UpsertInsert:
        """The INSERT construct, with its ON CONFLICT clauses, of this database's dialect."""
        return dialect_insert(self.dialect, model)

    def on_commit(self, listener: Callable[[], None]) -> None:
        self._commit_listeners.append(listener)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One unit of work: commits on success, rolls back on any exception. Never hold it across network I/O."""
        async with self.sessionmaker() as session, session.begin():
            yield session
        self._committed()

    def _committed(self) -> None:
        for listener in self._commit_listeners:
            listener()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for reads (autocommit on PostgreSQL; on SQLite whatever it begins is rolled back)."""
        async with self._autocommit() as session:
            yield session

    @asynccontextmanager
    async def single(self) -> AsyncIterator[AsyncSession]:
        """For one write statement that is atomic by itself: autocommit on PostgreSQL, a transaction on SQLite."""
        if self.is_sqlite:
            async with self.transaction() as session:
                yield session
            return
        async with self._autocommit() as session:
            yield session
        self._committed()

    @asynccontextmanager
    async def plain(self, *, transaction: bool = False) -> AsyncIterator[AsyncConnection]:
        """A connection for statements that are atomic by themselves, as ``single`` (autocommit on PostgreSQL, a
        transaction on SQLite), but with no ORM session around it: the hot paths' statements are Core or text and
        need none of its work. ``transaction``: inside BEGIN and COMMIT on PostgreSQL too, so that a process killed
        while a statement waits (for a row lock) leaves nothing done: PostgreSQL aborts the open transaction of a
        client that is gone, where an autocommit statement would finish and commit by itself."""
        if self.is_sqlite or transaction:
            async with self.engine.begin() as connection:
                yield connection
        else:
            async with self._autocommit_engine.connect() as connection:
                yield connection
        self._committed()

    async def execute_one(
        self,
        statement: Executable,
        params: dict[str, Any] | list[dict[str, Any]] | None = None,
        *,
        transaction: bool = False,
    ) -> list[Row[Any]]:
        """One statement on a ``plain`` connection, its rows returned. A list of ``params`` runs it once for each
        (one round trip on asyncpg); in autocommit each execution is then atomic by itself, not the batch.

        A single statement that PostgreSQL makes a deadlock's victim is run again (``retrying_deadlocks``); a list of
        them is not (the ones before it may have committed)."""

        async def run() -> list[Row[Any]]:
            async with self.plain(transaction=transaction) as connection:
                result = await connection.execute(statement, params)
                return list(result.all()) if result.returns_rows else []

        return await run() if isinstance(params, list) else await retrying_deadlocks(run)

    async def delete_in_batches(self, model: type[Base], condition: ColumnElement[bool], *, batch: int = 1000) -> int:
        """Delete the rows of ``model`` that match ``condition``, ``batch`` rows per short transaction (so no lock is
        held long while the service runs); returns how many were deleted."""
        (key,) = inspect(model).primary_key
        deleted = 0
        while True:
            async with self.transaction() as session:
                chosen = select(key).where(condition).limit(batch).scalar_subquery()
                result = await session.execute(delete(model).where(key.in_(chosen)))
            count = int(getattr(result, "rowcount", 0) or 0)
            deleted += count
            if count < batch:
                return deleted

    async def dispose(self) -> None:
        await self.engine.dispose()


T = TypeVar("T")


class GroupWriter(Generic[T]):
    """Group commit for one kind of small write. ``await submit(item)`` returns once the item is written; items
    that arrive while a batch is being written go together in the next batch, so a burst of concurrent callers
    shares one round trip, and a lone caller waits for nothing but its own write (no timer). When a batch fails,
    its items are written one by one, so each caller gets its own item's outcome."""

    def __init__(self, write: Callable[[list[T]], Awaitable[None]]) -> None:
        self._write = write
        self._pending: list[tuple[T, asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._task is None:
            self._task = asyncio.create_task(self._drain(), name="group-writer")
        # The write goes on even if this caller is cancelled: the item has been handed over.
        await asyncio.shield(future)

    async def _drain(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                try:
                    await self._write([item for item, _ in batch])
                except Exception as exc:
                    if len(batch) == 1:
                        _settle(batch[0][1], exc)
                        continue
                    for item, future in batch:
                        try:
                            await self._write([item])
                        except Exception as single:
                            _settle(future, single)
                        else:
                            _settle(future, None)
                else:
                    for _, future in batch:
                        _settle(future, None)
        finally:
            self._task = None


def _settle(future: asyncio.Future[None], exc: BaseException | None) -> None:
    if future.done():
        return
    if exc is None:
        future.set_result(None)
    else:
        future.set_exception(exc)
