"""Inventory: each ticket type's counters, ``sold_count``, ``held_count`` and ``reserved_count`` (set aside for
vouchers, and of it ``waitlist_count`` held back for the waiting list).

They change only by single conditional UPDATEs (taking a hold, moving an order's quantities between the counters),
so availability (``quantity - sold - held - reserved``) never goes negative under any number of concurrent processes
(and a CHECK constraint refuses an oversell in the database itself). Tickets that come back to sale go to the
waiting list first (``_give_back``): in the same UPDATE, as many as its waiting entries still ask for are held back
for it, so the public never sees them while someone waits. Also here: the sold-out answer, expired holds as
counted by availability reads, and the ``availability`` domain event recorded after every change of the counters.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Subquery, and_, bindparam, case, func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice import outbox
from boxoffice.db import UTCDateTime
from boxoffice.errors import SoldOut
from boxoffice.ticketing.models import Order, OrderLine, OrderStatus, TicketType
from boxoffice.ticketing.voucher_models import WaitingListEntry
from boxoffice.topics import event_topic

# (quantity, sold, held, reserved) of a ticket type
Counters = tuple[int, int, int, int]
_COUNTERS = (TicketType.quantity, TicketType.sold_count, TicketType.held_count, TicketType.reserved_count)
# What the public can buy of a ticket type (an expression on its row).
PUBLIC_LEFT = TicketType.quantity - TicketType.sold_count - TicketType.held_count - TicketType.reserved_count


@dataclass
class _Taking:
    ticket_type: TicketType
    quantity: int = 0
    line_indexes: list[int] = field(default_factory=list)
    reserved: int = 0  # of ``quantity``, taken from a voucher's reservation (decided under the voucher's lock)


def _availability_payload(event_id: str, rows: Iterable[tuple[str, int, int, int, int]]) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "ticket_types": [
            {
                "id": tt_id,
                "quantity": q,
                "sold": sold,
                "held": held,
                "reserved": reserved,
                "available": max(q - sold - held - reserved, 0),
            }
            for tt_id, q, sold, held, reserved in rows
        ],
    }


def _rows(counters: Mapping[str, Counters]) -> list[tuple[str, int, int, int, int]]:
    return [(k, *v) for k, v in sorted(counters.items())]


def _record_availability(session: AsyncSession, event_id: str, rows: Iterable[tuple[str, int, int, int, int]]) -> None:
    payload = _availability_payload(event_id, rows)
    if payload["ticket_types"]:
        outbox.record(session, "availability", [event_topic(event_id)], payload)


def hold_ended(now: datetime | ColumnElement[datetime]) -> ColumnElement[bool]:
    """An order whose hold has ended at ``now``: still pending, past its expiry (what every reader and the sweeper
    count as available again, and release)."""
    return and_(Order.status == OrderStatus.PENDING, Order.expires_at <= now)


def _ended_orders(now: datetime | ColumnElement[datetime]) -> Subquery:
    """The orders whose hold has ended at ``now``, as a subquery PostgreSQL plans by itself and reads once, in
    expiry order: the order makes it read them through ``ix_orders_status_expires`` whatever its statistics say.

    Joined to order lines the plain way, the planner, with statistics from before a sale (every order since then
    estimated as one row), read the lines of the ticket type and, for each, every pending order through the partial
    index of pending orders by address: after 300 orders, 90,000 rows and 60 to 90 ms of PostgreSQL for each sold-out
    answer, quadratic in the orders held (``tests/ticketing/test_ended_holds.py``)."""
    return select(Order.id).where(hold_ended(now)).order_by(Order.expires_at).subquery("ended")


def has_ended_hold(now: datetime | ColumnElement[datetime]) -> ColumnElement[bool]:
    """Whether a hold of the ticket type (a row of ``ticket_types`` in the query) has ended at ``now`` (a time, or a
    bound parameter for a statement built once)."""
    ended = _ended_orders(now)
    return TicketType.id.in_(select(OrderLine.ticket_type_id).join(ended, ended.c.id == OrderLine.order_id))


# The tickets held by orders whose hold has ended, per ticket type. Built once: every availability read (the event
# page, the ticket list, a live update's first state) runs it, and building it, its subquery included, cost more CPU
# than the rest of the read.
_ended_at_now = _ended_orders(bindparam("now", type_=UTCDateTime()))
_EXPIRED_HOLDS = (
    select(OrderLine.ticket_type_id, func.sum(OrderLine.quantity))
    .join(_ended_at_now, _ended_at_now.c.id == OrderLine.order_id)
    .where(OrderLine.ticket_type_id.in_(bindparam("ids", expanding=True)))
    .group_by(OrderLine.ticket_type_id)
)


async def _expired_holds(session: AsyncSession, ticket_type_ids: Sequence[str], now: datetime) -> dict[str, int]:
    """Per ticket type, the tickets held by orders whose hold has ended at ``now``."""
    if not ticket_type_ids:
        return {}
    rows = await session.execute(_EXPIRED_HOLDS, {"ids": list(ticket_type_ids), "now": now})
    return {tt_id: int(total or 0) for tt_id, total in rows}


class SoldOutNothingExpired(SoldOut):
    """Sold out, and no hold of the order's ticket types had ended when that was found: there is no expired hold to
    release and try again with (the reservation answers at once)."""


def _sold_out(taking: _Taking, left: int, *, holds_ended: bool = True) -> SoldOut:
    """The answer to an order asking more of a ticket type than the ``left`` it has, on the type's first line;
    ``holds_ended=False`` when it is known that none of the order's ticket types has an ended hold."""
    tt = taking.ticket_type
    return (SoldOut if holds_ended else SoldOutNothingExpired)(
        f"{tt.title}: only {left} left" if left else f"{tt.title} is sold out",
        ticket_type_id=tt.id,
        available=left,
        field=f"lines[{taking.line_indexes[0]}].quantity",
    )


