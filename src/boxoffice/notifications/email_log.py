"""An event's email log, for its organizer: every email written for its orders (confirmations, refunds, failed
payments, tickets handed on), newest first, a page at a time (keyset on ``created_at`` and id), optionally only
those in one status; and how many have failed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, or_, select

from boxoffice.db import Database
from boxoffice.notifications.models import EmailMessage

PAGE_SIZE = 50
STATUSES = ("pending", "sent", "failed")


@dataclass(frozen=True)
class EmailPage:
    emails: list[EmailMessage]
    next_cursor: str | None  # pass as ``cursor`` for the next (older) page; None: this was the last
    failed: int  # the event's failed emails, whatever the page shows


def _cursor(message: EmailMessage) -> str:
    return f"{message.created_at.isoformat()}|{message.id}"


def _after(cursor: str | None) -> tuple[datetime, str] | None:
    if not cursor:
        return None
    at, _, message_id = cursor.partition("|")
    try:
        parsed = datetime.fromisoformat(at)
    except ValueError:
        return None
    return (parsed, message_id) if message_id and parsed.tzinfo is not None else None


async def list_event_emails(
    db: Database, event_id: str, *, status: str | None = None, cursor: str | None = None, limit: int = PAGE_SIZE
) -> EmailPage:
    stmt = select(EmailMessage).where(EmailMessage.event_id == event_id)
    if status in STATUSES:
        stmt = stmt.where(EmailMessage.status == status)
    after = _after(cursor)
    if after is not None:
        at, message_id = after
        stmt = stmt.where(
            or_(EmailMessage.created_at < at, and_(EmailMessage.created_at == at, EmailMessage.id < message_id))
        )
    stmt = stmt.order_by(EmailMessage.created_at.desc(), EmailMessage.id.desc()).limit(limit + 1)
    failed = select(func.count()).where(EmailMessage.event_id == event_id, EmailMessage.status == "failed")
    async with db.read() as session:
        rows = list((await session.scalars(stmt)).all())
        failed_count = int(await session.scalar(failed) or 0)
    more = len(rows) > limit
    rows = rows[:limit]
    return EmailPage(rows, _cursor(rows[-1]) if more and rows else None, failed_count)
