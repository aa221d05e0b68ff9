"""Self-service through the order link, until the event starts (or the organizer's cut-off): change the order's
answers and its attendees' names and answers, and hand a ticket to someone else.

Each change runs in one short transaction that locks the order's row, so changes of one order never interleave. A
transfer raises the ticket's ``code_version`` with a conditional UPDATE (the old code stops admitting at the door:
check-in refuses a code whose version is not current), records who had it and who has it now
(``ticket_transfers``), moves the ``ticket_holder`` participation, and records ``ticket.transferred`` in the outbox:
the emails to both people (notifications) and the outgoing webhooks are sent from it after the commit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice import outbox
from boxoffice.attendees import details as stored
from boxoffice.attendees import questions, rules
from boxoffice.attendees.models import Attendee, TicketTransfer
from boxoffice.clock import utcnow
from boxoffice.db import Database
from boxoffice.errors import ChangesClosed, Conflict, ErrorCode, FieldError, InvalidInput, NotFound
from boxoffice.events import attendee_holders
from boxoffice.events import service as events
from boxoffice.events.attendee_settings import changes_close_at
from boxoffice.events.models import Event
from boxoffice.ids import new_id
from boxoffice.ticketing.attendance import hold
from boxoffice.ticketing.models import SOLD_STATUSES, Order, OrderLine, Ticket
from boxoffice.ticketing.orders import _load_order
from boxoffice.topics import order_topic

UNSET: Any = object()


@dataclass(frozen=True)
class Transferred:
    transfer: TicketTransfer
    ticket: Ticket


async def _open_order(session: AsyncSession, order_id: str, now: datetime) -> tuple[Order, Event, rules.Asked]:
    """The order (locked), its event and what it asks; refused when the order holds no tickets or changes ended."""
    order = await _load_order(session, order_id, for_update=True)
    if order.status not in SOLD_STATUSES:
        raise Conflict(f"order {order.id} is {order.status}: only a paid order's tickets can be changed")
    event = await events.load_event(session, order.event_id)
    closed_at = changes_close_at(event)
    if now >= closed_at:
        raise ChangesClosed(
            "changes to this order's attendees and answers ended when the event started or at the organizer's cut-off",
            closed_at=closed_at.isoformat(),
        )
    return order, event, await questions.asked(session, event)


async def _ticket(session: AsyncSession, order: Order, ticket_id: str) -> Ticket:
    ticket = (
        await session.scalars(
            select(Ticket)
            .where(Ticket.id == ticket_id, Ticket.order_id == order.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).one_or_none()
    if ticket is None:
        raise NotFound("no such ticket in this order")
    if ticket.status != "valid":
        raise Conflict(f"ticket {ticket.id} is {ticket.status}")
    return ticket


def _merged(current: Mapping[str, Any], changes: object, name: str) -> dict[str, Any]:
    """``changes`` over ``current``: a key given with null clears that answer."""
    if changes is None:
        return dict(current)
    if not isinstance(changes, Mapping):
        raise InvalidInput.one(name, "must be an object of answers by question id", code=ErrorCode.INVALID_TYPE)
    merged = {**current, **changes}
    return {k: v for k, v in merged.items() if v is not None}


async def _attendee_row(session: AsyncSession, order: Order, ticket: Ticket, now: datetime) -> Attendee:
    """The ticket's attendee, written now when it has none yet (at the first place of its line no attendee holds)."""
    attendee = await stored.attendee_of_ticket(session, ticket.id, for_update=True)
    if attendee is not None:
        return attendee
    quantity = await session.scalar(select(OrderLine.quantity).where(OrderLine.id == ticket.order_line_id))
    taken = set(
        (await session.scalars(select(Attendee.unit).where(Attendee.order_line_id == ticket.order_line_id))).all()
    )
    unit = next(u for u in range(int(quantity or 0) + len(taken) + 1) if u not in taken)
    attendee = Attendee(
        id=new_id("att"),
        event_id=order.event_id,
        order_id=order.id,
        order_line_id=ticket.order_line_id,
        unit=unit,
        ticket_id=ticket.id,
        name="",
        email="",
        answers={},
        created_at=now,
        updated_at=now,
    )
    session.add(attendee)
    await session.flush()
    return attendee


