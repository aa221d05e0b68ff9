"""Rows for the console's exports, read in keyset batches (``BATCH`` rows a query, each starting after the last
row's id), so an export of any size holds one batch in memory.

``iter_ticket_holders`` lists the attendees through ``ticketing.roster.iter_attendees``, the questions as columns.

The rows hold typed values: text, a ``datetime`` (timezone-aware UTC, ``TIME_COLUMNS``), an ``Amount`` (money in
minor units with its currency) or None. Each file format writes them its own way: ``plain`` is a cell's text (CSV).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
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
TIME_COLUMNS = frozenset({"created_at", "confirmed_at"})
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


@dataclass(frozen=True)
class Amount:
    """An amount of money in an export row (its currency is also the row's ``currency`` column)."""

    cents: int
    currency: str

    @property
    def exponent(self) -> int:
        return money.exponent(self.currency)

    @property
    def decimal(self) -> Decimal:
        """``1250 usd`` -> ``Decimal("12.50")``; ``1250 jpy`` -> ``Decimal("1250")`` (exact, never a float)."""
        exp = self.exponent
        return Decimal(self.cents).scaleb(-exp) if exp else Decimal(self.cents)

    def __str__(self) -> str:
        """``12.50``: a plain number a spreadsheet can add up."""
        return f"{self.decimal:.{self.exponent}f}"


def plain(value: object) -> str:
    """A cell as text: an amount as a plain number, a time in ISO 8601 (with its UTC offset), nothing as empty."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


async def iter_order_rows(db: Database, event_id: str, *, batch: int = BATCH) -> AsyncIterator[list[Any]]:
    """The event's orders in ``ORDER_COLUMNS``, by id."""
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
                r.created_at,
                r.status,
                r.email,
                r.name,
                r.currency.upper(),
                Amount(r.subtotal_cents, r.currency),
                Amount(r.tip_cents, r.currency),
                Amount(r.total_cents, r.currency),
                Amount(r.refunded_cents, r.currency),
                r.confirmed_at,
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
