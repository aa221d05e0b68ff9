"""Ticketing context: ticket types, inventory holds and the order lifecycle.

Every public function owns its transaction (short, no network I/O inside) and records domain events in the outbox
in that same transaction. Inventory is two counters per ticket type, ``sold_count`` and ``held_count``, changed only
by single conditional UPDATEs, so availability never goes negative under any number of concurrent processes (and a
CHECK constraint refuses an oversell in the database itself).
"""

from __future__ import annotations

import time
import weakref
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, delete, exists, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import raiseload
from sqlalchemy.orm.attributes import set_committed_value

from boxoffice import outbox
from boxoffice.clock import utcnow
from boxoffice.db import Database, JSONType, UTCDateTime
from boxoffice.errors import BoxofficeError, FieldError, InvalidInput, NotFound, SalesClosed, SoldOut
from boxoffice.events import service as events
from boxoffice.events.models import Event
from boxoffice.ids import new_id
from boxoffice.ticketing import caps as buyer_caps
from boxoffice.ticketing import pricing as pricing_rules
from boxoffice.ticketing import tokens
from boxoffice.ticketing.models import TRANSITIONS, Order, OrderLine, Ticket, TicketType
from boxoffice.ticketing.rules import pricing_from_row, ticket_values

DEFAULT_HOLD = timedelta(minutes=30)
MAX_LINES = 20
MAX_LINE_QUANTITY = 50
LATE_PAYMENT_SOURCES = ("expired", "canceled", "failed")


def event_topic(event_id: str) -> str:
    return f"event:{event_id}"


def order_topic(order_id: str) -> str:
    return f"order:{order_id}"


# ---------------------------------------------------------------------------------------------------------------
# Requests and results


@dataclass(frozen=True)
class LineRequest:
    ticket_type_id: str
    quantity: int
    price_cents: int | None = None


@dataclass(frozen=True)
class OrderRequest:
    event_id: str
    email: str
    lines: Sequence[LineRequest]
    name: str = ""
    tip_cents: int | None = None
    # ticketing.tokens.idempotency_ref of the request's Idempotency-Key, and the fingerprint of its body
    idempotency_key: str | None = None
    fingerprint: str | None = None
    client_key: str | None = None  # a keyed hash of the client's address (web.clients.address_key), for the caps


@dataclass(frozen=True)
class Availability:
    ticket_type_id: str
    quantity: int
    sold: int
    held: int
    available: int
    price_cents: int
    sales_state: str  # on_sale | not_started | ended | sold_out


@dataclass(frozen=True)
class TransitionResult:
    order: Order
    changed: bool
    previous_status: str
    outcome: str = ""

    @property
    def status(self) -> str:
        return self.order.status


@dataclass
class _Taking:
    ticket_type: TicketType
    quantity: int = 0
    line_indexes: list[int] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------------------------
# Ticket types


def _row_values(tt: TicketType) -> dict[str, Any]:
    return {
        "title": tt.title,
        "description": tt.description,
        "pricing_model": tt.pricing_model,
        "base_price_cents": tt.base_price_cents,
        "minimum_price_cents": tt.minimum_price_cents,
        "suggested_price_cents": tt.suggested_price_cents,
        "price_tiers": tt.price_tiers,
        "currency": tt.currency,
        "quantity": tt.quantity,
        "starts_at": tt.starts_at,
        "ends_at": tt.ends_at,
        "tippable": tt.tippable,
        "max_per_order": tt.max_per_order,
        "position": tt.position,
    }


def _availability_payload(event_id: str, rows: Iterable[tuple[str, int, int, int]]) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "ticket_types": [
            {"id": tt_id, "quantity": q, "sold": sold, "held": held, "available": max(q - sold - held, 0)}
            for tt_id, q, sold, held in rows
        ],
    }


def _record_availability(session: AsyncSession, event_id: str, rows: Iterable[tuple[str, int, int, int]]) -> None:
    payload = _availability_payload(event_id, rows)
    if payload["ticket_types"]:
        outbox.record(session, "availability", [event_topic(event_id)], payload)


async def create_ticket_type(
    db: Database, event_id: str, fields: Mapping[str, Any], *, organizer_id: str | None = None
) -> TicketType:
    values = ticket_values(fields)
    async with db.transaction() as session:
        await events.load_event(session, event_id, organizer_id=organizer_id)
        tt = TicketType(id=new_id("tt"), event_id=event_id, sold_count=0, held_count=0, **values)
        session.add(tt)
        await session.flush()
        outbox.record(
            session,
            "ticket.created",
            [event_topic(event_id)],
            {"event_id": event_id, "ticket_type_id": tt.id},
        )
        _record_availability(session, event_id, [(tt.id, tt.quantity, 0, 0)])
    return tt


