"""Who holds a ticket, and finding a ticket by its holder (manual check-in, for a buyer whose phone died).

``holder_name`` is the one place that says whose name the door shows: today the order's buyer (the name given with
the order, else the buyer's email). Per-ticket attendee names change it here, and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, false, func, or_, select
from sqlalchemy.orm import aliased

from boxoffice.checkin.lists import load_list, rules_of
from boxoffice.checkin.models import Checkin
from boxoffice.checkin.rules import Result, Scanner, refusal
from boxoffice.clock import utcnow
from boxoffice.db import Database
from boxoffice.ticketing.models import Order, Ticket, TicketType

MIN_QUERY = 2
MAX_RESULTS = 50


def holder_name(order_name: str | None, order_email: str) -> str:
    """The ticket holder's name as the door shows it: the order's name, else its email."""
    return (order_name or "").strip() or order_email


@dataclass(frozen=True)
class Attendee:
    """A ticket found by a search, with what a scan of it would answer now (``ok`` or a refusal)."""

    ticket_id: str
    ticket_type_id: str
    ticket_type: str
    holder_name: str
    email: str
    order_id: str
    result: Result
    checked_in_at: datetime | None


async def search(
    db: Database, list_id: str, query: str, scanner: Scanner, *, limit: int = 20, now: datetime | None = None
) -> list[Attendee]:
    """The list's event's tickets whose holder's name or email contains ``query`` (any case), or whose order or
    ticket id is ``query``; at most ``limit``, by holder name."""
    now = now or utcnow()
    needle = " ".join(query.split()).lower()
    admitted = aliased(Checkin)
    async with db.read() as session:
        lst, _ = await load_list(session, list_id, scanner)
        if len(needle) < MIN_QUERY:
            return []
        rows = (
            await session.execute(
                select(
                    Ticket.id,
                    Ticket.ticket_type_id,
                    Ticket.status,
                    Ticket.code_version,
                    TicketType.title,
                    Order.id,
                    Order.status,
                    Order.name,
                    Order.email,
                    admitted.scanned_at,
                )
                .join(Order, Order.id == Ticket.order_id)
                .join(TicketType, TicketType.id == Ticket.ticket_type_id)
                .outerjoin(
                    admitted,
                    and_(
                        admitted.list_id == lst.id,
                        admitted.ticket_id == Ticket.id,
                        admitted.undone_at.is_(None),
                        admitted.duplicate == false(),
                    ),
                )
                .where(
                    Order.event_id == lst.event_id,
                    or_(
                        Order.id == query.strip(),
                        Ticket.id == query.strip(),
                        func.lower(Order.email).contains(needle, autoescape=True),
                        func.lower(Order.name).contains(needle, autoescape=True),
                    ),
                )
                .order_by(func.lower(Order.name), Order.email, Ticket.id)
                .limit(min(max(limit, 1), MAX_RESULTS))
            )
        ).all()
    rules = rules_of(lst)
    found = []
    for ticket_id, tt_id, status, version, title, order_id, order_status, name, email, checked_in_at in rows:
        result = refusal(
            rules,
            ticket_status=status,
            order_status=order_status,
            ticket_type_id=tt_id,
            code_version=None,
            current_version=version,
            at=now,
        )
        if result is None:
            result = Result.ALREADY_CHECKED_IN if checked_in_at is not None else Result.OK
        found.append(
            Attendee(ticket_id, tt_id, title, holder_name(name, email), email, order_id, result, checked_in_at)
        )
    return found
