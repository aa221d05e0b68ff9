"""The attendees and answers of orders, in the caller's transaction: written with the order, linked to the tickets
when they are issued, read back for the order's views, changed by self-service."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.attendees import rules
from boxoffice.attendees.models import Attendee, OrderAnswers
from boxoffice.db import insert_for
from boxoffice.ids import new_id


@dataclass
class OrderDetails:
    """An order's answers, and its attendees by (order line id, unit)."""

    answers: dict[str, Any] = field(default_factory=dict)
    attendees: dict[tuple[str, int], Attendee] = field(default_factory=dict)

    def by_ticket(self) -> dict[str, Attendee]:
        return {a.ticket_id: a for a in self.attendees.values() if a.ticket_id is not None}


def add_order_details(
    session: AsyncSession,
    *,
    order_id: str,
    event_id: str,
    line_ids: Sequence[str],
    details: rules.Details,
    now: datetime,
) -> None:
    """Write an order's cleaned details (its lines' ids in the order of ``details.lines``) with the order."""
    if details.answers:
        session.add(
            OrderAnswers(order_id=order_id, event_id=event_id, answers=details.answers, created_at=now, updated_at=now)
        )
    for line_id, attendees in zip(line_ids, details.lines, strict=True):
        for unit, attendee in enumerate(attendees):
            if attendee.blank:
                continue  # nothing given for this ticket: no row (a later change or transfer writes one)
            session.add(
                Attendee(
                    id=new_id("att"),
                    event_id=event_id,
                    order_id=order_id,
                    order_line_id=line_id,
                    unit=unit,
                    name=attendee.name,
                    email=attendee.email,
                    answers=attendee.answers,
                    created_at=now,
                    updated_at=now,
                )
            )


async def link_tickets(
    session: AsyncSession, order_id: str, issued: Mapping[tuple[str, int], str], now: datetime
) -> list[Attendee]:
    """Each attendee of the order gets the ticket issued for its (line, unit); returns the attendees linked."""
    attendees = list(
        (
            await session.scalars(
                select(Attendee).where(Attendee.order_id == order_id).execution_options(populate_existing=True)
            )
        ).all()
    )
    for attendee in attendees:
        ticket_id = issued.get((attendee.order_line_id, attendee.unit))
        if ticket_id is not None and attendee.ticket_id is None:
            attendee.ticket_id = ticket_id
            attendee.updated_at = now
    await session.flush()
    return [a for a in attendees if a.ticket_id is not None]


async def read_order_details(session: AsyncSession, order_id: str) -> OrderDetails:
    return (await read_details_of(session, [order_id]))[order_id]


async def read_details_of(session: AsyncSession, order_ids: Iterable[str]) -> dict[str, OrderDetails]:
    """The details of several orders in two queries (an order without any has empty ones)."""
    ids = sorted(set(order_ids))
    out = {order_id: OrderDetails() for order_id in ids}
    if not ids:
        return out
    for row in (await session.scalars(select(OrderAnswers).where(OrderAnswers.order_id.in_(ids)))).all():
        out[row.order_id].answers = dict(row.answers or {})
    attendees = await session.scalars(
        select(Attendee).where(Attendee.order_id.in_(ids)).order_by(Attendee.order_line_id, Attendee.unit)
    )
    for attendee in attendees.all():
        out[attendee.order_id].attendees[(attendee.order_line_id, attendee.unit)] = attendee
    return out


async def save_order_answers(
    session: AsyncSession, *, order_id: str, event_id: str, answers: dict[str, Any], now: datetime
) -> None:
    """Replace an order's answers (one statement, safe against a concurrent first write)."""
    stmt = insert_for(session, OrderAnswers).values(
        order_id=order_id, event_id=event_id, answers=answers, created_at=now, updated_at=now
    )
    await session.execute(
        stmt.on_conflict_do_update(index_elements=["order_id"], set_={"answers": answers, "updated_at": now})
    )


async def attendee_of_ticket(session: AsyncSession, ticket_id: str, *, for_update: bool = False) -> Attendee | None:
    stmt = select(Attendee).where(Attendee.ticket_id == ticket_id).execution_options(populate_existing=True)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.scalars(stmt)).one_or_none()


async def set_attendee(session: AsyncSession, attendee_id: str, *, now: datetime, **values: Any) -> None:
    await session.execute(
        update(Attendee)
        .where(Attendee.id == attendee_id)
        .values(updated_at=now, **values)
        .execution_options(synchronize_session=False)
    )
