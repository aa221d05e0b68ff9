"""Housekeeping: old published outbox messages and expired idempotency records are deleted, nothing else is."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from boxoffice.accounts import service as accounts
from boxoffice.accounts.models import IdempotencyRecord
from boxoffice.clock import utcnow
from boxoffice.container import Boxoffice
from boxoffice.db import Database
from boxoffice.errors import Conflict
from boxoffice.outbox import prune_published
from boxoffice.outbox.models import OutboxMessage
from tests.server import settings_for


async def add_messages(db: Database, *published: datetime | None) -> list[int]:
    kind = f"test.{uuid.uuid4().hex[:12]}"
    async with db.transaction() as session:
        rows = [
            OutboxMessage(kind=kind, topics=[], payload={}, created_at=utcnow() - timedelta(days=30), published_at=p)
            for p in published
        ]
        session.add_all(rows)
        await session.flush()
        return [row.id for row in rows]


async def remaining_messages(db: Database, ids: list[int]) -> list[int]:
    async with db.read() as session:
        found = set((await session.scalars(select(OutboxMessage.id).where(OutboxMessage.id.in_(ids)))).all())
    return [i for i in ids if i in found]


async def add_record(db: Database, *, age: timedelta, answered: bool) -> str:
    key = uuid.uuid4().hex
    async with db.transaction() as session:
        session.add(
            IdempotencyRecord(
                scope="test",
                key=key,
                request_hash="h",
                status_code=201 if answered else None,
                response={"ok": True} if answered else None,
                created_at=utcnow() - age,
            )
        )
    return key


async def remaining_keys(db: Database, keys: list[str]) -> list[str]:
    async with db.read() as session:
        found = set((await session.scalars(select(IdempotencyRecord.key).where(IdempotencyRecord.key.in_(keys)))).all())
    return [k for k in keys if k in found]


async def test_old_published_messages_go_recent_and_unpublished_ones_stay(db: Database) -> None:
    now = utcnow()
    old, old2, recent, unpublished = await add_messages(
        db, now - timedelta(days=8), now - timedelta(days=9), now - timedelta(hours=1), None
    )
    deleted = await prune_published(db, older_than=timedelta(days=7))
    assert deleted >= 2
    assert await remaining_messages(db, [old, old2, recent, unpublished]) == [recent, unpublished]


async def test_pruning_goes_on_batch_after_batch_until_nothing_old_is_left(db: Database) -> None:
    ids = await add_messages(db, *[utcnow() - timedelta(days=2)] * 7)
    assert await prune_published(db, older_than=timedelta(days=1), batch=2) >= 7
    assert await remaining_messages(db, ids) == []


async def test_expired_and_abandoned_idempotency_records_go_the_rest_stay(db: Database) -> None:
    expired = await add_record(db, age=timedelta(hours=25), answered=True)
    abandoned = await add_record(db, age=timedelta(minutes=11), answered=False)
    running = await add_record(db, age=timedelta(minutes=1), answered=False)
    answered = await add_record(db, age=timedelta(hours=23), answered=True)
    assert await accounts.prune_idempotency(db, batch=1) >= 2
    assert await remaining_keys(db, [expired, abandoned, running, answered]) == [running, answered]


async def test_a_key_whose_first_request_died_can_be_used_again(db: Database) -> None:
    abandoned = await add_record(db, age=timedelta(minutes=11), answered=False)
    running = await add_record(db, age=timedelta(minutes=1), answered=False)
    assert await accounts.begin_idempotent(db, "test", abandoned, "h2") is None
    with pytest.raises(Conflict):
        await accounts.begin_idempotent(db, "test", running, "h")


async def test_the_worker_housekeeping_uses_the_configured_retention(sqlite_db: Database, sqlite_url: str) -> None:
    now = utcnow()
    older, newer = await add_messages(sqlite_db, now - timedelta(hours=3), now - timedelta(minutes=30))
    box = Boxoffice(settings_for(sqlite_url, outbox_retention_hours=2), db=sqlite_db)
    deleted = await box.housekeep_once()
    assert deleted["outbox_messages"] >= 1
    assert await remaining_messages(sqlite_db, [older, newer]) == [newer]
