"""The one-statement reservation, for PostgreSQL (when ``Database.one_statement_reservations`` is on).

A paid order of fixed or flexible prices (the flash-sale order) is reserved by one SQL statement in autocommit: it
takes the tickets, checks the buyer's caps and writes the person, order, lines and outbox rows, with no client round
trip while the ticket types' rows are locked. With a voucher (one without a reservation: those take the general
path), the same statement locks the voucher's row first, takes its uses only if it has enough left, and writes the
order's ``voucher_uses``. ``kept_sales`` keeps the event, ticket type and voucher rows a process read, so the
statement can run without reading them again. It writes exactly the rows the general path (``reserve``) writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import TextClause, bindparam, text
from sqlalchemy.orm.attributes import set_committed_value

from boxoffice.db import Database, JSONType, UTCDateTime, retrying_deadlocks
from boxoffice.errors import BoxofficeError, SoldOut
from boxoffice.events import service as events
from boxoffice.ids import new_id
from boxoffice.ticketing import attendance, kept_sales, took_nothing
from boxoffice.ticketing import caps as buyer_caps
from boxoffice.ticketing import pricing as pricing_rules
from boxoffice.ticketing.locked_first import LockedFirst, parameter_types
from boxoffice.ticketing.models import Order
from boxoffice.ticketing.plan import (
    OrderRequest,
    _check_plan,
    _created_payload,
    _new_order,
    _Plan,
    _price_lines,
    _read_sale,
    hold_for,
)
from boxoffice.ticketing.voucher_uses import read_voucher
from boxoffice.topics import event_topic, order_topic


async def _reserve_in_one_statement(
    db: Database, request: OrderRequest, now: datetime, hold: timedelta, caps: buyer_caps.BuyerCaps
) -> Order | None:
    """The one-statement reservation, from the kept sale when there is one (and again from a fresh read when the
    kept one is outdated). None: this order takes the general path (a dynamic price, a free order, attendees or
    answers given or asked for, a voucher with a reservation, or definitions that changed under it twice)."""
    if attendance.carries_details(request):
        return None  # attendees and answers are checked and written on the general path
    ids = sorted({line.ticket_type_id for line in request.lines})
    kept = kept_sales.KEPT_SALES.get(db, request.event_id, ids)
    kept_voucher = kept_sales.KEPT_SALES.get_voucher(db, request.event_id, request.voucher) if request.voucher else None
    if request.voucher and kept_voucher is None:
        kept = None  # read together, fresh
    for sale in (kept, None) if kept is not None else (None,):
        fresh = sale is None
        event, found = sale if sale is not None else await _read_sale(db, request)
        voucher = None
        if request.voucher:
            voucher = kept_voucher if not fresh else await read_voucher(db, event.id, request.voucher)
        try:
            plan = _check_plan(request, event, found, now, voucher)
        except BoxofficeError:
            if fresh:
                raise
            continue  # judged against the current definitions, not a kept copy
        if (
            plan.positional
            or attendance.asks_anything(event)
            or (plan.voucher is not None and plan.voucher.voucher.reserved_ticket_type_id)
        ):
            return None
        priced, totals = _price_lines(request, plan, dict.fromkeys(plan.takings, 0), now)
        if totals.total_cents == 0:
            return None
        try:
            order = await _reserve_fused(db, request, plan, priced, totals, now, hold, caps)
        except SoldOut:
            # the statement found the event and ticket types at the revisions read: kept (again) for the next
            # orders, which after a sale are sold-out answers too (without this, each read the sale anew: twice
            # the CPU of an answer)
            kept_sales.KEPT_SALES.keep(db, (event, found))
            raise
        if order is not None:
            kept_sales.KEPT_SALES.keep(db, (event, found))
            if voucher is not None:
                kept_sales.KEPT_SALES.keep_voucher(db, voucher)
            return order
    return None


# PostgreSQL, a paid order of fixed or flexible prices (the flash-sale order), any number of lines: the whole
# reservation is one statement, atomic by itself, in autocommit. Its first part, ``t``, takes the tickets and returns
# the ticket type rows; everything else is inserted only from them, so a sold-out ticket writes nothing, and no client
# round trip happens while the rows are locked. The general path (``reserve``) writes the same rows (tests compare
# the two).
#
# One ticket type: ``t`` is the conditional UPDATE itself (one visit of the row; measured under a flash sale, half
# the PostgreSQL CPU of the form for several). Several: ``locked`` locks each requested ticket type that has enough
# left at the revision read (in id order, so concurrent orders never deadlock), and the UPDATE takes the tickets
# only if that is every one of them. It re-checks nothing: the rows it updates are those ``locked`` holds, as they
# were when locked.
_TAKE_ONE_KIND = """
t AS (
    UPDATE ticket_types SET held_count = held_count + :quantity, updated_at = :now
    WHERE id = :ticket_type_id AND deleted_at IS NULL
      AND quantity - sold_count - held_count - reserved_count >= :quantity
      AND revision = :ticket_revision
      AND EXISTS (SELECT 1 FROM events WHERE events.id = :event_id AND events.revision = :event_revision){caps}{voucher}
    RETURNING id, quantity, sold_count, held_count, reserved_count
"""


_TAKE_KINDS = """
want AS (
    SELECT * FROM jsonb_to_recordset(:wants) AS w(id text, quantity integer, revision integer)
), locked AS (
    SELECT tt.id FROM ticket_types tt JOIN want ON want.id = tt.id
    WHERE tt.deleted_at IS NULL AND tt.revision = want.revision
      AND tt.quantity - tt.sold_count - tt.held_count - tt.reserved_count >= want.quantity
      AND EXISTS (SELECT 1 FROM events WHERE events.id = :event_id AND events.revision = :event_revision){caps}{voucher}
    ORDER BY tt.id
    FOR NO KEY UPDATE OF tt
), t AS (
    UPDATE ticket_types SET held_count = ticket_types.held_count + want.quantity, updated_at = :now
    FROM want
    WHERE ticket_types.id = want.id AND (SELECT count(*) FROM locked) = :kinds
    RETURNING ticket_types.id, ticket_types.quantity, ticket_types.sold_count, ticket_types.held_count,
              ticket_types.reserved_count
"""

# With a voucher: its row is locked first, and only while it has the uses the order needs, at the revision read (the
# ticket types are taken only when it is: ``{voucher}`` above); its uses are taken and the order's ``voucher_uses``
# written from the inserted order, so a sold-out ticket takes no use.
_LOCK_VOUCHER = """
v AS (
    SELECT id FROM vouchers
    WHERE id = :voucher_id AND revision = :voucher_revision AND deleted_at IS NULL
      AND (max_uses IS NULL OR uses_taken + :voucher_uses <= max_uses)
    FOR NO KEY UPDATE
),"""
_VOUCHER_TAKEN = "\n      AND EXISTS (SELECT 1 FROM v)"
_TAKE_USES = """, vu AS (
    UPDATE vouchers SET uses_taken = uses_taken + :voucher_uses, updated_at = :now
    WHERE id = :voucher_id AND EXISTS (SELECT 1 FROM o)
), u AS (
    INSERT INTO voucher_uses (id, voucher_id, order_id, order_line_id, ticket_type_id, quantity, reserved,
                              discount_cents, created_at)
    SELECT x.id, :voucher_id, o.id, x.order_line_id, x.ticket_type_id, x.quantity, 0, x.discount_cents, :now
    FROM o, jsonb_to_recordset(:uses) AS x(id text, order_line_id text, ticket_type_id text, quantity integer,
                                          discount_cents integer)
)"""


_WRITE_ORDER = """), p AS (
    INSERT INTO persons (id, email, email_normalized, name, created_at, updated_at)
    SELECT :person_id, :email, :email_normalized, :name, :now, :now WHERE EXISTS (SELECT 1 FROM t)
    ON CONFLICT (email_normalized)
    DO UPDATE SET name = persons.name  -- a buyer never renames a person; the no-op makes RETURNING give the row
    RETURNING id
), o AS (
    INSERT INTO orders (id, event_id, person_id, email, name, client_key, status, currency, subtotal_cents,
                        tip_cents, total_cents, refunded_cents, pricing_snapshot, idempotency_key, request_fingerprint,
                        expires_at, checkout_attempt, created_at, updated_at)
    SELECT :order_id, :event_id, p.id, :email, :name, :client_key, 'pending', :currency, :subtotal_cents,
           :tip_cents, :total_cents, 0, :pricing_snapshot, :idempotency_key, :request_fingerprint, :expires_at, 0,
           :now, :now FROM p
    RETURNING id, person_id
), l AS (
    INSERT INTO order_lines (id, order_id, ticket_type_id, position, title, quantity, unit_price_cents, unit_prices,
                             line_total_cents)
    SELECT x.id, o.id, x.ticket_type_id, x.position, x.title, x.quantity, x.unit_price_cents, x.unit_prices,
           x.line_total_cents
    FROM o, jsonb_to_recordset(:lines) AS x(id text, ticket_type_id text, position integer, title text,
                                            quantity integer, unit_price_cents integer, unit_prices jsonb,
                                            line_total_cents integer)
), messages AS (
    -- order.created first, then the availability (one INSERT keeps that order of the outbox ids)
    INSERT INTO outbox_messages (kind, topics, payload, created_at, attempts)
    SELECT 'order.created', :order_topics, :created_payload, :now, 0 FROM o
    UNION ALL
    SELECT 'availability', :event_topics,
           jsonb_build_object('event_id', CAST(:event_id AS text), 'ticket_types', (
               SELECT jsonb_agg(jsonb_build_object(
                   'id', t.id, 'quantity', t.quantity, 'sold', t.sold_count, 'held', t.held_count,
                   'reserved', t.reserved_count,
                   'available', greatest(t.quantity - t.sold_count - t.held_count - t.reserved_count, 0))
                   ORDER BY t.id)
               FROM t)),
           :now, 0 FROM o
){voucher_writes}
SELECT o.person_id, CAST(NULL AS jsonb) AS why FROM o
"""


def _fused_statement(one: bool, by_email: bool, by_address: bool, voucher: bool) -> TextClause:
    take = (_TAKE_ONE_KIND if one else _TAKE_KINDS).format(
        caps=buyer_caps.hold_caps_sql(by_email, by_address), voucher=_VOUCHER_TAKEN if voucher else ""
    )
    sql = (
        "WITH "
        + (_LOCK_VOUCHER if voucher else "")
        + take
        + _WRITE_ORDER.format(voucher_writes=_TAKE_USES if voucher else "")
    )
    json_params = ["lines", "pricing_snapshot", "order_topics", "event_topics", "created_payload"]
    json_params += [] if one else ["wants"]
    json_params += ["uses"] if voucher else []
    return text(sql).bindparams(
        bindparam("now", type_=UTCDateTime()),
        bindparam("expires_at", type_=UTCDateTime()),
        *(bindparam(name, type_=JSONType) for name in json_params),
    )


# One statement per (one ticket type, per-email cap on, per-address cap on, voucher): what is off costs nothing.
_FUSED_RESERVE = {
    (one, by_email, by_address, voucher): _fused_statement(one, by_email, by_address, voucher)
    for one in (True, False)
    for by_email in (True, False)
    for by_address in (True, False)
    for voucher in (True, False)
}


# The statement runs inside a function that first locks the sale's hot rows (``locked_first``): the voucher's, then
# the ticket types' in id order, as the statement itself does; and only rows that can still serve the order, as the
# statement's UPDATEs only lock a row whose condition holds: once the tickets are gone, later orders wait for nothing.
_PARAM_TYPES = parameter_types(
    jsonb="lines pricing_snapshot order_topics event_topics created_payload wants uses",
    timestamptz="now expires_at",
    integer="quantity kinds ticket_revision event_revision subtotal_cents tip_cents total_cents voucher_revision"
    " voucher_uses email_room address_room",
    text="ticket_type_id event_id person_id email email_normalized name order_id currency idempotency_key"
    " request_fingerprint client_key voucher_id",
)
_LOCK_USES = """PERFORM 1 FROM vouchers WHERE id = _a ->> 'voucher_id'
    AND (max_uses IS NULL OR uses_taken + CAST(_a ->> 'voucher_uses' AS integer) <= max_uses) FOR NO KEY UPDATE;
"""
_LOCK_ONE = """PERFORM 1 FROM ticket_types WHERE id = _a ->> 'ticket_type_id'
    AND quantity - sold_count - held_count - reserved_count >= CAST(_a ->> 'quantity' AS integer) FOR NO KEY UPDATE;"""
_LOCK_KINDS = """PERFORM 1 FROM ticket_types tt JOIN jsonb_to_recordset(_a -> 'wants') AS w(id text, quantity integer)
    ON w.id = tt.id AND tt.quantity - tt.sold_count - tt.held_count - tt.reserved_count >= w.quantity
ORDER BY tt.id FOR NO KEY UPDATE OF tt;"""

# (``_v2``: the functions' columns changed with ``why``; a session that still had the older ones keeps them apart)
_LOCKED_FIRST = {
    key: LockedFirst(
        "boxoffice_reserve_v2_" + "".join("1" if flag else "0" for flag in key),
        statement,
        column="person_id",
        also={"why": "jsonb"},
        declare="" if key[0] else "_locked integer;",
        locks=(_LOCK_USES + took_nothing.IF_NONE_LOCKED if key[3] else "")
        + (_LOCK_ONE + took_nothing.IF_NONE_LOCKED if key[0] else _LOCK_KINDS + took_nothing.IF_NOT_ALL_LOCKED),
        types=_PARAM_TYPES,
    )
    for key, statement in _FUSED_RESERVE.items()
}


async def _reserve_fused(
    db: Database,
    request: OrderRequest,
    plan: _Plan,
    priced: Sequence[pricing_rules.PricedLine],
    totals: pricing_rules.Totals,
    now: datetime,
    hold: timedelta,
    caps: buyer_caps.BuyerCaps,
) -> Order | None:
    """None when the event or a ticket type is no longer at the revision the plan was made from, or when the
    buyer's caps refused it (the general path then checks them again and says which)."""
    order = _new_order(request, plan, "", priced, totals, now, hold_for(plan.event, hold), as_written=True)
    takings = [plan.takings[tt_id] for tt_id in sorted(plan.takings)]
    params = {
        "now": now,
        "wants": [
            {"id": t.ticket_type.id, "quantity": t.quantity, "revision": t.ticket_type.revision} for t in takings
        ],
        "kinds": len(takings),
        "quantity": takings[0].quantity,
        "ticket_type_id": takings[0].ticket_type.id,
        "ticket_revision": takings[0].ticket_type.revision,
        "person_id": new_id("per"),
        "email": order.email,
        "email_normalized": events.normalize_email(request.email),
        "name": order.name,
        "order_id": order.id,
        "event_id": order.event_id,
        "currency": order.currency,
        "subtotal_cents": order.subtotal_cents,
        "tip_cents": order.tip_cents,
        "total_cents": order.total_cents,
        "pricing_snapshot": order.pricing_snapshot,
        "idempotency_key": order.idempotency_key,
        "request_fingerprint": order.request_fingerprint,
        "expires_at": order.expires_at,
        "lines": [
            {
                "id": line.id,
                "ticket_type_id": line.ticket_type_id,
                "position": line.position,
                "title": line.title,
                "quantity": line.quantity,
                "unit_price_cents": line.unit_price_cents,
                "unit_prices": line.unit_prices,
                "line_total_cents": line.line_total_cents,
            }
            for line in order.lines
        ],
        "order_topics": [order_topic(order.id)],
        "event_topics": [event_topic(order.event_id)],
        "created_payload": _created_payload(order),
        "event_revision": plan.event.revision,
        "client_key": request.client_key,
        **buyer_caps.hold_caps_params(caps, sum(t.quantity for t in takings)),
    }
    planned = plan.voucher
    if planned is not None:
        params.update(
            {
                "voucher_id": planned.voucher.id,
                "voucher_revision": planned.voucher.revision,
                "voucher_uses": planned.applicable,
                "uses": [
                    {
                        "id": new_id("vu"),
                        "order_line_id": line.id,
                        "ticket_type_id": line.ticket_type_id,
                        "quantity": line.quantity,
                        "discount_cents": sum(plan.undiscounted[line.position]) - line.line_total_cents,
                    }
                    for line, applies in zip(order.lines, planned.applies, strict=True)
                    if applies
                ],
            }
        )
    key = (
        len(takings) == 1,
        caps.held_per_email > 0,
        caps.held_per_address > 0 and bool(request.client_key),
        planned is not None,
    )
    async with db.plain() as session:
        # autocommit: the statement is alone in its transaction, so it may run again on the same connection
        rows = await retrying_deadlocks(lambda: _LOCKED_FIRST[key].run(session, params))
        if not rows or rows[0].person_id is None:
            why = (
                took_nothing.from_call(rows[0].why) if rows else await took_nothing.read(session, planned, takings, now)
            )
            took_nothing.judge(why, plan, takings)
            return None
    set_committed_value(order, "person_id", rows[0].person_id)
    return order
