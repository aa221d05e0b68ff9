"""Ticket types: create, read, update and delete them (with their revisions), and what can be bought now.

Every edit raises the ticket type's revision (the one-statement reservation checks it) and records the domain events
and the new availability in the outbox, in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from boxoffice import outbox
from boxoffice.clock import utcnow
from boxoffice.db import Database
from boxoffice.errors import ErrorCode, FieldError, InvalidInput, NotFound
from boxoffice.events import service as events
from boxoffice.events.models import Event
from boxoffice.ids import new_id
from boxoffice.ticketing import pricing as pricing_rules
from boxoffice.ticketing.inventory import _expired_holds, _give_back, _record_availability
from boxoffice.ticketing.models import OrderLine, TicketType
from boxoffice.ticketing.orders import release_expired_holds
from boxoffice.ticketing.rules import pricing_from_row, ticket_values
from boxoffice.ticketing.voucher_models import WaitingListEntry
from boxoffice.topics import event_topic

# The order an event's ticket types are shown in, everywhere (buyer page, API, console, door): ``position``, lowest
# first (the console's up and down buttons renumber it 0, 1, 2...), then the oldest, then the id (never a tie).
SHOWN_ORDER = (TicketType.position, TicketType.created_at, TicketType.id)


@dataclass(frozen=True)
class Availability:
    ticket_type_id: str
    quantity: int
    sold: int
    held: int
    available: int
    price_cents: int
    sales_state: str  # on_sale | not_started | ended | sold_out | paused
    reserved: int = 0  # set aside for vouchers and the waiting list
    waiting: int = 0  # tickets its waiting list's entries still wait for


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
        "hidden": tt.hidden,
        "waiting_list": tt.waiting_list,
    }


def _check_event_currency(currency: object, event_currency: str | None) -> None:
    """Ticket types are priced in their event's one currency (an order never mixes currencies)."""
    if event_currency is not None and isinstance(currency, str) and currency != event_currency:
        raise InvalidInput(
            FieldError(
                "currency",
                f"must be the event's currency, {event_currency.upper()} (an event sells in one currency)",
                code=ErrorCode.MIXED_CURRENCY,
            )
        )


async def create_ticket_type(
    db: Database, event_id: str, fields: Mapping[str, Any], *, organizer_id: str | None = None
) -> TicketType:
    async with db.transaction() as session:
        # locked: the first ticket type of an event without a currency sets it, once
        event = await events.load_event(session, event_id, organizer_id=organizer_id, for_update=True)
        given = fields.get("currency")
        values = ticket_values({**fields, "currency": given if given is not None else (event.currency or "usd")})
        _check_event_currency(values.get("currency"), event.currency)
        if event.currency is None:
            event.currency = values["currency"]
        tt = TicketType(id=new_id("tt"), event_id=event_id, sold_count=0, held_count=0, **values)
        session.add(tt)
        await session.flush()
        outbox.record(
            session,
            "ticket.created",
            [event_topic(event_id)],
            {"event_id": event_id, "ticket_type_id": tt.id},
        )
        _record_availability(session, event_id, [(tt.id, tt.quantity, 0, 0, 0)])
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
    already sold, held or set aside (expired holds are released first so they do not count); tickets a raise adds
    go to the waiting list first. Switching the waiting list off puts the tickets held back for it on sale."""
    async with db.read() as session:
        current = await _load_ticket_type(session, ticket_type_id, organizer_id=organizer_id)
    values = ticket_values(changes, _row_values(current))
    if "currency" in values and values["currency"] != current.currency:
        event = await events.get_event(db, current.event_id)
        _check_event_currency(values["currency"], event.currency or current.currency)
    taken = current.sold_count + current.held_count + current.reserved_count
    if "quantity" in values and values["quantity"] < taken:
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
                        TicketType.sold_count + TicketType.held_count + TicketType.reserved_count <= new_quantity,
                    )
                    .values(quantity=new_quantity, updated_at=utcnow())
                    .returning(TicketType.quantity)
                    .execution_options(synchronize_session=False)
                )
            ).one_or_none()
            if row is None:
                fresh = await _load_ticket_type(session, ticket_type_id)
                least = fresh.sold_count + fresh.held_count + fresh.reserved_count
                raise InvalidInput.one(
                    "quantity",
                    f"cannot be lower than the {least} tickets already sold, held or set aside",
                    (("minimum", least),),
                    code=ErrorCode.BELOW_MINIMUM,
                )
            if new_quantity > tt.quantity:  # the tickets added come back to sale: the waiting list first
                await _give_back(session, ticket_type_id, returned=new_quantity - tt.quantity, now=utcnow())
            tt = await _load_ticket_type(session, ticket_type_id)
        if values.get("waiting_list") is False and tt.waitlist_count:
            await session.execute(
                update(TicketType)
                .where(TicketType.id == ticket_type_id)
                .values(
                    reserved_count=TicketType.reserved_count - TicketType.waitlist_count,
                    waitlist_count=0,
                    updated_at=utcnow(),
                )
                .execution_options(synchronize_session=False)
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
        _record_availability(
            session, tt.event_id, [(tt.id, tt.quantity, tt.sold_count, tt.held_count, tt.reserved_count)]
        )
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
        # tickets set aside for a voucher, or a waiting list's entries, keep the row too (they refer to it)
        waited = await session.scalar(select(exists().where(WaitingListEntry.ticket_type_id == ticket_type_id)))
        has_orders = has_orders or tt.reserved_count > 0 or waited is True
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
        _record_availability(session, tt.event_id, [(tt.id, tt.quantity, tt.quantity, 0, 0)])
    return has_orders


async def list_ticket_types(db: Database, event_id: str, *, include_deleted: bool = False) -> list[TicketType]:
    async with db.read() as session:
        stmt = select(TicketType).where(TicketType.event_id == event_id)
        if not include_deleted:
            stmt = stmt.where(TicketType.deleted_at.is_(None))
        return list((await session.scalars(stmt.order_by(*SHOWN_ORDER))).all())


async def move_ticket_type(
    db: Database, ticket_type_id: str, step: int, *, organizer_id: str | None = None
) -> list[str]:
    """Move a ticket type one place up (``step`` -1) or down (+1) in the order buyers see (``SHOWN_ORDER``): the
    event's ticket types are numbered 0, 1, 2... in their current order with the two neighbours swapped. The event's
    row is locked, so moves asked at once apply one after the other. Already first (or last): nothing changes.
    Returns the event's ticket type ids in their new order."""
    if step not in (-1, 1):
        raise InvalidInput.one("direction", "must be up or down", code=ErrorCode.INVALID_CHOICE)
    async with db.transaction() as session:
        tt = await _load_ticket_type(session, ticket_type_id, organizer_id=organizer_id)
        await events.load_event(session, tt.event_id, for_update=True)
        stmt = select(TicketType).where(TicketType.event_id == tt.event_id, TicketType.deleted_at.is_(None))
        tts = list((await session.scalars(stmt.order_by(*SHOWN_ORDER).execution_options(populate_existing=True))).all())
        here = next(i for i, t in enumerate(tts) if t.id == ticket_type_id)
        there = here + step
        if not 0 <= there < len(tts):
            return [t.id for t in tts]
        tts[here], tts[there] = tts[there], tts[here]
        now = utcnow()
        for position, t in enumerate(tts):
            if t.position != position:
                t.position = position
                t.updated_at = now
        ids = [t.id for t in tts]
        outbox.record(session, "ticket.reordered", [event_topic(tt.event_id)], {"event_id": tt.event_id, "order": ids})
    return ids


