"""Refund bookkeeping: what an organizer asked to refund, before and after Stripe answers.

A refund is a row of its own (``refunds``), written in the same transaction that checks what is left to refund, with
the order's row locked: two refunds asked at once are checked one after the other, so together they never exceed
what was paid. The Stripe call happens after that commit, with the row's id as Stripe's idempotency key, so a retried
request (or the worker re-sending a refund whose answer was lost) moves the money once.

What is left to refund counts both what Stripe has reported (``orders.refunded_cents``, from ``charge.refunded``,
which also covers refunds made in Stripe's dashboard) and the refunds asked here that are not failed: the larger of
the two is taken, so a second partial refund asked before the first one's webhook is checked against both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update

from boxoffice import money
from boxoffice.clock import utcnow
from boxoffice.db import Database
from boxoffice.errors import Conflict, ErrorCode, FieldError, InvalidInput, NotFound
from boxoffice.events.models import Event
from boxoffice.ids import new_id
from boxoffice.ticketing.models import REFUND_COUNTING, SOLD_STATUSES, Order, Refund

# Stripe's refund statuses, as stored; anything else Stripe may add is kept as "pending" until it reports more.
STRIPE_STATUSES = {"pending", "succeeded", "failed", "canceled", "requires_action"}


@dataclass(frozen=True)
class OpenedRefund:
    refund: Refund
    order: Order
    replayed: bool  # an earlier request with the same Idempotency-Key made this refund


async def open_refund(
    db: Database,
    order_id: str,
    amount_cents: int | None,
    *,
    organizer_id: str | None = None,
    idempotency_key: str | None = None,
    fingerprint: str | None = None,
    now: datetime | None = None,
) -> OpenedRefund:
    """Record a refund of ``amount_cents`` (None: all that is left) of a paid order, or find the one an earlier
    request with the same ``idempotency_key`` recorded. Nothing is recorded when the amount is more than is left."""
    now = now or utcnow()
    if amount_cents is not None and (isinstance(amount_cents, bool) or not isinstance(amount_cents, int)):
        raise InvalidInput.one(
            "amount_cents", "must be a positive integer amount in minor units", code=ErrorCode.NOT_INTEGER
        )
    if amount_cents is not None and amount_cents <= 0:
        raise InvalidInput.one(
            "amount_cents",
            "must be a positive integer amount in minor units",
            (("minimum_cents", 1),),
            code=ErrorCode.BELOW_MINIMUM,
        )
    async with db.transaction() as session:
        stmt = select(Order, Event.organizer_id).join(Event, Event.id == Order.event_id).where(Order.id == order_id)
        row = (await session.execute(stmt.with_for_update(of=Order))).one_or_none()
        if row is None or (organizer_id is not None and row[1] != organizer_id):
            raise NotFound("order not found")  # the same answer for an unknown order and another organizer's
        order: Order = row[0]
        if idempotency_key is not None:
            earlier = (
                await session.scalars(select(Refund).where(Refund.idempotency_key == idempotency_key))
            ).one_or_none()
            if earlier is not None:
                if earlier.order_id != order.id or earlier.request_fingerprint != fingerprint:
                    raise InvalidInput.one(
                        "Idempotency-Key", "was already used with a different request", code=ErrorCode.KEY_REUSED
                    )
                return OpenedRefund(earlier, order, replayed=True)
        if order.status not in SOLD_STATUSES:
            raise Conflict(f"order {order.id} is {order.status}; only paid orders can be refunded")
        if not order.stripe_payment_intent_id or order.total_cents == 0:
            raise Conflict(f"order {order.id} has no card payment to refund")
        asked = (
            await session.scalar(
                select(func.coalesce(func.sum(Refund.amount_cents), 0)).where(
                    Refund.order_id == order.id, Refund.status.in_(REFUND_COUNTING)
                )
            )
        ) or 0
        remaining = order.total_cents - max(order.refunded_cents, int(asked))
        if remaining <= 0:
            raise Conflict(f"order {order.id} has nothing left to refund (refunds already asked cover all of it)")
        if amount_cents is not None and amount_cents > remaining:
            raise InvalidInput(
                FieldError(
                    "amount_cents",
                    f"must be at most the {money.format_money(remaining, order.currency)} not yet refunded",
                    (("remaining_cents", remaining),),
                    code=ErrorCode.ABOVE_MAXIMUM,
                )
            )
        refund = Refund(
            id=new_id("rf"),
            order_id=order.id,
            amount_cents=amount_cents if amount_cents is not None else remaining,
            currency=order.currency,
            status="requested",
            idempotency_key=idempotency_key,
            request_fingerprint=fingerprint,
            created_at=now,
            updated_at=now,
        )
        session.add(refund)
    return OpenedRefund(refund, order, replayed=False)


async def settle_refund(
    db: Database,
    refund_id: str,
    *,
    status: str,
    stripe_refund_id: str | None = None,
    failure_reason: str | None = None,
) -> None:
    """Stripe answered (``status``: one of Stripe's refund statuses, or ``failed`` when it refused the request)."""
    stored = status if status in STRIPE_STATUSES else "pending"
    values: dict[str, object] = {"status": stored, "updated_at": utcnow()}
    if stripe_refund_id is not None:
        values["stripe_refund_id"] = stripe_refund_id
    if failure_reason is not None:
        values["failure_reason"] = failure_reason[:2000]
    async with db.single() as session:
        await session.execute(update(Refund).where(Refund.id == refund_id).values(**values))


@dataclass(frozen=True)
class RefundToSend:
    refund_id: str
    order_id: str
    event_id: str
    amount_cents: int
    payment_intent_id: str


async def unanswered_refunds(db: Database, *, older_than: timedelta, limit: int = 100) -> list[RefundToSend]:
    """Refunds recorded but never answered by Stripe (the process died, or Stripe was down): to be sent again."""
    cutoff = utcnow() - older_than
    async with db.read() as session:
        rows = (
            await session.execute(
                select(Refund.id, Refund.order_id, Order.event_id, Refund.amount_cents, Order.stripe_payment_intent_id)
                .join(Order, Order.id == Refund.order_id)
                .where(Refund.status == "requested", Refund.created_at <= cutoff)
                .order_by(Refund.created_at)
                .limit(limit)
            )
        ).all()
    return [RefundToSend(r[0], r[1], r[2], r[3], r[4]) for r in rows if r[4]]


async def list_refunds(db: Database, order_id: str) -> list[Refund]:
    async with db.read() as session:
        return list(
            (await session.scalars(select(Refund).where(Refund.order_id == order_id).order_by(Refund.created_at))).all()
        )
