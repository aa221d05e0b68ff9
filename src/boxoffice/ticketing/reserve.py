"""Reserving: create an order that holds its tickets, all lines or none, never beyond what is available.

The general path for every database: one short transaction takes each ticket type's quantity with a single
conditional UPDATE and writes the order. On PostgreSQL a paid order of known prices goes through the one-statement
path first (``reserve_pg``). A concurrent request with the same Idempotency-Key is answered with its order.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from boxoffice import outbox
from boxoffice.clock import utcnow
from boxoffice.db import Database
from boxoffice.errors import SoldOut
from boxoffice.events import service as events
from boxoffice.ticketing import attendance, voucher_uses
from boxoffice.ticketing import caps as buyer_caps
from boxoffice.ticketing import vouchers as voucher_rules
from boxoffice.ticketing.inventory import (
    Counters,
    SoldOutNothingExpired,
    _counters,
    _record_availability,
    _rows,
    _take,
)
from boxoffice.ticketing.models import Order, OrderStatus
from boxoffice.ticketing.orders import _apply, _record_status, release_expired_holds
from boxoffice.ticketing.plan import (
    DEFAULT_HOLD,
    MAX_LINE_QUANTITY,
    MAX_LINES,
    OrderRequest,
    _check_plan,
    _check_request,
    _created_payload,
    _load_plan,
    _new_order,
    _price_lines,
    hold_for,
)
from boxoffice.ticketing.reserve_pg import _reserve_in_one_statement
from boxoffice.topics import order_topic


async def reserve(
    db: Database,
    request: OrderRequest,
    *,
    now: datetime | None = None,
    hold: timedelta = DEFAULT_HOLD,
    max_lines: int = MAX_LINES,
    max_quantity: int = MAX_LINE_QUANTITY,
    caps: buyer_caps.BuyerCaps = buyer_caps.NO_CAPS,
) -> Order:
    """Create an order holding its tickets: all lines or none, never beyond what is available.

    One short transaction checks the sales window, per-order limits, the buyer's caps (``ticketing.caps``) and
    prices, and takes each ticket type's quantity with a single conditional UPDATE. A free order (total 0) is
    confirmed at once. When tickets look sold out but some holds have expired, those holds are released and the
    reservation is tried once more. Lines of one ticket type count together against every per-order limit.
    """
    now = now or utcnow()
    _check_request(request, max_lines, max_quantity)
    try:
        try:
            return await _reserve_once(db, request, now, hold, caps)
        except SoldOut as sold_out:
            if isinstance(sold_out, SoldOutNothingExpired):
                raise  # the same read found no ended hold of these ticket types: nothing to release
            released = await release_expired_holds(
                db, now=now, ticket_type_ids=sorted({line.ticket_type_id for line in request.lines})
            )
            if not released:
                raise
            return await _reserve_once(db, request, now, hold, caps)
    except IntegrityError:
        # The one unique value a new order can collide on is its Idempotency-Key: a concurrent request with the
        # same key committed its order first (the whole reservation was rolled back, nothing was taken).
        if request.idempotency_key is not None:
            existing = await find_order_by_idempotency_key(db, request.idempotency_key)
            if existing is not None:
                raise IdempotencyKeyUsed(existing) from None
        raise


class IdempotencyKeyUsed(Exception):
    """The request's Idempotency-Key already created ``order`` (raised instead of a second order)."""

    def __init__(self, order: Order) -> None:
        super().__init__(order.id)
        self.order = order


async def find_order_by_idempotency_key(db: Database, idempotency_key: str) -> Order | None:
    """The order an Idempotency-Key created (``tokens.idempotency_ref``), if any."""
    async with db.read() as session:
        return (await session.scalars(select(Order).where(Order.idempotency_key == idempotency_key))).one_or_none()


async def _reserve_once(
    db: Database, request: OrderRequest, now: datetime, hold: timedelta, caps: buyer_caps.BuyerCaps
) -> Order:
    if db.one_statement_reservations:
        fused = await _reserve_in_one_statement(db, request, now, hold, caps)
        if fused is not None:
            return fused
    plan = await _load_plan(db, request, now)
    details = await attendance.check_details(db, request, plan.event)
    async with db.transaction() as session:
        # A voucher's row is locked first (before the ticket types', as everywhere), and the request is judged again
        # against it as locked: its uses, reservation and terms cannot change until the commit.
        if plan.voucher is not None:
            locked = await voucher_uses.lock_voucher(session, plan.voucher.voucher.id)
            if locked is None or locked.deleted_at is not None:
                raise voucher_rules.unknown()
            plan = _check_plan(request, plan.event, plan.found, now, locked)
            assert plan.voucher is not None
            if voucher_uses.reservation_open(locked, now):
                for tt_id, wanted in plan.voucher.reservable.items():
                    plan.takings[tt_id].reserved = min(wanted, locked.reserved_left)
        # The conditional UPDATE locks the ticket type's row until COMMIT, so every other buyer of that ticket
        # waits for it: when prices are known up front (fixed and flexible), everything else is written first and
        # the inventory is taken last, right before the commit. Dynamic prices depend on the units' positions, which
        # only the UPDATE can tell, so they take the inventory first.
        person = await events.get_or_create_person(session, request.email, request.name)
        counters: dict[str, Counters] = {}
        if plan.positional:
            taken_before = await _take(session, plan.takings, now, counters)
        else:
            taken_before = dict.fromkeys(plan.takings, 0)
        priced, totals = _price_lines(request, plan, taken_before, now)
        await buyer_caps.check_order(
            session,
            caps,
            event_id=plan.event.id,
            person_id=person.id,
            client_key=request.client_key,
            requested=sum(t.quantity for t in plan.takings.values()),
            free=totals.total_cents == 0,
            now=now,
        )
        order = _new_order(request, plan, person.id, priced, totals, now, hold_for(plan.event, hold))
        session.add(order)
        outbox.record(session, "order.created", [order_topic(order.id)], _created_payload(order))
        await session.flush()
        if details is not None:
            attendance.store_details(session, order, details, now)
        if plan.voucher is not None:
            reserved = {tt_id: t.reserved for tt_id, t in plan.takings.items() if t.reserved}
            await voucher_uses.take(session, plan.voucher, order, reserved, plan.undiscounted, now)
        if not plan.positional:
            await _take(session, plan.takings, now, counters)
        if order.total_cents == 0:
            await _apply(session, order, OrderStatus.PENDING, OrderStatus.CONFIRMED, now)
            counters.update(await _counters(session, list(plan.takings)))
            order.status = OrderStatus.CONFIRMED
            order.confirmed_at = now
            _record_status(session, order, OrderStatus.PENDING)
        _record_availability(session, plan.event.id, _rows(counters))
    return order