async def _take(
    session: AsyncSession, takings: Mapping[str, _Taking], now: datetime, counters: dict[str, Counters]
) -> dict[str, int]:
    """Hold each ticket type's quantity with one conditional UPDATE (in a fixed order, so concurrent multi-line
    orders never deadlock); a taking's ``reserved`` units come from its voucher's reservation, the rest from what the
    public can buy. Returns how many units were taken before this order's, per ticket type."""
    taken_before: dict[str, int] = {}
    for tt_id in sorted(takings):
        taking = takings[tt_id]
        row = (
            await session.execute(
                update(TicketType)
                .where(
                    TicketType.id == tt_id,
                    TicketType.deleted_at.is_(None),
                    PUBLIC_LEFT + taking.reserved >= taking.quantity,
                )
                .values(
                    held_count=TicketType.held_count + taking.quantity,
                    reserved_count=TicketType.reserved_count - taking.reserved,
                    updated_at=now,
                )
                .returning(*_COUNTERS)
                .execution_options(synchronize_session=False)
            )
        ).one_or_none()
        if row is None:
            raise _sold_out(taking, await _available_now(session, tt_id) + taking.reserved)
        quantity, sold, held, reserved = row
        counters[tt_id] = (quantity, sold, held, reserved)
        taken_before[tt_id] = sold + held - taking.quantity
    return taken_before


async def _available_now(session: AsyncSession, ticket_type_id: str) -> int:
    left = await session.scalar(select(PUBLIC_LEFT).where(TicketType.id == ticket_type_id))
    return max(int(left or 0), 0)


async def _counters(session: AsyncSession, ticket_type_ids: Sequence[str]) -> dict[str, Counters]:
    rows = await session.execute(select(TicketType.id, *_COUNTERS).where(TicketType.id.in_(ticket_type_ids)))
    return {tt_id: (q, s, h, r) for tt_id, q, s, h, r in rows}