async def _load_ticket_type(
    session: AsyncSession,
    ticket_type_id: str,
    *,
    organizer_id: str | None = None,
    include_deleted: bool = False,
) -> TicketType:
    stmt = select(TicketType).where(TicketType.id == ticket_type_id)
    if not include_deleted:
        stmt = stmt.where(TicketType.deleted_at.is_(None))
    if organizer_id is not None:
        stmt = stmt.join(Event, Event.id == TicketType.event_id).where(Event.organizer_id == organizer_id)
    tt = (await session.scalars(stmt.execution_options(populate_existing=True))).one_or_none()
    if tt is None:
        raise NotFound(f"ticket type {ticket_type_id} not found")
    return tt


async def get_ticket_type(db: Database, ticket_type_id: str, *, organizer_id: str | None = None) -> TicketType:
    async with db.read() as session:
        return await _load_ticket_type(session, ticket_type_id, organizer_id=organizer_id)


async def update_ticket_type(
    db: Database, ticket_type_id: str, changes: Mapping[str, Any], *, organizer_id: str | None = None
) -> TicketType:
    """Change a ticket type. Existing orders keep their pricing snapshot. Quantity can go down only to what is
    already sold plus held (expired holds are released first so they do not count)."""
    async with db.read() as session:
        current = await _load_ticket_type(session, ticket_type_id, organizer_id=organizer_id)
    values = ticket_values(changes, _row_values(current))
    if "quantity" in values and values["quantity"] < current.sold_count + current.held_count:
        await release_expired_holds(db, ticket_type_ids=[ticket_type_id])
    async with db.transaction() as session:
        tt = await _load_ticket_type(session, ticket_type_id, organizer_id=organizer_id)
        if "quantity" in values:
            new_quantity = values.pop("quantity")
            row = (
                await session.execute(
                    update(TicketType)
                    .where(
                        TicketType.id == ticket_type_id,
                        TicketType.sold_count + TicketType.held_count <= new_quantity,
                    )
                    .values(quantity=new_quantity, updated_at=utcnow())
                    .returning(TicketType.sold_count, TicketType.held_count)
                    .execution_options(synchronize_session=False)
                )
            ).one_or_none()
            if row is None:
                fresh = await _load_ticket_type(session, ticket_type_id)
                raise InvalidInput.one(
                    "quantity",
                    f"cannot be lower than the {fresh.sold_count + fresh.held_count} tickets already sold or held",
                )
            tt = await _load_ticket_type(session, ticket_type_id)
        for key, value in values.items():
            setattr(tt, key, value)
        await session.flush()
        await _bump_revision(session, tt)
        outbox.record(
            session,
            "ticket.updated",
            [event_topic(tt.event_id)],
            {"event_id": tt.event_id, "ticket_type_id": tt.id},
        )
        _record_availability(session, tt.event_id, [(tt.id, tt.quantity, tt.sold_count, tt.held_count)])
    return tt


async def _bump_revision(session: AsyncSession, tt: TicketType) -> None:
    """An organizer edit: raise the ticket type's revision (in SQL, so that concurrent edits each count)."""
    revision = await session.scalar(
        update(TicketType)
        .where(TicketType.id == tt.id)
        .values(revision=TicketType.revision + 1)
        .returning(TicketType.revision)
        .execution_options(synchronize_session=False)
    )
    set_committed_value(tt, "revision", revision)


async def delete_ticket_type(db: Database, ticket_type_id: str, *, organizer_id: str | None = None) -> bool:
    """Delete a ticket type; one that has orders is only hidden (soft delete). Returns True when it was hidden."""
    async with db.transaction() as session:
        tt = await _load_ticket_type(session, ticket_type_id, organizer_id=organizer_id)
        has_orders = (await session.scalar(select(exists().where(OrderLine.ticket_type_id == ticket_type_id)))) is True
        if has_orders:
            tt.deleted_at = utcnow()
            await session.flush()
            await _bump_revision(session, tt)
        else:
            await session.execute(delete(TicketType).where(TicketType.id == ticket_type_id))
        outbox.record(
            session,
            "ticket.deleted",
            [event_topic(tt.event_id)],
            {"event_id": tt.event_id, "ticket_type_id": tt.id},
        )
        _record_availability(session, tt.event_id, [(tt.id, tt.quantity, tt.quantity, 0)])
    return has_orders


async def list_ticket_types(db: Database, event_id: str, *, include_deleted: bool = False) -> list[TicketType]:
    async with db.read() as session:
        stmt = select(TicketType).where(TicketType.event_id == event_id)
        if not include_deleted:
            stmt = stmt.where(TicketType.deleted_at.is_(None))
        return list((await session.scalars(stmt.order_by(TicketType.position, TicketType.created_at))).all())


async def _expired_holds(session: AsyncSession, ticket_type_ids: Sequence[str], now: datetime) -> dict[str, int]:
    if not ticket_type_ids:
        return {}
    rows = await session.execute(
        select(OrderLine.ticket_type_id, func.sum(OrderLine.quantity))
        .join(Order, Order.id == OrderLine.order_id)
        .where(Order.status == "pending", Order.expires_at <= now, OrderLine.ticket_type_id.in_(ticket_type_ids))
        .group_by(OrderLine.ticket_type_id)
    )
    return {tt_id: int(total or 0) for tt_id, total in rows.tuples()}


