"""Voucher uses: taken in the same transaction as the tickets, given back with them, exactly once.

An order that uses a voucher has one ``voucher_uses`` row per order line the voucher applies to: its tickets
(``quantity``) and how many of them came from the voucher's reservation (``reserved``). The voucher's counters
(``uses_taken``, ``reserved_left``) change only here, with the voucher's row locked (``SELECT ... FOR UPDATE``), and
always before the ticket types' rows in the same transaction (the one-statement reservation locks them in that
order too), so the two never deadlock. Giving back happens in the effects of the order's guarded transition
(``orders._apply``), which runs once per transition, so uses come back exactly once; a late payment takes them again
(``retake``) or, when the voucher has no uses left, is refunded like a payment whose tickets are gone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.db import Database
from boxoffice.ids import new_id
from boxoffice.ticketing import vouchers as rules
from boxoffice.ticketing.models import Order
from boxoffice.ticketing.rules import pricing_from_row
from boxoffice.ticketing.voucher_models import Voucher, VoucherUse, WaitingListEntry


@dataclass
class PlannedVoucher:
    """The voucher of a checked order request: its row as read, per request line whether it applies, and per
    ticket type how many of the order's tickets its reservation could cover."""

    voucher: Voucher
    terms: rules.VoucherTerms
    applies: list[bool]
    applicable: int
    reservable: dict[str, int]

    @property
    def discount(self) -> rules.Discount | None:
        return self.terms.discount


def reservation_open(voucher: Voucher, now: datetime) -> bool:
    """Whether the voucher's reservation still sets tickets aside (a deleted or expired voucher's does not)."""
    return (
        voucher.reserved_ticket_type_id is not None
        and voucher.deleted_at is None
        and (voucher.valid_until is None or now < voucher.valid_until)
    )


async def find_voucher(session: AsyncSession, event_id: str, code: str) -> Voucher | None:
    """The event's live voucher with this code (any case), or None."""
    return (
        await session.scalars(
            select(Voucher).where(
                Voucher.event_id == event_id,
                Voucher.code_normalized == rules.normalize_code(code),
                Voucher.deleted_at.is_(None),
            )
        )
    ).one_or_none()


async def read_voucher(db: Database, event_id: str, code: str) -> Voucher | None:
    async with db.read() as session:
        return await find_voucher(session, event_id, code)


async def lock_voucher(session: AsyncSession, voucher_id: str) -> Voucher | None:
    """The voucher's row, locked until the transaction ends (first of the rows a sale locks)."""
    return (
        await session.scalars(
            select(Voucher).where(Voucher.id == voucher_id).with_for_update().execution_options(populate_existing=True)
        )
    ).one_or_none()


async def voucher_for_holder(db: Database, event_id: str, code: str, now: datetime) -> Voucher:
    """The voucher a buyer typed, to show its prices and unlocked tickets before checkout: unknown (422), not valid
    now or used up (409) are refused as an order with it would be."""
    voucher = await read_voucher(db, event_id, code)
    if voucher is None:
        raise rules.unknown()
    terms = rules.terms_from_row(voucher)
    rules.check_window(terms, now)
    if terms.remaining == 0:
        raise rules.used_up(0)
    return voucher


@dataclass(frozen=True)
class HolderTicket:
    """A ticket type as the holder of a voucher sees it: whether the code applies, the price of the next unit with
    it, and what they can buy (what the public can, and the tickets set aside for the code)."""

    applies: bool
    price_cents: int
    available: int


def holder_ticket(voucher: Voucher, ticket: Any, *, available: int, price_cents: int, now: datetime) -> HolderTicket:
    """``ticket``: anything with a ticket type's id, ``hidden`` and pricing attributes; ``price_cents``: the next
    unit's price without the voucher (a flexible one's suggested price)."""
    terms = rules.terms_from_row(voucher)
    applies = rules.applies_to(terms, ticket.id, hidden=ticket.hidden)
    price = rules.unit_price(pricing_from_row(ticket), price_cents, terms.discount) if applies else price_cents
    if applies and voucher.reserved_ticket_type_id == ticket.id and reservation_open(voucher, now):
        available += voucher.reserved_left
    if applies and ticket.hidden and terms.remaining is not None:  # sold only with the code: its uses bound it
        available = min(available, terms.remaining)
    return HolderTicket(applies, price, available)


def _allocate(total: int, sizes: Sequence[int]) -> list[int]:
    """``total`` spread over ``sizes`` in order, each taking what it can."""
    out = []
    for size in sizes:
        share = min(size, total)
        out.append(share)
        total -= share
    return out


