"""A Stripe delivery that pays a pending order, counted, confirmed and marked processed in one call (PostgreSQL).

The usual webhook of a sale, ``checkout.session.completed`` for a paid order, took five round trips and three
commits: the delivery counted (autocommit), the one-statement confirmation (``ticketing.confirm_pg``: BEGIN, the
call, COMMIT) and the event marked processed (autocommit). Here one function call, in one transaction (BEGIN, the
call, COMMIT), does all three: it counts the delivery first (``stripe_events``: the first delivery inserts the row,
later ones count themselves), ends at once if the event was processed already, and otherwise locks the order's and
its ticket types' rows and runs the confirmation statement, which also marks the event processed, from the confirmed
order's row only.

What it tells (``Delivery``): a duplicate (nothing else done), the order confirmed and the event processed, or the
delivery counted and nothing else: the order is not such an order (not pending, another amount, attendees...), and
the caller judges it on the general path, then marks the event processed, without counting it again.

Concurrent deliveries of one event meet on the event's row: the second one's insert waits for the first one's
transaction and then counts itself against the row as committed, so it sees the first one's ``processed_at``. A web
process killed while the call waits for a lock leaves nothing done, the count included (PostgreSQL aborts the open
transaction of a client that is gone); Stripe's retry then finds the event as if it were new.
"""

from __future__ import annotations

import enum
from datetime import datetime

from boxoffice.db import Database
from boxoffice.ticketing.confirm_pg import (
    CONFIRM_LOCKS,
    CONFIRM_TYPES,
    confirm_params,
    confirm_statement,
    pays_at_once,
    run_in_transaction,
)
from boxoffice.ticketing.locked_first import FunctionUnavailable, LockedFirst
from boxoffice.ticketing.models import OrderStatus

# What the event's row says once such a delivery confirmed its order (as the general path words it).
CONFIRMED_OUTCOME = f"{OrderStatus.CONFIRMED}: order {OrderStatus.CONFIRMED}"


class Delivery(enum.Enum):
    DUPLICATE = "duplicate"  # the event was processed already: counted, nothing else done
    CONFIRMED = "confirmed"  # counted, the order confirmed, the event marked processed
    COUNTED = "counted"  # counted only: the general path judges the order (and marks the event processed)


_COUNT = """
INSERT INTO stripe_events (id, type, object_id, livemode, received_at, deliveries)
VALUES (_a ->> 'event_id', _a ->> 'kind', _a ->> 'object_id', CAST(_a ->> 'livemode' AS boolean),
        CAST(_a ->> 'now' AS timestamptz), 1)
ON CONFLICT (id) DO UPDATE SET deliveries = stripe_events.deliveries + 1
RETURNING processed_at INTO _processed;
IF _processed IS NOT NULL THEN
    RETURN QUERY SELECT CAST(NULL AS varchar);
    RETURN;
END IF;
"""

_MARK = """, processed AS (
    UPDATE stripe_events SET processed_at = :now, outcome = :outcome, detail = :outcome, order_id = o.id
    FROM o WHERE stripe_events.id = :event_id
)"""

_LOCKED_FIRST = LockedFirst(
    "boxoffice_confirm_delivery",
    confirm_statement(_MARK),
    column="id",
    declare="_processed timestamptz;",
    locks=_COUNT + CONFIRM_LOCKS,
    types={**CONFIRM_TYPES, "outcome": "text", "event_id": "text"},
    alone=False,  # without the function, nothing would count the delivery
)


async def confirm_paid_delivery(
    db: Database,
    *,
    event_id: str,
    kind: str,
    object_id: str | None,
    livemode: bool,
    order_id: str,
    amount: object,
    currency: object,
    payment_intent_id: str | None,
    now: datetime | None = None,
) -> Delivery | None:
    """Count the delivery of event ``event_id`` and, unless it was processed already, confirm the pending order
    ``order_id`` paid ``amount`` in ``currency`` and mark the event processed. None when this path cannot run
    (not PostgreSQL, an amount the statement cannot check, the function not made): nothing was done, not even the
    count."""
    if not db.one_statement_confirmations or not pays_at_once(amount):
        return None
    assert isinstance(amount, int)
    params = confirm_params(order_id, amount=amount, currency=currency, payment_intent_id=payment_intent_id, now=now)
    params.update(event_id=event_id, kind=kind, object_id=object_id, livemode=livemode, outcome=CONFIRMED_OUTCOME)
    try:
        rows = await run_in_transaction(db, _LOCKED_FIRST, params)
    except FunctionUnavailable:
        return None
    if not rows:
        return Delivery.COUNTED
    return Delivery.DUPLICATE if rows[0].id is None else Delivery.CONFIRMED