def sales_state(tt: TicketType, event: Event, available: int, now: datetime) -> str:
    if tt.starts_at is not None and now < tt.starts_at:
        return "not_started"
    if now >= (tt.ends_at or event.ends_at) or event.status != "published":
        return "ended"
    return "sold_out" if available <= 0 else "on_sale"


async def availability(db: Database, event_id: str, *, now: datetime | None = None) -> list[Availability]:
    """What can be bought now, per ticket type. An expired hold never counts against availability."""
    now = now or utcnow()
    async with db.read() as session:
        event = await events.load_event(session, event_id)
        tts = list(
            (
                await session.scalars(
                    select(TicketType)
                    .where(TicketType.event_id == event_id, TicketType.deleted_at.is_(None))
                    .order_by(TicketType.position, TicketType.created_at)
                )
            ).all()
        )
        expired = await _expired_holds(session, [tt.id for tt in tts], now)
    out = []
    for tt in tts:
        held = tt.held_count - expired.get(tt.id, 0)
        available = max(tt.quantity - tt.sold_count - held, 0)
        out.append(
            Availability(
                ticket_type_id=tt.id,
                quantity=tt.quantity,
                sold=tt.sold_count,
                held=held,
                available=available,
                price_cents=pricing_rules.current_unit_price(pricing_from_row(tt), tt.sold_count + held, now),
                sales_state=sales_state(tt, event, available, now),
            )
        )
    return out


# ---------------------------------------------------------------------------------------------------------------
# Reserve


def _check_request(request: OrderRequest, max_lines: int, max_quantity: int) -> None:
    errors: list[FieldError] = []
    try:
        events.normalize_email(request.email)
    except InvalidInput as exc:
        errors.extend(exc.errors)
    try:
        events.clean_name(request.name)
    except InvalidInput as exc:
        errors.extend(exc.errors)
    if not request.lines:
        errors.append(FieldError("lines", "an order needs at least one line"))
    elif len(request.lines) > max_lines:
        errors.append(FieldError("lines", f"an order may have at most {max_lines} lines"))
    per_type: dict[str, int] = defaultdict(int)  # lines of one ticket type count together against max_quantity
    for i, line in enumerate(request.lines[:max_lines]):
        q = line.quantity
        if not isinstance(q, int) or isinstance(q, bool) or q < 1:
            errors.append(FieldError(f"lines[{i}].quantity", "must be an integer >= 1"))
        elif q > max_quantity:
            errors.append(FieldError(f"lines[{i}].quantity", f"must be at most {max_quantity}"))
        elif isinstance(line.ticket_type_id, str):
            before = per_type[line.ticket_type_id]
            per_type[line.ticket_type_id] = before + q
            if before <= max_quantity < before + q:
                errors.append(
                    FieldError(
                        f"lines[{i}].quantity",
                        f"must be at most {max_quantity} in all for one ticket type (its lines count together)",
                    )
                )
        if not isinstance(line.ticket_type_id, str) or not line.ticket_type_id:
            errors.append(FieldError(f"lines[{i}].ticket_id", "is required"))
    tip = request.tip_cents
    if tip is not None and (not isinstance(tip, int) or isinstance(tip, bool) or tip < 0):
        errors.append(FieldError("tip_cents", "must be an integer >= 0"))
    if errors:
        raise InvalidInput(errors)


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
        except SoldOut:
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


@dataclass
class _Plan:
    """A checked reservation request: the event, its requested ticket types, the chosen prices per line."""

    event: Event
    found: dict[str, TicketType]
    takings: dict[str, _Taking]
    chosen: list[int | None]

    @property
    def positional(self) -> bool:
        return any(t.ticket_type.pricing_model == "dynamic" for t in self.takings.values())


Sale = tuple[Event, dict[str, TicketType]]


async def _read_sale(db: Database, request: OrderRequest) -> Sale:
    """The event and the requested ticket types (on sale), in one query."""
    ids = sorted({line.ticket_type_id for line in request.lines})
    async with db.read() as session:
        rows = (
            await session.execute(
                select(Event, TicketType)
                .outerjoin(
                    TicketType,
                    and_(TicketType.event_id == Event.id, TicketType.id.in_(ids), TicketType.deleted_at.is_(None)),
                )
                .where(Event.id == request.event_id)
            )
        ).all()
    if not rows:
        raise NotFound("event not found")
    return rows[0][0], {tt.id: tt for _, tt in rows if tt is not None}


async def _load_plan(db: Database, request: OrderRequest, now: datetime) -> _Plan:
    return _check_plan(request, *await _read_sale(db, request), now)


