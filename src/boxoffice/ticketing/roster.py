"""The attendee list of an event, for exports and the console: one entry per issued ticket with its attendee and the
answers (the ticket's and its order's), in pages by ticket id (keyset: a page costs the same wherever it is), or
streamed page by page with ``iter_attendees``. The event's questions (``attendees.questions.list_questions`` with
``include_deleted=True``) name the answers' columns.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select

from boxoffice.attendees.models import Attendee, OrderAnswers
from boxoffice.db import Database
from boxoffice.ticketing.models import Order, OrderLine, Ticket

PAGE_SIZE = 500
MAX_PAGE_SIZE = 5000


@dataclass(frozen=True)
class RosterEntry:
    """One ticket: who holds it (the attendee; else the buyer, ``attendee_name``/``attendee_email`` empty)."""

    ticket_id: str
    ticket_status: str  # valid | void
    code_version: int
    ticket_type_id: str
    ticket_title: str
    order_id: str
    order_status: str
    buyer_name: str
    buyer_email: str
    attendee_name: str
    attendee_email: str
    ticket_answers: dict[str, Any]
    order_answers: dict[str, Any]
    issued_at: datetime


@dataclass(frozen=True)
class RosterPage:
    entries: list[RosterEntry]
    next_after: str | None  # pass as ``after`` for the next page; None: this was the last


async def list_attendees(
    db: Database,
    event_id: str,
    *,
    after: str | None = None,
    limit: int = PAGE_SIZE,
    include_void: bool = False,
    text: str = "",
    ticket_id: str | None = None,
) -> RosterPage:
    """A page of the event's tickets (``limit`` at most, by ticket id after ``after``), valid ones only unless
    ``include_void``; one query per page. ``text`` matches an order or ticket id exactly, or part of the buyer's
    or the attendee's name or email (any case); ``ticket_id`` (read from a genuine ticket code by the caller) one
    ticket."""
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    stmt = (
        select(Ticket, Order, OrderLine.title, Attendee, OrderAnswers.answers)
        .join(Order, Order.id == Ticket.order_id)
        .join(OrderLine, OrderLine.id == Ticket.order_line_id)
        .outerjoin(Attendee, Attendee.ticket_id == Ticket.id)
        .outerjoin(OrderAnswers, OrderAnswers.order_id == Order.id)
        .where(Order.event_id == event_id)
        .order_by(Ticket.id)
        .limit(limit + 1)
    )
    if after is not None:
        stmt = stmt.where(Ticket.id > after)
    if not include_void:
        stmt = stmt.where(Ticket.status == "valid")
    if ticket_id is not None:
        stmt = stmt.where(Ticket.id == ticket_id)
    elif text:
        needle = "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(
            or_(
                Order.id == text,
                Ticket.id == text,
                *(
                    func.lower(column).like(needle, escape="\\")
                    for column in (Order.email, Order.name, Attendee.name, Attendee.email)
                ),
            )
        )
    async with db.read() as session:
        rows = (await session.execute(stmt)).all()
    entries = [
        RosterEntry(
            ticket_id=ticket.id,
            ticket_status=ticket.status,
            code_version=ticket.code_version,
            ticket_type_id=ticket.ticket_type_id,
            ticket_title=str(title),
            order_id=order.id,
            order_status=order.status,
            buyer_name=order.name,
            buyer_email=order.email,
            attendee_name=attendee.name if attendee is not None else "",
            attendee_email=attendee.email if attendee is not None else "",
            ticket_answers=dict(attendee.answers or {}) if attendee is not None else {},
            order_answers=dict(order_answers or {}),
            issued_at=ticket.created_at,
        )
        for ticket, order, title, attendee, order_answers in rows[:limit]
    ]
    return RosterPage(entries, entries[-1].ticket_id if len(rows) > limit else None)


async def iter_attendees(
    db: Database, event_id: str, *, page_size: int = PAGE_SIZE, include_void: bool = False
) -> AsyncIterator[RosterEntry]:
    """Every entry of the event's attendee list, read a page at a time (no transaction stays open between pages)."""
    after: str | None = None
    while True:
        page = await list_attendees(db, event_id, after=after, limit=page_size, include_void=include_void)
        for entry in page.entries:
            yield entry
        if page.next_after is None:
            return
        after = page.next_after
