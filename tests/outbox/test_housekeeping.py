"""Housekeeping: old published outbox messages are deleted, nothing else is."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select

from boxoffice.clock import utcnow
from boxoffice.container import Boxoffice
from boxoffice.db import Database
from boxoffice.outbox.dispatcher import prune_published
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


async def test_the_worker_housekeeping_uses_the_configured_retention(sqlite_db: Database, sqlite_url: str) -> None:
    now = utcnow()
    older, newer = await add_messages(sqlite_db, now - timedelta(hours=3), now - timedelta(minutes=30))
    box = Boxoffice(settings_for(sqlite_url, outbox_retention_hours=2), db=sqlite_db)
    deleted = await box.housekeep_once()
    assert deleted["outbox_messages"] >= 1
    assert await remaining_messages(sqlite_db, [older, newer]) == [newer]