def _check_plan(request: OrderRequest, event: Event, found: dict[str, TicketType], now: datetime) -> _Plan:
    """Check the request against the event and its ticket types (pure)."""
    if event.status == "draft":
        raise NotFound("event not found")  # the public cannot tell a draft from an unknown id
    if event.status != "published":
        raise SalesClosed("this event is not on sale", field="event_id")
    takings: dict[str, _Taking] = {}
    chosen: list[int | None] = []
    errors: list[FieldError] = []
    for i, line in enumerate(request.lines):
        tt = found.get(line.ticket_type_id)
        if tt is None:
            errors.append(FieldError(f"lines[{i}].ticket_id", "no such ticket type on sale for this event"))
            chosen.append(None)
            continue
        try:
            chosen.append(
                pricing_rules.chosen_unit_price(pricing_from_row(tt), line.price_cents, f"lines[{i}].price_cents")
            )
        except InvalidInput as exc:
            errors.extend(exc.errors)
            chosen.append(None)
        taking = takings.setdefault(tt.id, _Taking(tt))
        taking.quantity += line.quantity
        taking.line_indexes.append(i)
    for taking in takings.values():
        limit = taking.ticket_type.max_per_order
        if limit is not None and taking.quantity > limit:
            errors.append(
                FieldError(
                    f"lines[{taking.line_indexes[-1]}].quantity",
                    f"at most {limit} of this ticket per order",
                )
            )
    if len({t.ticket_type.currency for t in takings.values()}) > 1:
        errors.append(FieldError("lines", "all tickets of one order must be in the same currency"))
    if errors:
        raise InvalidInput(errors)
    for taking in takings.values():
        tt = taking.ticket_type
        first = taking.line_indexes[0]
        if tt.starts_at is not None and now < tt.starts_at:
            raise SalesClosed(f"sales for {tt.title} have not started yet", field=f"lines[{first}].ticket_id")
        if now >= (tt.ends_at or event.ends_at):
            raise SalesClosed(f"sales for {tt.title} have ended", field=f"lines[{first}].ticket_id")
    return _Plan(event, found, takings, chosen)


def _price_lines(
    request: OrderRequest, plan: _Plan, taken_before: dict[str, int], now: datetime
) -> tuple[list[pricing_rules.PricedLine], pricing_rules.Totals]:
    priced: list[pricing_rules.PricedLine] = []
    for i, line in enumerate(request.lines):
        tt = plan.found[line.ticket_type_id]
        prices = pricing_rules.unit_prices(
            pricing_from_row(tt),
            line.quantity,
            chosen=line.price_cents,
            taken_before=taken_before[tt.id],
            now=now,
            field=f"lines[{i}].price_cents",
        )
        taken_before[tt.id] += line.quantity
        priced.append(pricing_rules.PricedLine(tt.currency, prices, tippable=tt.tippable))
    return priced, pricing_rules.order_totals(priced, request.tip_cents or 0)


def _new_order(
    request: OrderRequest,
    plan: _Plan,
    person_id: str,
    priced: Sequence[pricing_rules.PricedLine],
    totals: pricing_rules.Totals,
    now: datetime,
    hold: timedelta,
) -> Order:
    order = Order(
        id=new_id("ord"),
        event_id=plan.event.id,
        person_id=person_id,
        email=request.email.strip(),
        name=events.clean_name(request.name),
        client_key=request.client_key,
        status="pending",
        currency=totals.currency,
        subtotal_cents=totals.subtotal_cents,
        tip_cents=totals.tip_cents,
        total_cents=totals.total_cents,
        refunded_cents=0,
        idempotency_key=request.idempotency_key,
        request_fingerprint=request.fingerprint,
        expires_at=now + hold,
        checkout_attempt=0,
        created_at=now,
        updated_at=now,
        pricing_snapshot=_snapshot(request, plan.event, plan.found, plan.chosen, priced, totals, now),
    )
    order.lines = [
        OrderLine(
            id=new_id("ol"),
            order_id=order.id,
            ticket_type_id=line.ticket_type_id,
            position=i,
            title=plan.found[line.ticket_type_id].title,
            quantity=line.quantity,
            unit_price_cents=priced_line.unit_prices[0],
            unit_prices=list(priced_line.unit_prices),
            line_total_cents=priced_line.total_cents,
        )
        for i, (line, priced_line) in enumerate(zip(request.lines, priced, strict=True))
    ]
    return order


def _created_payload(order: Order) -> dict[str, Any]:
    return {"order_id": order.id, "event_id": order.event_id, "status": "pending", "total_cents": order.total_cents}


# The one-statement reservation below, for PostgreSQL; tests turn it off to compare it with the general path.
FUSED_RESERVE = True


async def _reserve_once(
    db: Database, request: OrderRequest, now: datetime, hold: timedelta, caps: buyer_caps.BuyerCaps
) -> Order:
    if FUSED_RESERVE and db.dialect == "postgresql":
        fused = await _reserve_in_one_statement(db, request, now, hold, caps)
        if fused is not None:
            return fused
    plan = await _load_plan(db, request, now)
    async with db.transaction() as session:
        # The conditional UPDATE locks the ticket type's row until COMMIT, so every other buyer of that ticket
        # waits for it: when prices are known up front (fixed and flexible), everything else is written first and
        # the inventory is taken last, right before the commit. Dynamic prices depend on the units' positions, which
        # only the UPDATE can tell, so they take the inventory first.
        person = await events.get_or_create_person(session, request.email, request.name)
        counters: dict[str, tuple[int, int, int]] = {}
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
        order = _new_order(request, plan, person.id, priced, totals, now, hold)
        session.add(order)
        outbox.record(session, "order.created", [order_topic(order.id)], _created_payload(order))
        await session.flush()
        if not plan.positional:
            await _take(session, plan.takings, now, counters)
        if order.total_cents == 0:
            await _apply(session, order, "pending", "confirmed", now)
            counters.update(await _counters(session, list(plan.takings)))
            order.status = "confirmed"
            order.confirmed_at = now
            _record_status(session, order, "pending")
        _record_availability(session, plan.event.id, [(k, *v) for k, v in sorted(counters.items())])
    return order