def sales_state(tt: TicketType, event: Event, available: int, now: datetime) -> str:
    if tt.starts_at is not None and now < tt.starts_at:
        return "not_started"
    if now >= (tt.ends_at or event.ends_at) or event.status not in ("published", "sales_paused"):
        return "ended"
    if event.status == "sales_paused":
        return "paused"  # shown, not sold until the organizer resumes sales
    return "sold_out" if available <= 0 else "on_sale"


async def availability(db: Database, event_id: str, *, now: datetime | None = None) -> list[Availability]:
    """What the public can buy now, per ticket type (tickets set aside for vouchers and the waiting list do not
    count). An expired hold never counts against availability, unless the ticket type has a waiting list with
    entries: its tickets will go to them."""
    return [a for _, a in (await shown_with_availability(db, event_id, now=now))[1]]


async def shown_with_availability(
    db: Database, event_id: str, *, now: datetime | None = None
) -> tuple[Event, list[tuple[TicketType, Availability]]]:
    """The event, and its ticket types (not deleted, in ``SHOWN_ORDER``) each with its ``availability``, read
    together: what the event page and the ticket list show (a ticket type created meanwhile is in both or neither)."""
    now = now or utcnow()
    async with db.read() as session:
        event = await events.load_event(session, event_id)
        tts = await shown_ticket_types(session, event_id)
        return event, list(zip(tts, await availability_of(session, event, tts, now), strict=True))


# Built once, as every availability read runs it (``inventory._EXPIRED_HOLDS`` says why).
_SHOWN = (
    select(TicketType)
    .where(TicketType.event_id == bindparam("event_id"), TicketType.deleted_at.is_(None))
    .order_by(*SHOWN_ORDER)
)


async def shown_ticket_types(session: AsyncSession, event_id: str) -> list[TicketType]:
    """The event's ticket types (not deleted) in ``SHOWN_ORDER``."""
    return list((await session.scalars(_SHOWN, {"event_id": event_id})).all())


async def availability_of(
    session: AsyncSession, event: Event, tts: list[TicketType], now: datetime
) -> list[Availability]:
    """``availability`` of ``tts`` (the event's ticket types, already read in ``session``)."""
    expired = await _expired_holds(session, [tt.id for tt in tts], now)
    waiting = await _waiting(session, event.id)
    out = []
    for tt in tts:
        wait = waiting.get(tt.id, 0) if tt.waiting_list else 0
        held = tt.held_count - (0 if wait else expired.get(tt.id, 0))
        available = max(tt.quantity - tt.sold_count - held - tt.reserved_count, 0)
        out.append(
            Availability(
                ticket_type_id=tt.id,
                quantity=tt.quantity,
                sold=tt.sold_count,
                held=held,
                available=available,
                price_cents=pricing_rules.current_unit_price(pricing_from_row(tt), tt.sold_count + held, now),
                sales_state=sales_state(tt, event, available, now),
                reserved=tt.reserved_count,
                waiting=wait,
            )
        )
    return out


_WAITING = (
    select(WaitingListEntry.ticket_type_id, func.sum(WaitingListEntry.quantity))
    .where(WaitingListEntry.event_id == bindparam("event_id"), WaitingListEntry.status == "waiting")
    .group_by(WaitingListEntry.ticket_type_id)
)


async def _waiting(session: AsyncSession, event_id: str) -> dict[str, int]:
    """Per ticket type of the event, the tickets its waiting entries wait for."""
    rows = await session.execute(_WAITING, {"event_id": event_id})
    return {tt_id: int(total or 0) for tt_id, total in rows}
