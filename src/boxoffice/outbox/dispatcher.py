"""The outbox dispatcher: delivers the recorded domain events after their commit.

The ``OutboxDispatcher`` (in the web process by default, or ``boxoffice worker``) claims unpublished messages in
one statement, publishes them to the pub/sub broker (best effort, outside any transaction), then runs the database
handlers (for example: queue a confirmation email, idempotently) and marks the messages published in one short
transaction. Delivery is at least once; handlers are idempotent. A message whose handlers fail is retried alone,
after a delay that doubles with each failure (``backoff``), up to a cap; the others go on. After a partial batch the
dispatcher waits ``gather`` seconds so that a sale's trickle of messages is handled in batches, not one by one:
each batch costs its claim, its transaction and the handlers' per-batch reads whatever its size, and in
``benchmarks/emails.py`` (a real worker, 200 orders/s) the worker's CPU per order was 0.49 ms with 0.05 s, 0.38 ms
with 0.1 s and 0.28 ms with 0.2 s. A live update in a busy moment waits at most that long; the first message after
a quiet spell is not held by it (in a worker apart from the web processes it waits for the idle poll, up to
``idle_interval``, as before).
``prune_published`` deletes the published history.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, any_, bindparam, or_, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from boxoffice.clock import utcnow
from boxoffice.db import Database, in_index_order
from boxoffice.outbox.models import OutboxMessage

log = logging.getLogger("boxoffice.outbox")

CLAIM_SECONDS = 60
RETRY_BASE = 5.0  # seconds before a failed message's first retry; doubled for each further failure


@dataclass(frozen=True)
class Message:
    id: int
    kind: str
    topics: tuple[str, ...]
    payload: dict[str, Any]
    created_at: datetime

    def wire(self) -> dict[str, Any]:
        return {"type": self.kind, "id": self.id, **self.payload}


Publisher = Callable[[Sequence[tuple[str, dict[str, Any]]]], Awaitable[None]]
"""Publishes a batch of (topic, message) pairs in order, e.g. ``Broker.publish_many``."""
DbHandler = Callable[[AsyncSession, Sequence[Message]], Awaitable[None]]
"""Handles a batch of messages (one, when a batch that failed is retried message by message) in the transaction that
marks them published: one statement per batch, not per message, where it can (a statement's construction and round
trip cost the worker more than its rows)."""


async def prune_published(db: Database, *, older_than: timedelta, batch: int = 1000) -> int:
    """Delete messages published more than ``older_than`` ago, ``batch`` rows per short transaction.

    Published messages are history only: delivery is done, handlers have run, subscribers catch up from current
    state, not from the outbox. Unpublished messages are never deleted, however old. Returns how many were deleted.
    """
    return await db.delete_in_batches(OutboxMessage, OutboxMessage.published_at < utcnow() - older_than, batch=batch)


# The candidates are a CTE, evaluated once: as an IN (subquery) PostgreSQL may rescan it for each row, each rescan
# skipping the rows this very statement has just locked, and the LIMIT would bound nothing. The UPDATE takes exactly
# them, by primary key, and checks nothing again: each was locked only while claimable (a row changed meanwhile is
# checked again as it is locked, or skipped), and stays locked until the claim commits. Checked again, the planner
# (statistics from before a burst) read the whole backlog a second time through the unpublished index and compared
# every row with every candidate (``test_a_claim_reads_the_messages_it_takes_whatever_the_backlog``).
_CANDIDATE = aliased(OutboxMessage)
# The statements of every batch, built once (building them cost about a sixth of the dispatcher's time in a sale).
_CLAIM = (
    update(OutboxMessage)
    .where(
        OutboxMessage.id.in_(
            select(_CANDIDATE.id)
            .where(
                _CANDIDATE.published_at.is_(None),
                or_(_CANDIDATE.locked_until.is_(None), _CANDIDATE.locked_until < bindparam("now")),
            )
            .order_by(_CANDIDATE.id)
            .limit(bindparam("size"))
            .with_for_update(skip_locked=True)
            .cte("due")
            .select()
        ),
    )
    .values(locked_until=bindparam("until"), attempts=OutboxMessage.attempts + 1)
    .returning(
        OutboxMessage.id,
        OutboxMessage.kind,
        OutboxMessage.topics,
        OutboxMessage.payload,
        OutboxMessage.created_at,
        OutboxMessage.attempts,
    )
)
_MARK_PUBLISHED = (
    update(OutboxMessage)
    .where(OutboxMessage.id.in_(bindparam("ids", expanding=True)))
    .values(published_at=bindparam("now"), locked_until=None, last_error=None)
)
# PostgreSQL: the ids as one array parameter. An expanding IN is a new statement text for every batch size, and
# asyncpg prepared each of them again (a fifth of the dispatcher's time in a sale's small, uneven batches).
_MARK_PUBLISHED_PG = (
    update(OutboxMessage)
    .where(OutboxMessage.id == any_(bindparam("ids", type_=postgresql.ARRAY(BigInteger))))
    .values(published_at=bindparam("now"), locked_until=None, last_error=None)
)


class OutboxDispatcher:
    def __init__(
        self,
        db: Database,
        publish: Publisher | None = None,
        handlers: Sequence[DbHandler] = (),
        *,
        batch_size: int = 200,
        idle_interval: float = 1.0,
        on_batch: Callable[[Sequence[Message]], None] | None = None,
        coalesce: float = 0.01,
        gather: float = 0.2,
        claim_seconds: float = CLAIM_SECONDS,
        retry_base: float | None = None,
        max_retry_delay: float = 1800.0,
    ) -> None:
        self.coalesce = coalesce
        self.gather = gather
        # The first retry comes no later than an abandoned claim would be taken again.
        self.retry_base = retry_base if retry_base is not None else min(RETRY_BASE, claim_seconds)
        self.max_retry_delay = max_retry_delay
        self.claim_seconds = claim_seconds
        self.db = db
        self.publish = publish
        self.handlers = list(handlers)
        self.batch_size = batch_size
        self.idle_interval = idle_interval
        self.on_batch = on_batch
        self._wake = asyncio.Event()
        self._stopped = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def add_handler(self, handler: DbHandler) -> None:
        self.handlers.append(handler)

    def kick(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._stopped.clear()
            self._task = asyncio.create_task(self._run(), name="outbox-dispatcher")

    async def stop(self) -> None:
        self._stopping = True
        self._stopped.set()
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def _run(self) -> None:
        while not self._stopping:
            try:
                handled = await self.drain_once()
            except Exception:
                log.exception("outbox drain failed; retrying shortly")
                handled = 0
            if handled >= self.batch_size:
                continue  # a backlog: the next batch at once
            if handled:
                # A partial batch: what arrives in the next moment makes one batch, not one claim each (a sale's
                # orders arrive one by one; each drain costs its claim and mark statements whatever its size).
                await self._pause(self.gather)
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.idle_interval)
                # Let the commits of a busy moment pile up, and publish them in one batch.
                await asyncio.sleep(self.coalesce)
        await self._drain_until_empty()

    async def _pause(self, seconds: float) -> None:
        """Sleep ``seconds``, cut short by ``stop``."""
        if seconds > 0 and not self._stopping:
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), timeout=seconds)

    async def _drain_until_empty(self) -> None:
        try:
            while await self.drain_once():
                pass
        except Exception:
            log.exception("outbox drain on shutdown failed")

    def backoff(self, attempts: int) -> timedelta:
        """How long a message whose handlers failed ``attempts`` times waits before its next try: ``retry_base``
        doubled each time, at most ``max_retry_delay``."""
        exponent = min(max(attempts - 1, 0), 32)
        return timedelta(seconds=min(self.retry_base * 2**exponent, self.max_retry_delay))

    async def drain_once(self) -> int:
        """Claim a batch, publish it, run the handlers and mark it done. Returns how many messages it handled.

        The claim is one statement: the oldest claimable messages (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so two
        dispatchers never claim the same message, nor wait for each other) get a claim that expires after
        ``claim_seconds`` (a dispatcher that dies mid-batch leaves them to be taken again), and come back."""
        now = utcnow()
        # On a connection with no ORM session around it (the session's bulk UPDATE machinery was a sixth of a
        # batch), the candidates read through the due index in id order (``in_index_order``, its transaction).
        params = {"now": now, "until": now + timedelta(seconds=self.claim_seconds), "size": self.batch_size}
        async with self.db.plain(transaction=True) as connection:
            await in_index_order(connection)
            claimed = list((await connection.execute(_CLAIM, params)).all())
        if not claimed:
            return 0
        claimed = sorted(claimed, key=lambda row: row.id)
        messages = [Message(row.id, row.kind, tuple(row.topics), dict(row.payload), row.created_at) for row in claimed]
        if self.publish is not None:
            await self.publish([(topic, message.wire()) for message in messages for topic in message.topics])
        try:
            await self._finish(messages)
        except Exception:
            # One bad message must not hold up the others: retry the batch one message at a time.
            for message, row in zip(messages, claimed, strict=True):
                try:
                    await self._finish([message])
                except Exception as exc:
                    retry = self.backoff(row.attempts)
                    log.exception(
                        "outbox handler failed; will retry",
                        extra={"outbox_id": message.id, "kind": message.kind, "attempts": row.attempts},
                    )
                    async with self.db.transaction() as session:
                        await session.execute(
                            update(OutboxMessage)
                            .where(OutboxMessage.id == message.id)
                            .values(last_error=f"{type(exc).__name__}: {exc}"[:2000], locked_until=utcnow() + retry)
                        )
        if self.on_batch is not None:
            self.on_batch(messages)
        return len(messages)

    async def _finish(self, messages: Sequence[Message]) -> None:
        async with self.db.transaction() as session:
            for handler in self.handlers:
                await handler(session, messages)
            # The session's own connection, in its transaction, without the ORM's bulk UPDATE path.
            connection = await session.connection()
            mark = _MARK_PUBLISHED_PG if self.db.dialect == "postgresql" else _MARK_PUBLISHED
            await connection.execute(mark, {"ids": [m.id for m in messages], "now": utcnow()})