async def take(
    session: AsyncSession,
    planned: PlannedVoucher,
    order: Order,
    reserved: Mapping[str, int],
    undiscounted: Sequence[Sequence[int]],
    now: datetime,
) -> None:
    """Take the order's uses of its (locked, checked) voucher: ``uses_taken`` and ``reserved_left`` move, and one
    ``voucher_uses`` row per order line the voucher applies to is written. ``reserved``: per ticket type, the
    tickets taken from the voucher's reservation (the caller takes the ticket types' counters with them)."""
    voucher = planned.voucher
    taken = sum(reserved.values())
    await session.execute(
        update(Voucher)
        .where(Voucher.id == voucher.id)
        .values(
            uses_taken=Voucher.uses_taken + planned.applicable,
            reserved_left=Voucher.reserved_left - taken,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    lines = [line for line, applies in zip(order.lines, planned.applies, strict=True) if applies]
    left = dict(reserved)
    for line in lines:
        from_reserve = min(line.quantity, left.get(line.ticket_type_id, 0))
        left[line.ticket_type_id] = left.get(line.ticket_type_id, 0) - from_reserve
        full = sum(undiscounted[line.position])
        session.add(
            VoucherUse(
                id=new_id("vu"),
                voucher_id=voucher.id,
                order_id=order.id,
                order_line_id=line.id,
                ticket_type_id=line.ticket_type_id,
                quantity=line.quantity,
                reserved=from_reserve,
                discount_cents=full - line.line_total_cents,
                created_at=now,
            )
        )


def uses_voucher(order: Order) -> bool:
    """Whether the order was priced with a voucher (its pricing snapshot says so: no query for the others)."""
    return bool((order.pricing_snapshot or {}).get("voucher"))


async def release(session: AsyncSession, order: Order, now: datetime) -> dict[str, int]:
    """Give back the order's uses (its tickets leave held or sold). Returns, per ticket type, the tickets that go
    back to a voucher's reservation that is still open (the rest go back to sale)."""
    if not uses_voucher(order):
        return {}
    uses = list(
        (
            await session.scalars(
                select(VoucherUse).where(VoucherUse.order_id == order.id, VoucherUse.released_at.is_(None))
            )
        ).all()
    )
    kept: dict[str, int] = defaultdict(int)
    by_voucher: dict[str, list[VoucherUse]] = defaultdict(list)
    for use in uses:
        by_voucher[use.voucher_id].append(use)
    for voucher_id in sorted(by_voucher):
        voucher = await lock_voucher(session, voucher_id)
        assert voucher is not None  # vouchers with uses are never deleted, only hidden
        group = by_voucher[voucher_id]
        room = voucher.reserve - voucher.reserved_left if reservation_open(voucher, now) else 0
        # only into the reservation's ticket type as it is now (the organizer may have moved it)
        from_reserve = [u.reserved if u.ticket_type_id == voucher.reserved_ticket_type_id else 0 for u in group]
        back = min(sum(from_reserve), room)
        for use, share in zip(group, _allocate(back, from_reserve), strict=True):
            kept[use.ticket_type_id] += share
        await session.execute(
            update(Voucher)
            .where(Voucher.id == voucher_id)
            .values(
                uses_taken=Voucher.uses_taken - sum(u.quantity for u in group),
                reserved_left=Voucher.reserved_left + back,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
    if uses:
        await session.execute(
            update(VoucherUse)
            .where(VoucherUse.order_id == order.id, VoucherUse.released_at.is_(None))
            .values(released_at=now)
            .execution_options(synchronize_session=False)
        )
    return dict(kept)


async def retake(session: AsyncSession, order: Order, now: datetime) -> dict[str, int] | None:
    """A payment arrived for an order whose uses were given back: take them again, from the voucher's reservation
    first when it is still open. Returns, per ticket type, the tickets taken from reservations; None when a voucher
    has fewer uses left than the order had (then nothing is taken: the payment is to be refunded)."""
    if not uses_voucher(order):
        return {}
    uses = list(
        (
            await session.scalars(
                select(VoucherUse).where(VoucherUse.order_id == order.id, VoucherUse.released_at.is_not(None))
            )
        ).all()
    )
    by_voucher: dict[str, list[VoucherUse]] = defaultdict(list)
    for use in uses:
        by_voucher[use.voucher_id].append(use)
    reserved: dict[str, int] = defaultdict(int)
    for voucher_id in sorted(by_voucher):
        voucher = await lock_voucher(session, voucher_id)
        assert voucher is not None
        group = by_voucher[voucher_id]
        wanted = sum(u.quantity for u in group)
        if voucher.max_uses is not None and voucher.uses_taken + wanted > voucher.max_uses:
            return None
        available = voucher.reserved_left if reservation_open(voucher, now) else 0
        from_reserve = [u.reserved if u.ticket_type_id == voucher.reserved_ticket_type_id else 0 for u in group]
        taken = min(sum(from_reserve), available)
        for use, share in zip(group, _allocate(taken, from_reserve), strict=True):
            reserved[use.ticket_type_id] += share
            use.reserved = share
            use.released_at = None
        await session.execute(
            update(Voucher)
            .where(Voucher.id == voucher_id)
            .values(uses_taken=Voucher.uses_taken + wanted, reserved_left=Voucher.reserved_left - taken, updated_at=now)
            .execution_options(synchronize_session=False)
        )
    await session.flush()
    return dict(reserved)


async def convert_offer(session: AsyncSession, order: Order, now: datetime) -> None:
    """A confirmed order bought a waiting-list offer's tickets: the entry is converted (call after the ticket
    types' counters moved: entries are locked after them)."""
    voucher = (order.pricing_snapshot or {}).get("voucher") or {}
    if voucher.get("kind") != "waitlist":
        return
    await session.execute(
        update(WaitingListEntry)
        .where(WaitingListEntry.voucher_id == voucher["id"], WaitingListEntry.status.in_(("offered", "expired")))
        .values(status="converted", order_id=order.id, updated_at=now)
        .execution_options(synchronize_session=False)
    )