# What a process keeps of the sales it served, per (event id, ticket type id): the event and ticket type rows as
# read, for KEPT_SALE_SECONDS at most. The one-statement reservation uses them instead of reading them again, and
# its statement checks that the rows still have the revisions read (organizer edits raise them), so a kept copy can
# never sell at an old price or in a closed sale; it only saves a read.
KEPT_SALE_SECONDS = 5.0
_KEPT_SALES_MAX = 1024
_kept_sales: weakref.WeakKeyDictionary[Database, dict[tuple[str, str], tuple[float, Event, TicketType]]] = (
    weakref.WeakKeyDictionary()
)


def _kept_sale(db: Database, event_id: str, ticket_type_ids: Iterable[str]) -> Sale | None:
    """The kept rows of every requested ticket type, or None if one is missing or too old. The event is the most
    recently kept copy (the statement checks its revision)."""
    kept = _kept_sales.get(db, {})
    oldest = time.monotonic() - KEPT_SALE_SECONDS
    entries = [kept.get((event_id, tt_id)) for tt_id in ticket_type_ids]
    if not all(entry is not None and entry[0] >= oldest for entry in entries):
        return None
    fresh = [entry for entry in entries if entry is not None]
    return max(fresh, key=lambda entry: entry[0])[1], {entry[2].id: entry[2] for entry in fresh}


def _keep_sale(db: Database, sale: Sale) -> None:
    kept = _kept_sales.setdefault(db, {})
    event, found = sale
    if len(kept) + len(found) > _KEPT_SALES_MAX:
        kept.clear()
    at = time.monotonic()
    for tt in found.values():
        kept[(event.id, tt.id)] = (at, event, tt)


async def _reserve_in_one_statement(
    db: Database, request: OrderRequest, now: datetime, hold: timedelta, caps: buyer_caps.BuyerCaps
) -> Order | None:
    """The one-statement reservation, from the kept sale when there is one (and again from a fresh read when the
    kept one is outdated). None: this order takes the general path (a dynamic price, a free order, or definitions
    that changed under it twice)."""
    ids = sorted({line.ticket_type_id for line in request.lines})
    kept = _kept_sale(db, request.event_id, ids)
    for sale in (kept, None) if kept is not None else (None,):
        fresh = sale is None
        event, found = sale if sale is not None else await _read_sale(db, request)
        try:
            plan = _check_plan(request, event, found, now)
        except BoxofficeError:
            if fresh:
                raise
            continue  # judged against the current definitions, not a kept copy
        if plan.positional:
            return None
        priced, totals = _price_lines(request, plan, dict.fromkeys(plan.takings, 0), now)
        if totals.total_cents == 0:
            return None
        order = await _reserve_fused(db, request, plan, priced, totals, now, hold, caps)
        if order is not None:
            _keep_sale(db, (event, found))
            return order
    return None