def _ticket_answers(asked: rules.Asked, ticket: Ticket, answers: Mapping[str, Any]) -> dict[str, Any]:
    return rules.check_answers(
        asked.questions,
        answers,
        scope="ticket",
        ticket_type_ids=(ticket.ticket_type_id,),
        all_ids={q.id for q in asked.questions},
        name="answers",
    )


async def change_order_answers(
    db: Database, order_id: str, answers: object, *, now: datetime | None = None
) -> dict[str, Any]:
    """Change the order's answers to the per-order questions (``answers`` over the current ones; null clears one);
    the result is checked whole (a required question stays answered). Returns the answers as stored."""
    now = now or utcnow()
    async with db.transaction() as session:
        order, _, asked = await _open_order(session, order_id, now)
        current = await stored.read_order_details(session, order.id)
        cleaned = rules.check_answers(
            asked.questions,
            _merged(current.answers, answers, "answers"),
            scope="order",
            ticket_type_ids={line.ticket_type_id for line in order.lines},
            all_ids={q.id for q in asked.questions},
            name="answers",
        )
        await stored.save_order_answers(session, order_id=order.id, event_id=order.event_id, answers=cleaned, now=now)
    return cleaned


async def change_attendee(
    db: Database,
    order_id: str,
    ticket_id: str,
    *,
    name: object = UNSET,
    answers: object = None,
    now: datetime | None = None,
) -> Attendee:
    """Change a ticket's attendee name and answers (over the current ones; null clears one). The email is not
    changed here: a ticket given to another address is handed on (``transfer_ticket``)."""
    now = now or utcnow()
    async with db.transaction() as session:
        order, _, asked = await _open_order(session, order_id, now)
        ticket = await _ticket(session, order, ticket_id)
        attendee = await _attendee_row(session, order, ticket, now)
        errors: list[FieldError] = []
        new_name = attendee.name
        if name is not UNSET:
            try:
                new_name = rules.clean_person_name(name, "name")
            except InvalidInput as exc:
                errors.extend(exc.errors)
            if not new_name and asked.attendee_details == "required":
                errors.append(FieldError("name", "is required", code=ErrorCode.REQUIRED))
        cleaned: dict[str, Any] = {}
        try:
            cleaned = _ticket_answers(asked, ticket, _merged(attendee.answers or {}, answers, "answers"))
        except InvalidInput as exc:
            errors.extend(exc.errors)
        if errors:
            raise InvalidInput(errors)
        attendee.name = new_name
        attendee.answers = cleaned
        attendee.updated_at = now
    return attendee


