"""Sending an order's email again (the console's "resend" and "retry"): the existing row goes back to ``pending``,
due now, so the mailer sends it once more through the usual path (one row, one dedupe key)."""

from __future__ import annotations

from sqlalchemy import update

from boxoffice.clock import utcnow
from boxoffice.db import Database
from boxoffice.notifications.models import EmailMessage


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
            .values(status="pending", attempts=0, next_attempt_at=utcnow(), locked_until=None, last_error=None)
            .execution_options(synchronize_session=False)
        )
    return bool(getattr(result, "rowcount", 0))
