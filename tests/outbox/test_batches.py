"""The dispatcher's batches: two dispatchers on PostgreSQL handle and publish every message exactly once, and a
message whose handlers keep failing is retried after a delay that doubles up to a cap, without holding up others."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.clock import utcnow
from boxoffice.db import Database, in_index_order
from boxoffice.outbox import dispatcher as dispatcher_module
from boxoffice.outbox.dispatcher import Message, OutboxDispatcher
from boxoffice.outbox.models import OutboxMessage
from tests.helpers import rows_read


async def add_messages(db: Database, kind: str, count: int) -> list[int]:
    async with db.transaction() as session:
        rows = [
            OutboxMessage(kind=kind, topics=[f"t:{kind}"], payload={"n": n}, created_at=utcnow()) for n in range(count)
        ]
        session.add_all(rows)
        await session.flush()
        return [row.id for row in rows]


async def state(db: Database, ids: list[int]) -> dict[int, OutboxMessage]:
    async with db.read() as session:
        rows = (await session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(ids)))).all()
    return {row.id: row for row in rows}


async def test_two_dispatchers_handle_and_publish_each_message_once(pg_db: Database) -> None:
    kind = f"test.{uuid.uuid4().hex[:12]}"
    ids = await add_messages(pg_db, kind, 300)
    handled: Counter[int] = Counter()
    published: Counter[int] = Counter()

    async def handler(session: AsyncSession, messages: Sequence[Message]) -> None:
        for message in messages:
            if message.kind == kind:
                handled[message.id] += 1
                await asyncio.sleep(0)  # let the other dispatcher run in the middle of a batch

    async def publish(pairs: Sequence[tuple[str, dict[str, Any]]]) -> None:
        for topic, wire in pairs:
            if topic == f"t:{kind}":
                published[wire["id"]] += 1
        await asyncio.sleep(0)

    async def run(dispatcher: OutboxDispatcher) -> None:
        while await dispatcher.drain_once():
            pass

    first = OutboxDispatcher(pg_db, publish, [handler], batch_size=7)
    second = OutboxDispatcher(pg_db, publish, [handler], batch_size=7)
    await asyncio.gather(run(first), run(second), run(first), run(second))
    assert handled == Counter(dict.fromkeys(ids, 1))
    assert published == Counter(dict.fromkeys(ids, 1))
    rows = await state(pg_db, ids)
    assert all(row.published_at is not None and row.attempts == 1 for row in rows.values())


async def test_a_claim_left_by_a_dead_dispatcher_is_taken_again_after_it_expires(db: Database) -> None:
    kind = f"test.{uuid.uuid4().hex[:12]}"
    ids = await add_messages(db, kind, 3)
    async with db.transaction() as session:  # what a dispatcher that died mid-batch leaves behind
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids))
            .values(locked_until=utcnow() + timedelta(seconds=60), attempts=1)
        )
    seen: list[int] = []

    async def handler(session: AsyncSession, messages: Sequence[Message]) -> None:
        seen.extend(message.id for message in messages if message.kind == kind)

    dispatcher = OutboxDispatcher(db, handlers=[handler])
    while await dispatcher.drain_once():
        pass
    assert seen == []  # still claimed
    async with db.transaction() as session:
        await session.execute(
            update(OutboxMessage).where(OutboxMessage.id.in_(ids)).values(locked_until=utcnow() - timedelta(seconds=1))
        )
    while await dispatcher.drain_once():
        pass
    assert sorted(seen) == ids
    assert all(row.published_at is not None for row in (await state(db, ids)).values())


def test_backoff_doubles_up_to_the_cap() -> None:
    dispatcher = OutboxDispatcher(Database("sqlite+aiosqlite://"), retry_base=2.0, max_retry_delay=60.0)
    assert [dispatcher.backoff(n).total_seconds() for n in range(1, 8)] == [2, 4, 8, 16, 32, 60, 60]
    assert dispatcher.backoff(10_000) == timedelta(seconds=60)


async def test_a_failing_message_waits_longer_each_time_and_the_others_go_on(db: Database) -> None:
    kind = f"test.{uuid.uuid4().hex[:12]}"
    bad, *good = await add_messages(db, kind, 4)
    broken = True

    async def handler(session: AsyncSession, messages: Sequence[Message]) -> None:
        if broken and any(message.id == bad for message in messages):
            raise RuntimeError("cannot handle this one")

    dispatcher = OutboxDispatcher(db, handlers=[handler], retry_base=10.0, max_retry_delay=45.0)
    delays = []
    for attempt in range(1, 5):
        before = utcnow()
        while await dispatcher.drain_once():
            pass
        rows = await state(db, [bad, *good])
        assert all(rows[i].published_at is not None for i in good)
        row = rows[bad]
        assert row.published_at is None and row.attempts == attempt
        assert row.last_error == "RuntimeError: cannot handle this one"
        assert row.locked_until is not None
        delays.append(round((row.locked_until - before).total_seconds()))
        async with db.transaction() as session:  # time passes: the retry is due
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == bad)
                .values(locked_until=utcnow() - timedelta(seconds=1))
            )
    assert delays == [10, 20, 40, 45]
    broken = False
    while await dispatcher.drain_once():
        pass
    row = (await state(db, [bad]))[bad]
    assert row.published_at is not None and row.last_error is None


async def test_a_claim_takes_at_most_a_batch(db: Database) -> None:
    kind = f"test.{uuid.uuid4().hex[:12]}"
    ids = await add_messages(db, kind, 30)
    sizes: list[int] = []

    batches: list[int] = []

    async def handler(session: AsyncSession, messages: Sequence[Message]) -> None:
        batches.append(len(messages))

    dispatcher = OutboxDispatcher(db, handlers=[handler], batch_size=7)
    while n := await dispatcher.drain_once():
        sizes.append(n)
    assert batches == sizes  # the handler is called once per batch, with the whole batch
    assert max(sizes) <= 7 and sum(sizes) >= 30
    assert all(row.published_at is not None for row in (await state(db, ids)).values())


@pytest.mark.parametrize("backlog", [2000, 5000])
async def test_a_claim_reads_the_messages_it_takes_whatever_the_backlog(
    fresh_pg: tuple[str, Database], backlog: int
) -> None:
    """3,000 published messages (history), then a backlog, written into a table PostgreSQL has not analyzed since it
    was empty (a sale's first seconds, or a worker back after an outage): a claim of 50 reads its candidates in id
    order through the due index and stops there, then takes them by primary key. (Before: every unpublished message
    read to sort them, or the published history walked by primary key; and with the claimed rows checked again as the
    candidates are, the backlog read a second time, each row compared with every candidate: 4,000 rows read to claim
    50 of 2,000, 298 x 133 comparisons and 6 ms for one batch in the flash-sale benchmark.)"""
    _, db = fresh_pg
    history = await add_messages(db, "test.history", 3000)
    async with db.transaction() as session:
        await session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(history)).values(published_at=utcnow()))
    for start in range(0, backlog, 500):
        await add_messages(db, f"test.burst{start}", 500)
    now = utcnow()
    params = {"now": now, "until": now + timedelta(minutes=1), "size": 50}
    async with db.transaction() as session:  # as the dispatcher claims
        await in_index_order(session)
        read_before = await rows_read(session, "outbox_messages")
        claimed = (await session.execute(dispatcher_module._CLAIM, params)).all()
        read = await rows_read(session, "outbox_messages") - read_before
    assert sorted(row.id for row in claimed) == list(range(history[-1] + 1, history[-1] + 51))  # the first 50
    assert read <= 120, f"claiming 50 of {backlog} messages read {read}"
