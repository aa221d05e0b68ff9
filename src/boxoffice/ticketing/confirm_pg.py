"""The one-statement confirmation, for PostgreSQL (when ``Database.one_statement_confirmations`` is on).

A paid pending order whose payment matches its total, with no attendees and not bought with a waiting-list offer
(the flash-sale order), is confirmed by one SQL statement, in a transaction of its own (see the function): the
guarded ``pending -> confirmed`` UPDATE, its tickets (one per unit), the buyer made a ticket holder (a participant
row created, or an existing one upgraded the way ``events.participants.add_ticket_holder`` does), held moved to
sold, the order's history row and the ``order.confirmed`` and ``availability`` outbox messages. Everything is
written only from the UPDATE's row, so an order that is not pending any more (a concurrent delivery confirmed it,
the hold ended) writes nothing, and the caller takes the general path (``orders.confirm_order``), which judges every
other case. It writes exactly the rows the general path writes (tests compare the two). It runs inside a function
that first locks the order's and its ticket types' rows (``locked_first``), so that waiting for a ticket type that
other confirmations hold costs no re-check of the whole statement.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, TextClause, bindparam, text

from boxoffice.clock import utcnow
from boxoffice.db import Database, UTCDateTime, retrying_deadlocks
from boxoffice.ids import new_id
from boxoffice.ticketing.locked_first import LockedFirst, parameter_types
from boxoffice.topics import event_sales_topic, event_topic, order_topic

# The ticket types' rows are locked in id order (``locked``), as every other writer of several of them does, so
# concurrent multi-line orders never deadlock. Ticket ids are made like ``ids.new_id`` (80 random bits, from the
# server's strong random source).
_CONFIRM_WITH = """
WITH o AS (
    UPDATE orders SET status = 'confirmed', confirmed_at = :now, updated_at = :now,
        stripe_payment_intent_id = COALESCE(CAST(:payment_intent_id AS varchar), stripe_payment_intent_id)
    WHERE id = :order_id AND status = 'pending' AND total_cents = :amount AND currency = :currency
      AND COALESCE(pricing_snapshot -> 'voucher' ->> 'kind', '') <> 'waitlist'
      AND NOT EXISTS (SELECT 1 FROM attendees WHERE attendees.order_id = :order_id)
      AND NOT EXISTS (SELECT 1 FROM tickets WHERE tickets.order_id = :order_id)
    RETURNING id, event_id, person_id, email, total_cents, refunded_cents, currency
), l AS (
    SELECT order_lines.id, order_lines.order_id, order_lines.ticket_type_id, order_lines.quantity,
           order_lines.unit_price_cents, order_lines.unit_prices
    FROM order_lines JOIN o ON order_lines.order_id = o.id
), issued AS (
    INSERT INTO tickets (id, order_id, order_line_id, ticket_type_id, unit_price_cents, status, code_version,
                         created_at)
    SELECT 'tkt_' || substr(md5(CAST(gen_random_uuid() AS text)), 1, 20), l.order_id, l.id, l.ticket_type_id,
           u.price, 'valid', 0, :now
    FROM l CROSS JOIN LATERAL (
        SELECT CAST(CAST(p.value AS numeric) AS integer) AS price
        FROM jsonb_array_elements(CASE WHEN jsonb_typeof(l.unit_prices) = 'array' THEN l.unit_prices
                                       ELSE CAST('[]' AS jsonb) END) AS p
        UNION ALL
        SELECT l.unit_price_cents FROM generate_series(1, l.quantity)
        WHERE jsonb_typeof(l.unit_prices) IS DISTINCT FROM 'array' OR jsonb_array_length(l.unit_prices) = 0
    ) AS u
), holder AS (
    INSERT INTO event_participants AS ep (id, event_id, person_id, role, status, source, metadata, created_at,
                                          updated_at)
    SELECT :participant_id, o.event_id, o.person_id, 'ticket_holder', 'confirmed_with_order', 'order',
           jsonb_build_object('order_ids', jsonb_build_array(o.id)), :now, :now
    FROM o JOIN events ON events.id = o.event_id
    WHERE events.organizer_id IS DISTINCT FROM o.person_id
    ON CONFLICT (event_id, person_id) DO UPDATE SET
        role = 'ticket_holder', status = 'confirmed_with_order', updated_at = EXCLUDED.updated_at,
        metadata = COALESCE(ep.metadata, CAST('{}' AS jsonb))
            || CASE WHEN ep.role <> 'ticket_holder'
                         AND NOT jsonb_exists(COALESCE(ep.metadata, CAST('{}' AS jsonb)), 'previous_role')
                    THEN jsonb_build_object('previous_role', ep.role, 'previous_status', ep.status)
                    ELSE CAST('{}' AS jsonb) END
            || jsonb_build_object('order_ids', CASE
                   WHEN COALESCE(ep.metadata -> 'order_ids', CAST('[]' AS jsonb)) @> (EXCLUDED.metadata -> 'order_ids')
                   THEN ep.metadata -> 'order_ids'
                   ELSE COALESCE(ep.metadata -> 'order_ids', CAST('[]' AS jsonb)) || (EXCLUDED.metadata -> 'order_ids')
               END)
), wanted AS (
    SELECT l.ticket_type_id, CAST(sum(l.quantity) AS integer) AS quantity FROM l GROUP BY l.ticket_type_id
), locked AS (
    SELECT ticket_types.id FROM ticket_types JOIN wanted ON wanted.ticket_type_id = ticket_types.id
    ORDER BY ticket_types.id
    FOR NO KEY UPDATE OF ticket_types
), t AS (
    UPDATE ticket_types SET held_count = ticket_types.held_count - wanted.quantity,
        sold_count = ticket_types.sold_count + wanted.quantity, updated_at = :now
    FROM wanted
    WHERE ticket_types.id = wanted.ticket_type_id AND ticket_types.id IN (SELECT locked.id FROM locked)
    RETURNING ticket_types.id, ticket_types.quantity, ticket_types.sold_count, ticket_types.held_count,
              ticket_types.reserved_count
), history AS (
    INSERT INTO order_events (order_id, from_status, to_status, refunded_cents, created_at)
    SELECT o.id, 'pending', 'confirmed', COALESCE(o.refunded_cents, 0), :now FROM o
), messages AS (
    -- order.confirmed first, then the availability (one INSERT keeps that order of the outbox ids)
    INSERT INTO outbox_messages (kind, topics, payload, created_at, attempts)
    SELECT 'order.confirmed',
           jsonb_build_array(CAST(:order_topic AS text), CAST(:event_sales_prefix AS text) || o.event_id),
           jsonb_build_object('order_id', o.id, 'event_id', o.event_id, 'email', o.email, 'status', 'confirmed',
                              'previous_status', 'pending', 'total_cents', o.total_cents,
                              'refunded_cents', o.refunded_cents, 'currency', o.currency),
           :now, 0 FROM o
    UNION ALL
    SELECT 'availability', jsonb_build_array(CAST(:event_topic_prefix AS text) || o.event_id),
           jsonb_build_object('event_id', o.event_id, 'ticket_types', (
               SELECT jsonb_agg(jsonb_build_object(
                   'id', t.id, 'quantity', t.quantity, 'sold', t.sold_count, 'held', t.held_count,
                   'reserved', t.reserved_count,
                   'available', greatest(t.quantity - t.sold_count - t.held_count - t.reserved_count, 0))
                   ORDER BY t.id)
               FROM t)),
           :now, 0 FROM o
)"""


def confirm_statement(also: str = "") -> TextClause:
    """The confirmation statement, returning the confirmed order's id; ``also``: more CTEs (``, name AS (...)``),
    written from ``o`` like the rest (``payments.confirm_delivery`` marks the Stripe event processed in one)."""
    return text(_CONFIRM_WITH + also + "\nSELECT o.id FROM o\n").bindparams(bindparam("now", type_=UTCDateTime()))


# The order's row, then its ticket types' rows in id order, locked first, as the general path locks them; and only
# while the order is pending (a duplicate delivery waits for nothing).
CONFIRM_LOCKS = """
PERFORM 1 FROM orders WHERE id = _a ->> 'order_id' AND status = 'pending' FOR NO KEY UPDATE;
PERFORM 1 FROM ticket_types WHERE id IN (
    SELECT order_lines.ticket_type_id FROM order_lines JOIN orders ON orders.id = order_lines.order_id
    WHERE order_lines.order_id = _a ->> 'order_id' AND orders.status = 'pending'
) ORDER BY id FOR NO KEY UPDATE;"""
CONFIRM_TYPES = parameter_types(
    timestamptz="now",
    integer="amount",
    text="order_id currency payment_intent_id participant_id order_topic event_sales_prefix event_topic_prefix",
)


# Run inside a function that first locks the order's and its ticket types' rows (``locked_first``).
_LOCKED_FIRST = LockedFirst(
    "boxoffice_confirm", confirm_statement(), column="id", locks=CONFIRM_LOCKS, types=CONFIRM_TYPES
)


def confirm_params(
    order_id: str, *, amount: int, currency: object, payment_intent_id: str | None, now: datetime | None = None
) -> dict[str, Any]:
    """The statement's parameters."""
    return {
        "now": now or utcnow(),
        "order_id": order_id,
        "amount": amount,
        "currency": str(currency).lower(),
        "payment_intent_id": payment_intent_id,
        "participant_id": new_id("par"),
        "order_topic": order_topic(order_id),  # the buyer's stream, and the console's dashboard (as orders.py)
        "event_sales_prefix": event_sales_topic(""),
        "event_topic_prefix": event_topic(""),
    }


