"""Caps against hoarding: how many tickets one buyer may hold at once in an event, and how many free orders one
email address may get confirmed a day.

* Held tickets are the units of the event's pending orders whose hold has not ended, counted per buyer email (the
  person) and per client address (the order's ``client_key``, a keyed hash of the address). A new order is refused
  when the buyer already holds tickets and the new ones would bring them above the cap; an order alone is never
  refused for its size (``max_per_order`` and the per-order quantity limit bound that), so a cap below an order's
  size still lets a buyer place that one order.
* Free orders (total 0, confirmed at once, and each sending an email) per email address per event over the last
  24 hours.

A refusal is ``TooManyRequests`` (HTTP 429) naming the cap, with the seconds until the earliest counted hold ends
(or the oldest counted free order leaves the window) as ``retry_after``.

Exactness: the general reservation path counts in its own transaction after writing the buyer's person row, whose
row lock serializes concurrent orders of one email, so the per-email cap is exact there. The one-statement path
(PostgreSQL) counts inside its statement, from the statement's snapshot: orders of one buyer that run at the same
moment do not see each other, so a cap can be exceeded by what those parallel orders hold. The order rate limit per
address bounds how many can run at once; an exact cap would need a lock per buyer on the flash-sale path.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.errors import TooManyRequests
from boxoffice.ticketing.models import Order, OrderLine, OrderStatus

FREE_ORDER_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class BuyerCaps:
    held_per_email: int = 0
    held_per_address: int = 0
    free_orders_per_email: int = 0

    @property
    def holds(self) -> bool:
        return self.held_per_email > 0 or self.held_per_address > 0


NO_CAPS = BuyerCaps()


def over(cap: int, held: int, requested: int) -> bool:
    """The rule of both held caps (see the module's docstring)."""
    return cap > 0 and held > 0 and held + requested > cap


def _seconds(until: datetime | None, now: datetime) -> int:
    return 60 if until is None else max(math.ceil((until - now).total_seconds()), 1)


# The same rule inside the one-statement reservation (PostgreSQL): a condition on its first part, so that a buyer
# over a cap takes no ticket and writes nothing. One indexed lookup per cap in use (orders by person, by client key);
# ``:email_room`` and ``:address_room`` are the cap minus the tickets requested.
_HELD_BY = """
      AND NOT (SELECT coalesce(sum(ol.quantity), 0) > 0 AND coalesce(sum(ol.quantity), 0) > :{room}
               FROM orders o JOIN order_lines ol ON ol.order_id = o.id
               WHERE {who} AND o.event_id = :event_id AND o.status = 'pending' AND o.expires_at > :now)"""
_BY_EMAIL = _HELD_BY.format(
    room="email_room", who="o.person_id = (SELECT id FROM persons WHERE email_normalized = :email_normalized)"
)
_BY_ADDRESS = _HELD_BY.format(room="address_room", who="o.client_key = :client_key")


def hold_caps_sql(by_email: bool, by_address: bool) -> str:
    return (_BY_EMAIL if by_email else "") + (_BY_ADDRESS if by_address else "")


def hold_caps_params(caps: BuyerCaps, requested: int) -> dict[str, int]:
    return {
        "email_room": caps.held_per_email - requested,
        "address_room": caps.held_per_address - requested,
    }


async def check_order(
    session: AsyncSession,
    caps: BuyerCaps,
    *,
    event_id: str,
    person_id: str,
    client_key: str | None,
    requested: int,
    free: bool,
    now: datetime,
) -> None:
    """Raise ``TooManyRequests`` when this order would break a cap (one indexed query per cap family in use)."""
    if free:
        await _check_free(session, caps, event_id=event_id, person_id=person_id, now=now)
        return
    if not caps.holds:
        return
    mine = Order.person_id == person_id
    from_address = Order.client_key == (client_key or "")  # no key: matches nothing (keys are never empty)
    row = (
        await session.execute(
            select(
                func.coalesce(func.sum(case((mine, OrderLine.quantity), else_=0)), 0),
                func.min(case((mine, Order.expires_at), else_=None)),
                func.coalesce(func.sum(case((from_address, OrderLine.quantity), else_=0)), 0),
                func.min(case((from_address, Order.expires_at), else_=None)),
            )
            .select_from(Order)
            .join(OrderLine, OrderLine.order_id == Order.id)
            .where(
                and_(
                    Order.event_id == event_id,
                    Order.status == OrderStatus.PENDING,
                    Order.expires_at > now,
                    or_(mine, from_address),
                )
            )
        )
    ).one()
    by_email, email_until, by_address, address_until = int(row[0] or 0), row[1], int(row[2] or 0), row[3]
    if over(caps.held_per_email, by_email, requested):
        raise TooManyRequests(
            f"this email address already holds {by_email} tickets for this event, and one buyer may hold at most "
            f"{caps.held_per_email} at once: complete or cancel the pending order first",
            limit="held-per-email",
            retry_after=_seconds(_aware(email_until), now),
        )
    if over(caps.held_per_address, by_address, requested):
        raise TooManyRequests(
            f"orders from this network address already hold {by_address} tickets for this event, at most "
            f"{caps.held_per_address} may be held at once from one address: try again when some are paid or released",
            limit="held-per-address",
            retry_after=_seconds(_aware(address_until), now),
        )


async def _check_free(session: AsyncSession, caps: BuyerCaps, *, event_id: str, person_id: str, now: datetime) -> None:
    if caps.free_orders_per_email <= 0:
        return
    since = now - FREE_ORDER_WINDOW
    count, oldest = (
        await session.execute(
            select(func.count(), func.min(Order.created_at)).where(
                Order.person_id == person_id,
                Order.event_id == event_id,
                Order.total_cents == 0,
                Order.created_at > since,
            )
        )
    ).one()
    if int(count) >= caps.free_orders_per_email:
        raise TooManyRequests(
            f"this email address already received {count} free orders for this event in the last 24 hours (at most "
            f"{caps.free_orders_per_email})",
            limit="free-orders-per-email",
            retry_after=_seconds(_later(_aware(oldest), FREE_ORDER_WINDOW), now),
        )


def _later(value: datetime | None, by: timedelta) -> datetime | None:
    return None if value is None else value + by


def _aware(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)