# PostgreSQL, a paid order of fixed or flexible prices (the flash-sale order), any number of lines: the whole
# reservation is one statement, atomic by itself, in autocommit. Its first part, ``t``, takes the tickets and returns
# the ticket type rows; everything else is inserted only from them, so a sold-out ticket writes nothing, and no client
# round trip happens while the rows are locked. The general path above writes the same rows (tests compare the two).
#
# One ticket type: ``t`` is the conditional UPDATE itself (one visit of the row; measured under a flash sale, half
# the PostgreSQL CPU of the form for several). Several: ``locked`` locks each requested ticket type that has enough
# left at the revision read (in id order, so concurrent orders never deadlock), and the UPDATE takes the tickets
# only if that is every one of them. It re-checks nothing: the rows it updates are those ``locked`` holds, as they
# were when locked.
_TAKE_ONE_KIND = """
WITH t AS (
    UPDATE ticket_types SET held_count = held_count + :quantity, updated_at = :now
    WHERE id = :ticket_type_id AND deleted_at IS NULL AND quantity - sold_count - held_count >= :quantity
      AND revision = :ticket_revision
      AND EXISTS (SELECT 1 FROM events WHERE events.id = :event_id AND events.revision = :event_revision){caps}
    RETURNING id, quantity, sold_count, held_count
"""
_TAKE_KINDS = """
WITH want AS (
    SELECT * FROM jsonb_to_recordset(:wants) AS w(id text, quantity integer, revision integer)
), locked AS (
    SELECT tt.id FROM ticket_types tt JOIN want ON want.id = tt.id
    WHERE tt.deleted_at IS NULL AND tt.revision = want.revision
      AND tt.quantity - tt.sold_count - tt.held_count >= want.quantity
      AND EXISTS (SELECT 1 FROM events WHERE events.id = :event_id AND events.revision = :event_revision){caps}
    ORDER BY tt.id
    FOR UPDATE OF tt
), t AS (
    UPDATE ticket_types SET held_count = ticket_types.held_count + want.quantity, updated_at = :now
    FROM want
    WHERE ticket_types.id = want.id AND (SELECT count(*) FROM locked) = :kinds
    RETURNING ticket_types.id, ticket_types.quantity, ticket_types.sold_count, ticket_types.held_count
"""
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
                   'available', greatest(t.quantity - t.sold_count - t.held_count, 0)) ORDER BY t.id)
               FROM t)),
           :now, 0 FROM o
)
SELECT o.person_id FROM o
"""
# One statement per (one ticket type, per-email cap on, per-address cap on): a cap that is off costs nothing.
_FUSED_RESERVE = {
    (one, by_email, by_address): text(
        (_TAKE_ONE_KIND if one else _TAKE_KINDS).format(caps=buyer_caps.hold_caps_sql(by_email, by_address))
        + _WRITE_ORDER
    ).bindparams(
        bindparam("now", type_=UTCDateTime()),
        bindparam("expires_at", type_=UTCDateTime()),
        *(
            bindparam(name, type_=JSONType)
            for name in ("wants", "lines", "pricing_snapshot", "order_topics", "event_topics", "created_payload")
            if name != "wants" or not one
        ),
    )
    for one in (True, False)
    for by_email in (True, False)
    for by_address in (True, False)
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
    order = _new_order(request, plan, "", priced, totals, now, hold)
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
    statement = _FUSED_RESERVE[
        len(takings) == 1, caps.held_per_email > 0, caps.held_per_address > 0 and bool(request.client_key)
    ]
    async with db.single() as session:
        row = (await session.execute(statement, params)).one_or_none()
        if row is None:
            current = {
                tt_id: (int(left), revision, deleted_at is None and event_revision == plan.event.revision)
                for tt_id, left, revision, deleted_at, event_revision in (
                    await session.execute(
                        select(
                            TicketType.id,
                            TicketType.quantity - TicketType.sold_count - TicketType.held_count,
                            TicketType.revision,
                            TicketType.deleted_at,
                            Event.revision,
                        )
                        .join(Event, Event.id == TicketType.event_id)
                        .where(TicketType.id.in_([t.ticket_type.id for t in takings]))
                    )
                ).all()
            }
            for taking in takings:
                _, revision, on_sale = current.get(taking.ticket_type.id, (0, None, False))
                if not on_sale or revision != taking.ticket_type.revision:
                    return None  # the event or a ticket type changed since they were read
            for taking in takings:
                left = max(current[taking.ticket_type.id][0], 0)
                if left < taking.quantity:
                    raise _sold_out(taking, left)
            return None  # tickets were freed in the meantime: the general path takes them
    set_committed_value(order, "person_id", row.person_id)
    return order


def _sold_out(taking: _Taking, left: int) -> SoldOut:
    """The answer to an order asking more of a ticket type than the ``left`` it has, on the type's first line."""
    tt = taking.ticket_type
    return SoldOut(
        f"{tt.title}: only {left} left" if left else f"{tt.title} is sold out",
        ticket_type_id=tt.id,
        available=left,
        field=f"lines[{taking.line_indexes[0]}].quantity",
    )


async def _take(
    session: AsyncSession, takings: Mapping[str, _Taking], now: datetime, counters: dict[str, tuple[int, int, int]]
) -> dict[str, int]:
    """Hold each ticket type's quantity with one conditional UPDATE (in a fixed order, so concurrent multi-line
    orders never deadlock). Returns how many units were taken before this order's, per ticket type."""
    taken_before: dict[str, int] = {}
    for tt_id in sorted(takings):
        taking = takings[tt_id]
        row = (
            await session.execute(
                update(TicketType)
                .where(
                    TicketType.id == tt_id,
                    TicketType.deleted_at.is_(None),
                    TicketType.quantity - TicketType.sold_count - TicketType.held_count >= taking.quantity,
                )
                .values(held_count=TicketType.held_count + taking.quantity, updated_at=now)
                .returning(TicketType.quantity, TicketType.sold_count, TicketType.held_count)
                .execution_options(synchronize_session=False)
            )
        ).one_or_none()
        if row is None:
            raise _sold_out(taking, await _available_now(session, tt_id))
        quantity, sold, held = row
        counters[tt_id] = (quantity, sold, held)
        taken_before[tt_id] = sold + held - taking.quantity
    return taken_before