def _quantities(order: Order) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for line in order.lines:
        totals[line.ticket_type_id] += line.quantity
    return dict(sorted(totals.items()))


async def _shift(session: AsyncSession, order: Order, *, held: int, sold: int, now: datetime) -> dict[str, Counters]:
    """Move the order's quantities from held to sold (``held``/``sold`` are -1, 0 or +1 multipliers); returns the
    new counters of each ticket type. Tickets going back to sale go through ``_release`` instead."""
    counters: dict[str, Counters] = {}
    for tt_id, q in _quantities(order).items():
        row = (
            await session.execute(
                update(TicketType)
                .where(TicketType.id == tt_id)
                .values(
                    held_count=TicketType.held_count + held * q,
                    sold_count=TicketType.sold_count + sold * q,
                    updated_at=now,
                )
                .returning(*_COUNTERS)
                .execution_options(synchronize_session=False)
            )
        ).one()
        counters[tt_id] = (row[0], row[1], row[2], row[3])
    return counters


async def _release(
    session: AsyncSession, order: Order, *, from_sold: bool, kept: Mapping[str, int], now: datetime
) -> dict[str, Counters]:
    """The order's tickets leave ``held`` (or ``sold``): those of a voucher's reservation that is still open go back
    to it (``kept`` per ticket type, counted in ``reserved``), the rest back to sale (the waiting list first)."""
    counters: dict[str, Counters] = {}
    for tt_id, q in _quantities(order).items():
        back = kept.get(tt_id, 0)
        counters[tt_id] = await _give_back(
            session,
            tt_id,
            returned=q - back,
            now=now,
            held=0 if from_sold else -q,
            sold=-q if from_sold else 0,
            reserved=back,
        )
    return counters


def _least(a: ColumnElement[int], b: ColumnElement[int]) -> ColumnElement[int]:
    return case((a < b, a), else_=b)


async def _give_back(
    session: AsyncSession,
    ticket_type_id: str,
    *,
    returned: int,
    now: datetime,
    held: int = 0,
    sold: int = 0,
    reserved: int = 0,
    quantity: int = 0,
) -> Counters:
    """Change a ticket type's counters by ``held``/``sold``/``reserved``/``quantity`` and put ``returned`` tickets
    back to sale, in one UPDATE. Returned tickets go to the waiting list first: as many as its waiting entries ask
    for beyond what is held back for them already are held back (``waitlist_count``, counted in ``reserved``), the
    rest go on sale. The entries are read from the statement's snapshot: one who joins while it runs joined after
    the tickets came back; one offered while it runs may make it hold back too many, which the waiting list's worker
    gives back to the public (``waitlist.hand_out``)."""
    waiting = (
        select(func.coalesce(func.sum(WaitingListEntry.quantity), 0))
        .where(WaitingListEntry.ticket_type_id == ticket_type_id, WaitingListEntry.status == "waiting")
        .scalar_subquery()
    )
    wanted = waiting - TicketType.waitlist_count
    held_back: ColumnElement[int] = literal(0)
    if returned > 0:
        held_back = case(
            (TicketType.waiting_list.is_(True) & (wanted > 0), _least(literal(returned), wanted)), else_=literal(0)
        )
    row = (
        await session.execute(
            update(TicketType)
            .where(TicketType.id == ticket_type_id)
            .values(
                quantity=TicketType.quantity + quantity,
                held_count=TicketType.held_count + held,
                sold_count=TicketType.sold_count + sold,
                reserved_count=TicketType.reserved_count + reserved + held_back,
                waitlist_count=TicketType.waitlist_count + held_back,
                updated_at=now,
            )
            .returning(*_COUNTERS)
            .execution_options(synchronize_session=False)
        )
    ).one()
    return (row[0], row[1], row[2], row[3])


async def _record_order_availability(session: AsyncSession, order: Order) -> None:
    counters = await _counters(session, list(_quantities(order)))
    _record_availability(session, order.event_id, _rows(counters))
