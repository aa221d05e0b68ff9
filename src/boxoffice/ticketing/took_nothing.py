"""Why a one-statement reservation (``reserve_pg``) took nothing, and the answer to give: sold out (saying whether a
hold of the ticket type has ended, which the reservation then releases before trying once more), the code used up,
or nothing to say (a definition changed since it was read, tickets freed meanwhile): the general path judges it.

Usually the reservation's function says why itself, in the same call: its locks found the tickets (or a code's uses)
gone (``WHY_NOW``, read by ``from_call``). Otherwise (an edit, the buyer's caps, no function) ``read`` asks the
database after the call. At a sale's end, and after it, these answers are most of the order endpoint's requests.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pydantic_core
from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection

from boxoffice.db import UTCDateTime
from boxoffice.events.models import Event
from boxoffice.ticketing import vouchers as voucher_rules
from boxoffice.ticketing.inventory import PUBLIC_LEFT, _sold_out, _Taking, has_ended_hold
from boxoffice.ticketing.models import TicketType
from boxoffice.ticketing.plan import _Plan
from boxoffice.ticketing.voucher_models import Voucher
from boxoffice.ticketing.voucher_uses import PlannedVoucher

# When a lock of the reservation's function finds the tickets gone (or the voucher's uses: ``IF_NONE_LOCKED`` after
# a lock of one row, ``IF_NOT_ALL_LOCKED`` after the lock of several, in a function that declares ``_locked``), the
# call answers at once with what the reading of ``WHY_NOTHING`` (below) would say, in its ``why`` column: the
# statement is not run for nothing and no second round trip reads why. Per requested ticket type: [id, tickets left,
# revision, not deleted, the event's revision, whether a hold of it has ended (the same subquery as
# ``inventory.has_ended_hold``)]; the voucher: [revision, not deleted, max_uses, uses_taken] (null without one).
WHY_NOW = """RETURN QUERY SELECT CAST(NULL AS varchar), jsonb_build_object(
    'ticket_types', (
        SELECT jsonb_agg(jsonb_build_array(
            tt.id, tt.quantity - tt.sold_count - tt.held_count - tt.reserved_count, tt.revision,
            tt.deleted_at IS NULL, e.revision,
            tt.id IN (SELECT ol.ticket_type_id FROM order_lines ol JOIN (
                SELECT id FROM orders WHERE status = 'pending' AND expires_at <= CAST(_a ->> 'now' AS timestamptz)
                ORDER BY expires_at) AS ended ON ended.id = ol.order_id)))
        FROM ticket_types tt JOIN events e ON e.id = tt.event_id
        WHERE tt.id IN (SELECT w.id FROM jsonb_to_recordset(_a -> 'wants') AS w(id text))),
    'voucher', (
        SELECT jsonb_build_array(revision, deleted_at IS NULL, max_uses, uses_taken) FROM vouchers
        WHERE id = _a ->> 'voucher_id'));
    RETURN;"""
IF_NONE_LOCKED = f"""
IF NOT FOUND THEN
    {WHY_NOW}
END IF;
"""
IF_NOT_ALL_LOCKED = f"""
GET DIAGNOSTICS _locked = ROW_COUNT;
IF _locked < CAST(_a ->> 'kinds' AS integer) THEN
    {WHY_NOW}
END IF;
"""


# Why a reservation took nothing: each requested ticket type's tickets left, revisions and whether a hold of it has
# ended (a sold-out answer then releases it and tries again; without one it answers at once, no second look needed).
# Built once: at a sale's end a sold-out answer is as frequent as a sale, and building this statement for each one
# cost more CPU than the order's whole reservation (``benchmarks.web_cpu orders --sold-out``).
WHY_NOTHING = (
    select(
        TicketType.id,
        PUBLIC_LEFT,
        TicketType.revision,
        TicketType.deleted_at,
        Event.revision,
        has_ended_hold(bindparam("now", type_=UTCDateTime())),
    )
    .join(Event, Event.id == TicketType.event_id)
    .where(TicketType.id.in_(bindparam("ids", expanding=True)))
)


# Why nothing was taken: per requested ticket type (tickets left, revision, not deleted and the event at the revision
# read, whether a hold of it has ended); the voucher's (revision, not deleted, max_uses, uses_taken), if any.
Why = tuple[dict[str, tuple[int, int, bool, int, bool]], tuple[int, bool, int | None, int] | None]


def from_call(value: Any) -> Why:
    """The ``why`` column of a call that took nothing (``WHY_NOW``; asyncpg gives a ``jsonb`` as its text)."""
    data = pydantic_core.from_json(value) if isinstance(value, str | bytes) else value
    voucher = data.get("voucher")
    return (
        {row[0]: (int(row[1]), row[2], bool(row[3]), row[4], bool(row[5])) for row in data.get("ticket_types") or ()},
        (voucher[0], bool(voucher[1]), voucher[2], voucher[3]) if voucher else None,
    )


async def read(
    session: AsyncConnection, planned: PlannedVoucher | None, takings: Sequence[_Taking], now: datetime
) -> Why:
    """The same, read after a call that took nothing though its locks found the tickets (and the voucher's uses):
    something the statement checks changed (a revision), the buyer's caps refused, or the function could not be
    made."""
    voucher = None
    if planned is not None:
        row = (
            await session.execute(
                select(Voucher.revision, Voucher.deleted_at, Voucher.max_uses, Voucher.uses_taken).where(
                    Voucher.id == planned.voucher.id
                )
            )
        ).one_or_none()
        voucher = None if row is None else (row[0], row[1] is None, row[2], row[3])
    current = {
        tt_id: (int(left), revision, deleted_at is None, event_revision, bool(held))
        for tt_id, left, revision, deleted_at, event_revision, held in (
            await session.execute(WHY_NOTHING, {"ids": [t.ticket_type.id for t in takings], "now": now})
        ).all()
    }
    return current, voucher


def judge(why: Why, plan: _Plan, takings: Sequence[_Taking]) -> None:
    """Raises the answer to an order that took nothing (sold out, the voucher used up); returns when the general
    path must judge it (a definition changed since it was read, or tickets were freed in the meantime)."""
    current, voucher = why
    planned = plan.voucher
    if planned is not None:
        if voucher is None or voucher[0] != planned.voucher.revision or not voucher[1]:
            return  # the voucher changed since it was read: the general path judges it again
        max_uses, used = voucher[2], voucher[3]
        if max_uses is not None and used + planned.applicable > max_uses:
            raise voucher_rules.used_up(max(max_uses - used, 0))
    for taking in takings:
        found = current.get(taking.ticket_type.id)
        if found is None or not found[2] or found[1] != taking.ticket_type.revision or found[3] != plan.event.revision:
            return  # the event or a ticket type changed since they were read
    # with, per ticket type, whether a hold of it has ended (a sold-out answer then releases it and tries again;
    # without one it answers at once, no second look needed)
    holds_ended = any(current[taking.ticket_type.id][4] for taking in takings)
    for taking in takings:
        left = max(current[taking.ticket_type.id][0], 0)
        if left < taking.quantity:
            raise _sold_out(taking, left, holds_ended=holds_ended)
    # tickets were freed in the meantime: the general path takes them
