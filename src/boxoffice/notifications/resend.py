"""Sending an order's email again (the console's "resend" and "retry"): the existing row goes back to ``pending``,
due now, so the mailer sends it once more through the usual path (one row, one dedupe key). ``send_again`` names the
email by its order and kind (resend the confirmation); ``retry_failed`` one failed email by its id (the email log's
retry button: an order may have several refund emails, only the failed one is sent again)."""

from __future__ import annotations

from sqlalchemy import update

from boxoffice.clock import utcnow
from boxoffice.db import Database
from boxoffice.notifications.models import EmailMessage

_AGAIN = {"status": "pending", "attempts": 0, "locked_until": None, "last_error": None}


async def send_again(db: Database, order_id: str, kind: str = "confirmation") -> bool:
    """Queue again the order's ``kind`` email if it was sent or failed; False when there is none to resend (not
    yet sent, or never written: an order that is not confirmed has no confirmation)."""
    async with db.transaction() as session:
        result = await session.execute(
            update(EmailMessage)
            .where(
                EmailMessage.order_id == order_id,
                EmailMessage.kind == kind,
                EmailMessage.status.in_(("sent", "failed")),
            )
            .values(next_attempt_at=utcnow(), **_AGAIN)
            .execution_options(synchronize_session=False)
        )
    return bool(getattr(result, "rowcount", 0))


async def retry_failed(db: Database, message_id: str, *, event_id: str) -> bool:
    """Queue again the event's email ``message_id`` if it failed (one conditional UPDATE: two clicks retry it once);
    False when there is no such failed email of this event (sent meanwhile, another event's, unknown)."""
    async with db.transaction() as session:
        result = await session.execute(
            update(EmailMessage)
            .where(EmailMessage.id == message_id, EmailMessage.event_id == event_id, EmailMessage.status == "failed")
            .values(next_attempt_at=utcnow(), **_AGAIN)
            .execution_options(synchronize_session=False)
        )
    return bool(getattr(result, "rowcount", 0))