def _snapshot(
    request: OrderRequest,
    event: Event,
    found: Mapping[str, TicketType],
    chosen: Sequence[int | None],
    priced: Sequence[pricing_rules.PricedLine],
    totals: pricing_rules.Totals,
    now: datetime,
) -> dict[str, Any]:
    lines = []
    for line, choice, prices in zip(request.lines, chosen, priced, strict=True):
        tt = found[line.ticket_type_id]
        lines.append(
            {
                "ticket_type_id": tt.id,
                "title": tt.title,
                "description": tt.description,
                "pricing_model": tt.pricing_model,
                "base_price_cents": tt.base_price_cents,
                "minimum_price_cents": tt.minimum_price_cents,
                "suggested_price_cents": tt.suggested_price_cents,
                "price_tiers": tt.price_tiers,
                "requested_price_cents": line.price_cents,
                "chosen_price_cents": choice,
                "quantity": line.quantity,
                "unit_prices": list(prices.unit_prices),
            }
        )
    return {
        "priced_at": now.isoformat(),
        "event_title": event.title,
        "currency": totals.currency,
        "lines": lines,
        "tip_cents": totals.tip_cents,
        "subtotal_cents": totals.subtotal_cents,
        "total_cents": totals.total_cents,
    }


async def _available_now(session: AsyncSession, ticket_type_id: str) -> int:
    row = (
        await session.execute(
            select(TicketType.quantity, TicketType.sold_count, TicketType.held_count).where(
                TicketType.id == ticket_type_id
            )
        )
    ).one()
    return max(row[0] - row[1] - row[2], 0)


async def _counters(session: AsyncSession, ticket_type_ids: Sequence[str]) -> dict[str, tuple[int, int, int]]:
    rows = await session.execute(
        select(TicketType.id, TicketType.quantity, TicketType.sold_count, TicketType.held_count).where(
            TicketType.id.in_(ticket_type_ids)
        )
    )
    return {tt_id: (q, s, h) for tt_id, q, s, h in rows.tuples()}


# ---------------------------------------------------------------------------------------------------------------
# Order lifecycle


def _quantities(order: Order) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for line in order.lines:
        totals[line.ticket_type_id] += line.quantity
    return dict(sorted(totals.items()))


async def _shift(
    session: AsyncSession, order: Order, *, held: int, sold: int, now: datetime
) -> dict[str, tuple[int, int, int]]:
    """Move the order's quantities between counters (``held``/``sold`` are -1, 0 or +1 multipliers); returns the
    new (quantity, sold, held) of each ticket type."""
    counters: dict[str, tuple[int, int, int]] = {}
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
                .returning(TicketType.quantity, TicketType.sold_count, TicketType.held_count)
                .execution_options(synchronize_session=False)
            )
        ).one()
        counters[tt_id] = (row[0], row[1], row[2])
    return counters


async def _apply(
    session: AsyncSession, order: Order, source: str, target: str, now: datetime
) -> dict[str, tuple[int, int, int]]:
    """The effects of a transition that has just been won by a guarded update. The ticket types' counters move
    last: their row lock is then held only until the commit that follows."""
    if source == "pending" and target == "confirmed":
        await _issue_tickets(session, order)
        await events.add_ticket_holder(session, order)
        return await _shift(session, order, held=-1, sold=+1, now=now)
    if source == "pending":
        return await _shift(session, order, held=-1, sold=0, now=now)
    if target in ("canceled", "refunded") and source in ("confirmed", "partially_refunded"):
        await session.execute(
            update(Ticket)
            .where(Ticket.order_id == order.id)
            .values(status="void")
            .execution_options(synchronize_session=False)
        )
        await events.remove_ticket_holder_order(session, order)
        return await _shift(session, order, held=0, sold=-1, now=now)
    return {}


def _mark(order: Order, target: str, now: datetime, values: Mapping[str, Any]) -> None:
    """Reflect a guarded UPDATE on the loaded order without another round trip (and without dirtying it)."""
    for key, value in {"status": target, "updated_at": now, _TIMESTAMP[target]: now, **values}.items():
        set_committed_value(order, key, value)


async def _issue_tickets(session: AsyncSession, order: Order) -> None:
    existing = await session.scalar(select(exists().where(Ticket.order_id == order.id)))
    if existing:
        return
    for line in order.lines:
        prices = line.unit_prices or [line.unit_price_cents] * line.quantity
        for price in prices:
            session.add(
                Ticket(
                    id=new_id("tkt"),
                    order_id=order.id,
                    order_line_id=line.id,
                    ticket_type_id=line.ticket_type_id,
                    unit_price_cents=int(price),
                    status="valid",
                )
            )


