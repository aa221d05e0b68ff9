"""The order lifecycle: guarded state transitions (``TRANSITIONS``), and reads of orders and their tickets.

A transition happens once: one conditional UPDATE decides a race (``_guarded_update``), and the winner applies its
effects (tickets issued, counters moved, the buyer made a ticket holder) and records the domain events in the outbox,
in the same short transaction. Confirm, cancel, expire, fail, refunds as Stripe reports them, and the sweeper that
releases expired holds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import raiseload
from sqlalchemy.orm.attributes import set_committed_value

from boxoffice import outbox
from boxoffice.attendees.models import Attendee
from boxoffice.clock import utcnow
from boxoffice.db import DEADLOCK_RETRIES, Database, is_deadlock, retrying_deadlocks
from boxoffice.errors import ErrorCode, InvalidInput, NotFound, SoldOut
from boxoffice.events import service as events
from boxoffice.ids import new_id
from boxoffice.ticketing import attendance, tokens, voucher_uses
from boxoffice.ticketing.inventory import (
    PUBLIC_LEFT,
    Counters,
    _quantities,
    _record_availability,
    _record_order_availability,
    _release,
    _rows,
    _shift,
    hold_ended,
)
from boxoffice.ticketing.models import (
    SOLD_STATUSES,
    TRANSITIONS,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
    Ticket,
    TicketType,
)
from boxoffice.topics import event_sales_topic, order_topic

LATE_PAYMENT_SOURCES = (OrderStatus.EXPIRED, OrderStatus.CANCELED, OrderStatus.FAILED)


@dataclass(frozen=True)
class TransitionResult:
    order: Order
    changed: bool
    previous_status: str
    outcome: str = ""

    @property
    def status(self) -> str:
        return self.order.status


async def _apply(session: AsyncSession, order: Order, source: str, target: str, now: datetime) -> dict[str, Counters]:
    """The effects of a transition that has just been won by a guarded update. The ticket types' counters move
    last: their row lock is then held only until the commit that follows. Tickets that leave the order give back
    their voucher uses (the voucher's row is locked before the ticket types', as everywhere) and go back to sale,
    the waiting list first."""
    if source == OrderStatus.PENDING and target == OrderStatus.CONFIRMED:
        await _issue_tickets(session, order)
        await events.add_ticket_holder(session, order)
        counters = await _shift(session, order, held=-1, sold=+1, now=now)
        await voucher_uses.convert_offer(session, order, now)
        return counters
    if source == OrderStatus.PENDING:
        kept = await voucher_uses.release(session, order, now)
        return await _release(session, order, from_sold=False, kept=kept, now=now)
    if target in (OrderStatus.CANCELED, OrderStatus.REFUNDED) and source in SOLD_STATUSES:
        await session.execute(
            update(Ticket)
            .where(Ticket.order_id == order.id)
            .values(status="void")
            .execution_options(synchronize_session=False)
        )
        await events.remove_ticket_holder_order(session, order)
        await attendance.release_attendees(session, order)
        kept = await voucher_uses.release(session, order, now)
        return await _release(session, order, from_sold=True, kept=kept, now=now)
    return {}


def _mark(order: Order, target: str, now: datetime, values: Mapping[str, Any]) -> None:
    """Reflect a guarded UPDATE on the loaded order without another round trip (and without dirtying it)."""
    for key, value in {"status": target, "updated_at": now, _TIMESTAMP[target]: now, **values}.items():
        set_committed_value(order, key, value)


async def _issue_tickets(session: AsyncSession, order: Order) -> None:
    """One ticket per unit of each line; a unit with an attendee is issued to them (``attendance``). One query
    tells both whether the tickets exist already and whether the order has attendees."""
    existing, has_attendees = (
        await session.execute(
            select(exists().where(Ticket.order_id == order.id), exists().where(Attendee.order_id == order.id))
        )
    ).one()
    if existing:
        return
    issued: dict[tuple[str, int], str] = {}
    for line in order.lines:
        prices = line.unit_prices or [line.unit_price_cents] * line.quantity
        for unit, price in enumerate(prices):
            ticket = Ticket(
                id=new_id("tkt"),
                order_id=order.id,
                order_line_id=line.id,
                ticket_type_id=line.ticket_type_id,
                unit_price_cents=int(price),
                status="valid",
            )
            session.add(ticket)
            issued[(line.id, unit)] = ticket.id
    if has_attendees:
        await session.flush()
        await attendance.issue_to_attendees(session, order, issued, utcnow())


_TIMESTAMP: dict[str, str] = {
    OrderStatus.CONFIRMED: "confirmed_at",
    OrderStatus.CANCELED: "canceled_at",
    OrderStatus.EXPIRED: "expired_at",
    OrderStatus.FAILED: "failed_at",
    OrderStatus.REFUNDED: "refunded_at",
    OrderStatus.PARTIALLY_REFUNDED: "refunded_at",
}


async def _load_order(
    session: AsyncSession, order_id: str, *, for_update: bool = False, with_lines: bool = True
) -> Order:
    stmt = select(Order).where(Order.id == order_id).execution_options(populate_existing=True)
    if not with_lines:
        stmt = stmt.options(raiseload(Order.lines))
    if for_update:
        stmt = stmt.with_for_update()
    order = (await session.scalars(stmt)).one_or_none()
    if order is None:
        raise NotFound(f"order {order_id} not found")
    return order


async def _guarded_update(
    session: AsyncSession,
    order: Order,
    target: str,
    now: datetime,
    extra: ColumnElement[bool] | None = None,
    **values: Any,
) -> bool:
    condition = and_(Order.id == order.id, Order.status == order.status)
    if extra is not None:
        condition = and_(condition, extra)
    result = await session.execute(
        update(Order)
        .where(condition)
        .values(status=target, updated_at=now, **{_TIMESTAMP[target]: now}, **values)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


def _record_status(session: AsyncSession, order: Order, previous: str) -> None:
    # The order's history (the console's order page): one INSERT, in the transition's transaction.
    session.add(
        OrderEvent(
            order_id=order.id,
            from_status=previous,
            to_status=order.status,
            refunded_cents=order.refunded_cents or 0,
            created_at=order.updated_at or utcnow(),
        )
    )
    outbox.record(
        session,
        f"order.{order.status}",
        [order_topic(order.id), event_sales_topic(order.event_id)],  # the buyer's stream, the console's dashboard
        {
            "order_id": order.id,
            "event_id": order.event_id,
            "email": order.email,
            "status": order.status,
            "previous_status": previous,
            "total_cents": order.total_cents,
            "refunded_cents": order.refunded_cents,
            "currency": order.currency,
        },
    )


async def _transition(
    db: Database,
    order_id: str,
    target: str,
    *,
    now: datetime | None = None,
    sources: Sequence[str] | None = None,
    guard: ColumnElement[bool] | None = None,
    **values: Any,
) -> TransitionResult:
    """Move an order to ``target`` once. If another caller got there first, or the order is in a state that cannot
    move to ``target``, nothing changes and the current state is reported."""
    now = now or utcnow()
    allowed = tuple(sources if sources is not None else TRANSITIONS[target])
    deadlocks = 0
    for _ in range(10):
        try:
            async with db.transaction() as session:
                order = await _load_order(session, order_id)
                previous = order.status
                if previous not in allowed:
                    return TransitionResult(order, changed=False, previous_status=previous, outcome="unchanged")
                if not await _guarded_update(session, order, target, now, guard, **values):
                    current = await _load_order(session, order_id)
                    if current.status == previous:  # the extra guard said no (not expired yet, an older refund, ...)
                        return TransitionResult(current, changed=False, previous_status=previous, outcome="unchanged")
                    continue  # lost a race: read the new state and decide again
                counters = await _apply(session, order, previous, target, now)
                _mark(order, target, now, values)
                _record_status(session, order, previous)
                _record_availability(session, order.event_id, _rows(counters))
                return TransitionResult(order, changed=True, previous_status=previous, outcome=target)
        except DBAPIError as exc:
            # PostgreSQL broke a deadlock by undoing this transaction (nothing of it was written): try it again. The
            # effects lock rows of several tables (tickets' foreign keys on the ticket types, the buyer's
            # participant row, the ticket types' counters); another transition of the same buyer, a one-statement
            # confirmation or a reservation can take some of them in another order or mode.
            deadlocks += 1
            if not is_deadlock(exc) or deadlocks > DEADLOCK_RETRIES:
                raise
    raise RuntimeError(f"order {order_id} kept changing under concurrent updates")


async def confirm_order(
    db: Database, order_id: str, *, payment_intent_id: str | None = None, now: datetime | None = None
) -> TransitionResult:
    """Payment succeeded: held becomes sold, tickets are issued, the buyer becomes a ticket holder. Exactly once.

    A payment for an order that no longer holds its tickets (expired, canceled or failed in the meantime) is
    confirmed if the tickets can still be taken; otherwise the result's outcome is ``tickets_unavailable`` and the
    caller must refund the payment.
    """
    now = now or utcnow()
    values: dict[str, Any] = {}
    if payment_intent_id:
        values["stripe_payment_intent_id"] = payment_intent_id
    result = await _transition(db, order_id, OrderStatus.CONFIRMED, now=now, **values)
    if result.changed or result.previous_status not in LATE_PAYMENT_SOURCES:
        return result
    late = result.order
    return await retrying_deadlocks(lambda: _confirm_late(db, late, now, values))  # wrote nothing when undone


async def _confirm_late(db: Database, order: Order, now: datetime, values: dict[str, Any]) -> TransitionResult:
    previous, order_id = order.status, order.id
    try:
        async with db.transaction() as session:
            order = await _load_order(session, order_id, for_update=True)  # one late confirmation at a time
            if order.status != previous:
                return TransitionResult(order, changed=False, previous_status=order.status, outcome="unchanged")
            reserved = await voucher_uses.retake(session, order, now)  # its voucher first, as everywhere
            if reserved is None:
                raise SoldOut("the order's voucher has no uses left", ticket_type_id="", available=0)
            for tt_id, q in _quantities(order).items():
                back = reserved.get(tt_id, 0)
                row = (
                    await session.execute(
                        update(TicketType)
                        .where(TicketType.id == tt_id, PUBLIC_LEFT + back >= q)
                        .values(
                            sold_count=TicketType.sold_count + q,
                            reserved_count=TicketType.reserved_count - back,
                            updated_at=now,
                        )
                        .returning(TicketType.id)
                        .execution_options(synchronize_session=False)
                    )
                ).one_or_none()
                if row is None:
                    raise SoldOut("tickets no longer available", ticket_type_id=tt_id, available=0)
            if not await _guarded_update(session, order, OrderStatus.CONFIRMED, now, None, **values):
                raise _LostRace
            await _issue_tickets(session, order)
            await events.add_ticket_holder(session, order)
            await voucher_uses.convert_offer(session, order, now)
            order = await _load_order(session, order.id)
            _record_status(session, order, previous)
            await _record_order_availability(session, order)
            return TransitionResult(order, changed=True, previous_status=previous, outcome="confirmed_late")
    except _LostRace:
        async with db.read() as session:
            order = await _load_order(session, order_id)
        return TransitionResult(order, changed=False, previous_status=order.status, outcome="unchanged")
    except SoldOut:
        async with db.transaction() as session:
            noted = await session.execute(
                update(Order)
                .where(Order.id == order_id, Order.status == previous)
                .values(
                    failure_reason="paid after its hold ended and the tickets were gone: payment to be refunded",
                    updated_at=now,
                    **values,
                )
                .execution_options(synchronize_session=False)
            )
            order = await _load_order(session, order_id)
        if getattr(noted, "rowcount", 0) != 1:  # another delivery confirmed it meanwhile: nothing to refund
            return TransitionResult(order, changed=False, previous_status=order.status, outcome="unchanged")
        return TransitionResult(order, changed=False, previous_status=previous, outcome="tickets_unavailable")


class _LostRace(Exception):
    pass


async def cancel_order(
    db: Database,
    order_id: str,
    *,
    reason: str | None = None,
    now: datetime | None = None,
    sources: Sequence[str] | None = None,
) -> TransitionResult:
    """Cancel: a pending order releases its hold; a confirmed one returns its tickets to sale. ``sources``: the
    states it may be canceled from (a buyer's cancel: only ``pending``, whatever confirmed it meanwhile)."""
    return await _transition(db, order_id, OrderStatus.CANCELED, now=now, sources=sources, failure_reason=reason)


async def expire_order(
    db: Database, order_id: str, *, force: bool = False, now: datetime | None = None
) -> TransitionResult:
    """End a pending order's hold at its expiry (``force``: now, e.g. when Stripe says the session expired)."""
    now = now or utcnow()
    guard = None if force else Order.expires_at <= now
    return await _transition(db, order_id, OrderStatus.EXPIRED, now=now, guard=guard)


async def fail_order(
    db: Database, order_id: str, *, reason: str, now: datetime | None = None, release_idempotency_key: bool = False
) -> TransitionResult:
    """Payment failed for good: release the hold. ``release_idempotency_key``: the order was never offered to the
    buyer (its checkout could not start), so the Idempotency-Key that created it may create a new one."""
    values: dict[str, Any] = {"failure_reason": reason[:2000]}
    if release_idempotency_key:
        values["idempotency_key"] = None
    return await _transition(db, order_id, OrderStatus.FAILED, now=now, **values)


async def record_refund(
    db: Database, order_id: str, refunded_total_cents: int, *, now: datetime | None = None
) -> TransitionResult:
    """Stripe reports ``refunded_total_cents`` refunded so far (cumulative). A full refund returns the tickets to
    sale; a partial one only records the amount. Idempotent: a repeated or older report changes nothing."""
    now = now or utcnow()
    if refunded_total_cents <= 0:
        raise InvalidInput.one("amount_cents", "must be > 0", (("minimum_cents", 1),), code=ErrorCode.BELOW_MINIMUM)
    async with db.read() as session:
        order = await _load_order(session, order_id)
    if refunded_total_cents >= order.total_cents:
        target = OrderStatus.REFUNDED
        amount = order.total_cents
    else:
        target = OrderStatus.PARTIALLY_REFUNDED
        amount = refunded_total_cents
    sources: tuple[str, ...] = SOLD_STATUSES
    if target == OrderStatus.REFUNDED:
        sources = (*sources, *LATE_PAYMENT_SOURCES)
    result = await _transition(
        db,
        order_id,
        target,
        now=now,
        sources=sources,
        guard=Order.refunded_cents < amount,
        refunded_cents=amount,
    )
    return result


async def release_expired_holds(
    db: Database,
    *,
    now: datetime | None = None,
    ticket_type_ids: Sequence[str] | None = None,
    limit: int = 500,
) -> int:
    """Expire pending orders whose hold has ended (the sweeper). Returns how many it expired."""
    now = now or utcnow()
    async with db.read() as session:
        stmt = select(Order.id).where(hold_ended(now))
        if ticket_type_ids is not None:
            stmt = stmt.where(
                exists().where(OrderLine.order_id == Order.id, OrderLine.ticket_type_id.in_(ticket_type_ids))
            )
        ids = list((await session.scalars(stmt.order_by(Order.expires_at).limit(limit))).all())
    expired = 0
    for order_id in ids:
        if (await expire_order(db, order_id, now=now)).changed:
            expired += 1
    return expired


async def get_order(db: Database, order_id: str, *, organizer_id: str | None = None, with_lines: bool = True) -> Order:
    """The order with its lines; ``with_lines=False`` leaves them out (reading them then raises), one query less."""
    async with db.read() as session:
        try:
            order = await _load_order(session, order_id, with_lines=with_lines)
            if organizer_id is not None:
                await events.load_event(session, order.event_id, organizer_id=organizer_id)
        except NotFound:
            if organizer_id is None:
                raise
            raise NotFound("order not found") from None  # not yours or unknown: one answer, naming nothing
        return order


async def get_order_with_token(db: Database, order_id: str, token: str, keys: Sequence[bytes]) -> Order:
    """The order if ``token`` opens it under one of the secret ``keys`` (``tokens.token_opens``); otherwise NotFound
    (nothing about the order leaks)."""
    async with db.read() as session:
        order = (await session.scalars(select(Order).where(Order.id == order_id))).one_or_none()
    if order is None or not tokens.token_opens(order.id, order.token_hash, token, keys):
        raise NotFound(f"order {order_id} not found")
    return order


async def list_orders(
    db: Database, event_id: str, *, status: str | None = None, limit: int = 100, offset: int = 0
) -> list[Order]:
    async with db.read() as session:
        stmt = select(Order).where(Order.event_id == event_id)
        if status is not None:
            stmt = stmt.where(Order.status == status)
        stmt = stmt.order_by(Order.created_at.desc(), Order.id).limit(limit).offset(offset)
        return list((await session.scalars(stmt)).all())


async def list_tickets(db: Database, order_id: str) -> list[Ticket]:
    async with db.read() as session:
        return list(
            (await session.scalars(select(Ticket).where(Ticket.order_id == order_id).order_by(Ticket.id))).all()
        )


async def find_order_by_payment(
    db: Database, *, session_id: str | None = None, payment_intent_id: str | None = None, with_lines: bool = True
) -> Order | None:
    """The order of a Checkout Session or PaymentIntent; ``with_lines=False`` as for ``get_order``."""
    options = () if with_lines else (raiseload(Order.lines),)
    async with db.read() as session:
        if session_id:
            order = (
                await session.scalars(
                    select(Order).where(Order.stripe_checkout_session_id == session_id).options(*options)
                )
            ).one_or_none()
            if order is not None:
                return order
        if payment_intent_id:
            return (
                await session.scalars(
                    select(Order).where(Order.stripe_payment_intent_id == payment_intent_id).options(*options)
                )
            ).one_or_none()
    return None
