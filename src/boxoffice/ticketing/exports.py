"""Rows for the console's exports, read in keyset batches (``BATCH`` rows a query, each starting after the last
row's id), so an export of any size holds one batch in memory.

``iter_ticket_holders`` lists the attendees through ``ticketing.roster.iter_attendees``, the questions as columns.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from boxoffice import money
from boxoffice.attendees.models import Question
from boxoffice.db import Database
from boxoffice.ticketing import roster
from boxoffice.ticketing.models import Order

BATCH = 1000

ORDER_COLUMNS = (
    "order_id",
    "created_at",
    "status",
    "email",
    "name",
    "currency",
    "subtotal",
    "tip",
    "total",
    "refunded",
    "confirmed_at",
)
HOLDER_COLUMNS = (
    "ticket_id",
    "ticket_type",
    "ticket_status",
    "order_id",
    "email",
    "name",
    "order_status",
    "attendee_name",
    "attendee_email",
)


def _minor(cents: int, currency: str) -> str:
    """``1250, "usd"`` -> ``12.50`` (a plain number a spreadsheet can add up)."""
    exp = money.exponent(currency)
    return f"{Decimal(cents) / (10**exp):.{exp}f}" if exp else str(cents)


async def iter_order_rows(db: Database, event_id: str, *, batch: int = BATCH) -> AsyncIterator[list[Any]]:
    last = ""
    while True:
        async with db.read() as session:
            rows = (
                await session.execute(
                    select(
                        Order.id,
                        Order.created_at,
                        Order.status,
                        Order.email,
                        Order.name,
                        Order.currency,
                        Order.subtotal_cents,
                        Order.tip_cents,
                        Order.total_cents,
                        Order.refunded_cents,
                        Order.confirmed_at,
                    )
                    .where(Order.event_id == event_id, Order.id > last)
                    .order_by(Order.id)
                    .limit(batch)
                )
            ).all()
        for r in rows:
            yield [
                r.id,
                r.created_at.isoformat(),
                r.status,
                r.email,
                r.name,
                r.currency.upper(),
                _minor(r.subtotal_cents, r.currency),
                _minor(r.tip_cents, r.currency),
                _minor(r.total_cents, r.currency),
                _minor(r.refunded_cents, r.currency),
                r.confirmed_at.isoformat() if r.confirmed_at else "",
            ]
        if len(rows) < batch:
            return
        last = rows[-1].id


def attendee_header(questions: Sequence[Question]) -> list[str]:
    """``HOLDER_COLUMNS``, then one column per question (its label; a label two questions share, or a deleted
    question's, is told apart by the question's id: their answers stay readable)."""
    counts = Counter(q.label for q in questions)
    named = [q.label if counts[q.label] == 1 and q.deleted_at is None else f"{q.label} ({q.id})" for q in questions]
    return [*HOLDER_COLUMNS, *named]


def answer_cell(value: Any) -> str:
    """An answer as a spreadsheet cell: yes/no, several choices joined by ``; ``, codes (country, phone) as stored."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    return str(value)


async def iter_ticket_holders(
    db: Database, event_id: str, questions: Sequence[Question], *, batch: int = BATCH
) -> AsyncIterator[list[Any]]:
    """Every issued ticket of the event (void ones too: ``ticket_status``) with its buyer, its attendee and the
    answers, in ``attendee_header(questions)``'s columns: a per-ticket question's answer is the ticket's, a
    per-order question's its order's. Read through ``roster.iter_attendees`` a page of ``batch`` at a time."""
    async for entry in roster.iter_attendees(db, event_id, page_size=batch, include_void=True):
        answers = [
            answer_cell((entry.order_answers if q.scope == "order" else entry.ticket_answers).get(q.id))
            for q in questions
        ]
        yield [
            entry.ticket_id,
            entry.ticket_title,
            entry.ticket_status,
            entry.order_id,
            entry.buyer_email,
            entry.buyer_name,
            entry.order_status,
            entry.attendee_name,
            entry.attendee_email,
            *answers,
        ]