_TIMESTAMP = {
    "confirmed": "confirmed_at",
    "canceled": "canceled_at",
    "expired": "expired_at",
    "failed": "failed_at",
    "refunded": "refunded_at",
    "partially_refunded": "refunded_at",
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
    outbox.record(
        session,
        f"order.{order.status}",
        [order_topic(order.id)],
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
    for _ in range(10):
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
            _record_availability(session, order.event_id, [(k, *v) for k, v in sorted(counters.items())])
            return TransitionResult(order, changed=True, previous_status=previous, outcome=target)
    raise RuntimeError(f"order {order_id} kept changing under concurrent updates")


async def _record_order_availability(session: AsyncSession, order: Order) -> None:
    counters = await _counters(session, list(_quantities(order)))
    _record_availability(session, order.event_id, [(k, *v) for k, v in sorted(counters.items())])


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
    result = await _transition(db, order_id, "confirmed", now=now, **values)
    if result.changed or result.previous_status not in LATE_PAYMENT_SOURCES:
        return result
    return await _confirm_late(db, result.order, now, values)


async def _confirm_late(db: Database, order: Order, now: datetime, values: dict[str, Any]) -> TransitionResult:
    previous, order_id = order.status, order.id
    try:
        async with db.transaction() as session:
            order = await _load_order(session, order_id, for_update=True)  # one late confirmation at a time
            if order.status != previous:
                return TransitionResult(order, changed=False, previous_status=order.status, outcome="unchanged")
            for tt_id, q in _quantities(order).items():
                row = (
                    await session.execute(
                        update(TicketType)
                        .where(
                            TicketType.id == tt_id,
                            TicketType.quantity - TicketType.sold_count - TicketType.held_count >= q,
                        )
                        .values(sold_count=TicketType.sold_count + q, updated_at=now)
                        .returning(TicketType.id)
                        .execution_options(synchronize_session=False)
                    )
                ).one_or_none()
                if row is None:
                    raise SoldOut("tickets no longer available", ticket_type_id=tt_id, available=0)
            if not await _guarded_update(session, order, "confirmed", now, None, **values):
                raise _LostRace
            await _issue_tickets(session, order)
            await events.add_ticket_holder(session, order)
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
    return await _transition(db, order_id, "canceled", now=now, sources=sources, failure_reason=reason)


async def expire_order(
    db: Database, order_id: str, *, force: bool = False, now: datetime | None = None
) -> TransitionResult:
    """End a pending order's hold at its expiry (``force``: now, e.g. when Stripe says the session expired)."""
    now = now or utcnow()
    guard = None if force else Order.expires_at <= now
    return await _transition(db, order_id, "expired", now=now, guard=guard)


async def fail_order(
    db: Database, order_id: str, *, reason: str, now: datetime | None = None, release_idempotency_key: bool = False
) -> TransitionResult:
    """Payment failed for good: release the hold. ``release_idempotency_key``: the order was never offered to the
    buyer (its checkout could not start), so the Idempotency-Key that created it may create a new one."""
    values: dict[str, Any] = {"failure_reason": reason[:2000]}
    if release_idempotency_key:
        values["idempotency_key"] = None
    return await _transition(db, order_id, "failed", now=now, **values)


async def record_refund(
    db: Database, order_id: str, refunded_total_cents: int, *, now: datetime | None = None
) -> TransitionResult:
    """Stripe reports ``refunded_total_cents`` refunded so far (cumulative). A full refund returns the tickets to
    sale; a partial one only records the amount. Idempotent: a repeated or older report changes nothing."""
    now = now or utcnow()
    if refunded_total_cents <= 0:
        raise InvalidInput.one("amount_cents", "must be > 0")
    async with db.read() as session:
        order = await _load_order(session, order_id)
    if refunded_total_cents >= order.total_cents:
        target = "refunded"
        amount = order.total_cents
    else:
        target = "partially_refunded"
        amount = refunded_total_cents
    sources: tuple[str, ...] = ("confirmed", "partially_refunded")
    if target == "refunded":
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
        stmt = select(Order.id).where(Order.status == "pending", Order.expires_at <= now)
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


# ---------------------------------------------------------------------------------------------------------------
# Reads and checkout bookkeeping


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


@dataclass(frozen=True)
class CheckoutSession:
    order_id: str
    session_id: str
    url: str | None


_STORE_SESSION = (
    update(Order.__table__)  # type: ignore[arg-type]
    .where(Order.__table__.c.id == bindparam("order_id"))
    .values(
        stripe_checkout_session_id=bindparam("session_id"), checkout_url=bindparam("url"), updated_at=bindparam("now")
    )
)


async def set_checkout_sessions(db: Database, sessions: Sequence[CheckoutSession]) -> None:
    """Store the Checkout Session of each order: one statement executed for every order, in one round trip."""
    now = utcnow()
    async with db.single() as session:
        await session.execute(
            _STORE_SESSION,
            [{"order_id": s.order_id, "session_id": s.session_id, "url": s.url, "now": now} for s in sessions],
        )


async def await_async_payment(db: Database, order_id: str, *, payment_intent_id: str | None, until: datetime) -> bool:
    """The buyer paid with a delayed method (bank debit...): keep the hold until the payment's result arrives,
    at the latest ``until``. Only a pending order is touched; returns whether it was."""
    values: dict[str, Any] = {"expires_at": until, "updated_at": utcnow()}
    if payment_intent_id:
        values["stripe_payment_intent_id"] = payment_intent_id
    async with db.transaction() as session:
        result = await session.execute(
            update(Order)
            .where(Order.id == order_id, Order.status == "pending", Order.expires_at < until)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0) == 1)


async def note_order_issue(db: Database, order_id: str, note: str) -> None:
    """Record a problem for the organizer on the order (payment mismatch, refund needed...), without a transition."""
    async with db.transaction() as session:
        await session.execute(
            update(Order)
            .where(Order.id == order_id)
            .values(failure_reason=note[:2000], updated_at=utcnow())
            .execution_options(synchronize_session=False)
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