def pays_at_once(amount: object) -> bool:
    """Whether Stripe's amount can be checked by the statement (an integer; anything else goes the general way)."""
    return isinstance(amount, int) and not isinstance(amount, bool)


async def run_in_transaction(db: Database, locked_first: LockedFirst, params: dict[str, Any]) -> list[Row[Any]]:
    """``locked_first`` run in a transaction of its own (BEGIN, the call, COMMIT: two round trips more than
    autocommit), so that a web process killed while the statement waits for a lock leaves nothing done, as on the
    general path: in autocommit the statement would go on and commit once the lock is free (Stripe's retry would
    then find the order confirmed). A deadlock's victim is run again (a session that had forgotten the function
    makes it again: ``LockedFirst.run``)."""

    async def run() -> list[Row[Any]]:
        async with db.plain() as connection:
            return await locked_first.run(connection, params, transaction=True)

    return await retrying_deadlocks(run)


async def confirm_paid_in_one_statement(
    db: Database,
    order_id: str,
    *,
    amount: object,
    currency: object,
    payment_intent_id: str | None,
    now: datetime | None = None,
) -> bool:
    """Confirm a pending order paid ``amount`` in ``currency`` (as Stripe reported them) in one statement; False
    when this path does not apply or the order is not such an order (nothing written: the general path decides)."""
    if not db.one_statement_confirmations or not pays_at_once(amount):
        return False
    assert isinstance(amount, int)
    params = confirm_params(order_id, amount=amount, currency=currency, payment_intent_id=payment_intent_id, now=now)
    return bool(await run_in_transaction(db, _LOCKED_FIRST, params))
