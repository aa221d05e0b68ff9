"""Shorter holds: a Checkout Session must live at least 30 minutes (Stripe's minimum), but an event may hold tickets
for as little as 5. Such an order's session is listed (``checkout_closures``) when it is created; when the hold
ends, the worker expires the order (a guarded transition, as the sweeper does) and then the session at Stripe
(``POST /v1/checkout/sessions/{id}/expire``), outside any transaction, so it can no longer be paid.

A payment that completes in the same moment (Stripe refuses to expire a completed session) goes through the
paid-after-expiry path of the webhooks: confirmed when the tickets can be taken again, refunded otherwise. Stripe
unreachable: the closure stays due and is tried again at the next round.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from boxoffice.clock import utcnow
from boxoffice.db import Database
from boxoffice.payments.gateway import StripeGateway, StripeKeyRejected, StripeRequestRejected, StripeUnavailable
from boxoffice.payments.models import CheckoutClosure
from boxoffice.ticketing.models import SOLD_STATUSES, OrderStatus
from boxoffice.ticketing.orders import expire_order, get_order

log = logging.getLogger("boxoffice.payments")

# Stripe's shortest Checkout Session, and a margin for the request's way to Stripe.
STRIPE_MINIMUM_SESSION = timedelta(minutes=30)
SESSION_MARGIN = timedelta(minutes=1)


def session_expiry(hold_ends: datetime, now: datetime) -> datetime:
    """When a Checkout Session created ``now`` for a hold ending at ``hold_ends`` expires: with the hold (the
    server's holds have a minute on top of Stripe's 30 for the way there), unless that is sooner than Stripe
    allows: then a minute past Stripe's minimum, and the session is closed by ``close_due`` when the hold ends."""
    if hold_ends >= now + STRIPE_MINIMUM_SESSION:
        return hold_ends
    return now + STRIPE_MINIMUM_SESSION + SESSION_MARGIN


async def schedule(db: Database, order_id: str, session_id: str, close_at: datetime) -> None:
    """List a session that outlives its order's hold (idempotent: a retried checkout lists it once)."""
    async with db.single() as session:
        await session.execute(
            db.insert(CheckoutClosure)
            .values(order_id=order_id, session_id=session_id, close_at=close_at, attempts=0, created_at=utcnow())
            .on_conflict_do_nothing(index_elements=["order_id"])
        )


@dataclass(frozen=True)
class Closed:
    order_id: str
    outcome: str


async def _done(db: Database, order_id: str, outcome: str, now: datetime) -> Closed:
    async with db.single() as session:
        await session.execute(
            update(CheckoutClosure)
            .where(CheckoutClosure.order_id == order_id)
            .values(closed_at=now, outcome=outcome[:64])
        )
    return Closed(order_id, outcome)


async def close_due(
    db: Database, gateway: StripeGateway, *, now: datetime | None = None, limit: int = 100
) -> list[Closed]:
    """Close the sessions whose holds have ended: expire the order, then the session at Stripe. Returns what was
    closed (Stripe unreachable: nothing for that one, it is tried again next time)."""
    now = now or utcnow()
    async with db.read() as session:
        due = list(
            (
                await session.scalars(
                    select(CheckoutClosure)
                    .where(CheckoutClosure.closed_at.is_(None), CheckoutClosure.close_at <= now)
                    .order_by(CheckoutClosure.close_at)
                    .limit(limit)
                )
            ).all()
        )
    closed = []
    for closure in due:
        order = await get_order(db, closure.order_id, with_lines=False)
        if order.status == OrderStatus.PENDING:
            if order.expires_at > now:  # the hold was extended (a bank payment settling): close at its new end
                async with db.single() as session:
                    await session.execute(
                        update(CheckoutClosure)
                        .where(CheckoutClosure.order_id == order.id)
                        .values(close_at=order.expires_at)
                    )
                continue
            order = (await expire_order(db, order.id, now=now)).order
        if order.status in SOLD_STATUSES or order.status == OrderStatus.REFUNDED:
            closed.append(await _done(db, order.id, "paid", now))
            continue
        try:
            await gateway.expire_checkout_session(closure.session_id)
        except StripeRequestRejected:
            # completed or expired already: a payment that went through is the webhook's (confirmed or refunded)
            closed.append(await _done(db, order.id, "not open", now))
            continue
        except (StripeUnavailable, StripeKeyRejected) as exc:
            log.warning("could not close a checkout session; trying again", extra={"order_id": order.id})
            async with db.single() as session:
                await session.execute(
                    update(CheckoutClosure)
                    .where(CheckoutClosure.order_id == order.id)
                    .values(attempts=CheckoutClosure.attempts + 1, last_error=exc.detail[:2000])
                )
            continue
        log.info("checkout session closed at the hold's end", extra={"order_id": order.id})
        closed.append(await _done(db, order.id, "expired", now))
    return closed
