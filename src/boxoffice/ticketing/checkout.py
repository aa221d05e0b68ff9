"""Checkout bookkeeping on orders: the Stripe Checkout Session of each order, delayed payments, issues noted.

None of these is a state transition (``orders`` has those); they record what the payment side learned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, update

from boxoffice.clock import utcnow
from boxoffice.db import Database
from boxoffice.ticketing.models import Order, OrderStatus


@dataclass(frozen=True)
class CheckoutSession:
    order_id: str
    session_id: str
    url: str | None


_STORE_SESSION = (
    update(Order.__table__)  # type: ignore[arg-type]
    .where(Order.__table__.c.id == bindparam("order_id"))
    .values(
        stripe_checkout_session_id=bindparam("session_id"), checkout_url=bindparam("url"), updated_at=bindparam("now")
    )
)


async def set_checkout_sessions(db: Database, sessions: Sequence[CheckoutSession]) -> None:
    """Store the Checkout Session of each order: one statement executed for every order, in one round trip."""
    now = utcnow()
    await db.execute_one(
        _STORE_SESSION,
        [{"order_id": s.order_id, "session_id": s.session_id, "url": s.url, "now": now} for s in sessions],
    )


async def await_async_payment(db: Database, order_id: str, *, payment_intent_id: str | None, until: datetime) -> bool:
    """The buyer paid with a delayed method (bank debit...): keep the hold until the payment's result arrives,
    at the latest ``until``. Only a pending order is touched; returns whether it was."""
    values: dict[str, Any] = {"expires_at": until, "updated_at": utcnow()}
    if payment_intent_id:
        values["stripe_payment_intent_id"] = payment_intent_id
    async with db.transaction() as session:
        result = await session.execute(
            update(Order)
            .where(Order.id == order_id, Order.status == OrderStatus.PENDING, Order.expires_at < until)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0) == 1)


async def note_order_issue(db: Database, order_id: str, note: str) -> None:
    """Record a problem for the organizer on the order (payment mismatch, refund needed...), without a transition."""
    async with db.transaction() as session:
        await session.execute(
            update(Order)
            .where(Order.id == order_id)
            .values(failure_reason=note[:2000], updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