async def transfer_ticket(
    db: Database,
    order_id: str,
    ticket_id: str,
    *,
    name: object,
    email: object,
    answers: object = None,
    now: datetime | None = None,
) -> Transferred:
    """Hand a ticket to someone else (``name`` and ``email`` required; ``answers`` over the ticket's current ones):
    it gets a new code (the old one stops admitting), the new holder becomes a ticket holder of the event in the
    previous one's place, and ``ticket.transferred`` is recorded (both people get an email)."""
    now = now or utcnow()
    errors: list[FieldError] = []
    new_name = new_email = ""
    try:
        new_name = rules.clean_person_name(name, "name")
    except InvalidInput as exc:
        errors.extend(exc.errors)
    try:
        new_email = rules.clean_email(email, "email")
    except InvalidInput as exc:
        errors.extend(exc.errors)
    for key, value in (("name", new_name), ("email", new_email)):
        if not value and not any(e.field == key for e in errors):
            errors.append(FieldError(key, "is required", code=ErrorCode.REQUIRED))
    async with db.transaction() as session:
        order, _, asked = await _open_order(session, order_id, now)
        ticket = await _ticket(session, order, ticket_id)
        attendee = await _attendee_row(session, order, ticket, now)
        from_name, from_email = (attendee.name, attendee.email) if attendee.email else (order.name, order.email)
        if new_email and events.normalize_email(new_email) == events.normalize_email(from_email):
            errors.append(FieldError("email", "already holds this ticket", code=ErrorCode.CONFLICT_WITH))
        cleaned: dict[str, Any] = {}
        try:
            cleaned = _ticket_answers(asked, ticket, _merged(attendee.answers or {}, answers, "answers"))
        except InvalidInput as exc:
            errors.extend(exc.errors)
        if errors:
            raise InvalidInput(errors)
        version = (
            await session.execute(
                update(Ticket)
                .where(Ticket.id == ticket.id, Ticket.code_version == ticket.code_version, Ticket.status == "valid")
                .values(code_version=Ticket.code_version + 1)
                .returning(Ticket.code_version)
                .execution_options(synchronize_session=False)
            )
        ).scalar_one_or_none()
        if version is None:  # cannot happen while the order's row is locked; never hand on a changed ticket
            raise Conflict(f"ticket {ticket.id} changed meanwhile; try again")
        if attendee.person_id is not None:
            await attendee_holders.remove_attendee_holder(
                session, order.event_id, attendee.person_id, ticket_id=ticket.id
            )
        attendee.name, attendee.email, attendee.answers, attendee.person_id = new_name, new_email, cleaned, None
        attendee.updated_at = now
        await hold(session, attendee, ticket.id)
        transfer = TicketTransfer(
            id=new_id("trf"),
            ticket_id=ticket.id,
            order_id=order.id,
            event_id=order.event_id,
            code_version=int(version),
            from_name=from_name,
            from_email=from_email,
            to_name=new_name,
            to_email=new_email,
            created_at=now,
        )
        session.add(transfer)
        outbox.record(session, "ticket.transferred", [order_topic(order.id)], transferred_payload(transfer, ticket))
        ticket.code_version = int(version)
    return Transferred(transfer, ticket)


def transferred_payload(transfer: TicketTransfer, ticket: Ticket) -> dict[str, Any]:
    """The ``ticket.transferred`` domain event (outbox): what the emails and the outgoing webhooks are made from."""
    return {
        "transfer_id": transfer.id,
        "ticket_id": transfer.ticket_id,
        "ticket_type_id": ticket.ticket_type_id,
        "order_id": transfer.order_id,
        "event_id": transfer.event_id,
        "code_version": transfer.code_version,
        "from": {"name": transfer.from_name, "email": transfer.from_email},
        "to": {"name": transfer.to_name, "email": transfer.to_email},
        "transferred_at": transfer.created_at.isoformat(),
    }


async def get_transfer(db: Database, transfer_id: str) -> tuple[TicketTransfer, Ticket, str]:
    """A transfer, its ticket and the ticket's title as bought (for the emails)."""
    async with db.read() as session:
        row = (
            await session.execute(
                select(TicketTransfer, Ticket, OrderLine.title)
                .join(Ticket, Ticket.id == TicketTransfer.ticket_id)
                .join(OrderLine, OrderLine.id == Ticket.order_line_id)
                .where(TicketTransfer.id == transfer_id)
            )
        ).one_or_none()
    if row is None:
        raise NotFound(f"transfer {transfer_id} not found")
    return row[0], row[1], str(row[2])


async def list_transfers(db: Database, order_id: str) -> list[TicketTransfer]:
    async with db.read() as session:
        stmt = select(TicketTransfer).where(TicketTransfer.order_id == order_id)
        return list((await session.scalars(stmt.order_by(TicketTransfer.created_at, TicketTransfer.id))).all())
