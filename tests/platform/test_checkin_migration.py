"""Migration 0016 (check-in) on SQLite and PostgreSQL: every event that existed gets its default list, which the
running service then sees as the one it would have created; down and up again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text

from boxoffice import migrate
from boxoffice.checkin import lists
from boxoffice.checkin.models import CheckinList
from boxoffice.checkin.rules import Scanner
from boxoffice.db import Database

BEFORE = "0013"


async def test_existing_events_get_their_default_list(empty_url: str) -> None:
    await migrate.upgrade(empty_url, BEFORE)
    db = Database(empty_url)
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    async with db.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO persons (id, email, email_normalized, name, created_at, updated_at) "
                "VALUES ('per_org', 'org@example.com', 'org@example.com', 'Org', :now, :now)"
            ),
            {"now": now},
        )
        for event_id in ("ev_one", "ev_two"):
            await conn.execute(
                text(
                    "INSERT INTO events (id, organizer_id, title, description, starts_at, ends_at, timezone, status, "
                    "revision, created_at, updated_at) VALUES (:id, 'per_org', 'Old show', '', :starts, :ends, "
                    "'UTC', 'published', 0, :now, :now)"
                ),
                {
                    "id": event_id,
                    "starts": now + timedelta(days=3),
                    "ends": now + timedelta(days=3, hours=2),
                    "now": now,
                },
            )
    await db.dispose()

    await migrate.upgrade(empty_url)
    db = Database(empty_url)
    try:
        async with db.read() as session:
            rows = (await session.scalars(select(CheckinList).order_by(CheckinList.event_id))).all()
        assert [(r.event_id, r.name, r.all_ticket_types, r.default_for_event, r.deleted_at) for r in rows] == [
            ("ev_one", "Entrance", True, "ev_one", None),
            ("ev_two", "Entrance", True, "ev_two", None),
        ]
        assert rows[0].created_at.tzinfo is not None
        organizer = Scanner(organizer_id="per_org", can_undo=True, can_manage=True)
        assert [lst.id for lst in await lists.list_lists(db, "ev_one", organizer)] == [rows[0].id]  # no second one
    finally:
        await db.dispose()
    await migrate.downgrade(empty_url, BEFORE)
    assert await migrate.current_revision(empty_url) == BEFORE
    await migrate.upgrade(empty_url)
    assert await migrate.is_current(empty_url)
