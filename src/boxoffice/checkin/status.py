"""What a list's scanners and its organizer read: the counts per ticket type, the check-in records (duplicates
flagged), and the offline copy a scanner keeps to decide without a network.

Counts: ``total`` is the tickets that admit at this list (valid tickets of paid orders, of the list's ticket types);
``checked_in`` the admissions not undone (a ticket refunded after it came in stays counted: the person is in);
``duplicates`` the second admissions that offline devices made and uploaded (counted apart, never in
``checked_in``).

The offline copy carries, per ticket of the list's event, a SHA-256 digest of its current code (never the code), its
state, its holder and its admission. Its ``version`` is a digest of what the copy is made of (the list, the event's
orders, tickets and ticket types, the list's check-ins), read before the copy, so a scanner polls the version (an
``ETag``) and fetches the copy only when it changed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, false, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from boxoffice.checkin.attendees import holder_name
from boxoffice.checkin.lists import load_list, reachable_lists, require_manager, rules_of
from boxoffice.checkin.models import Checkin, CheckinList
from boxoffice.checkin.rules import Result, Scanner, code_digest, ticket_refusal
from boxoffice.db import Database
from boxoffice.events.models import Event
from boxoffice.notifications.codes import ticket_code
from boxoffice.ticketing.models import SOLD_STATUSES, Order, Ticket, TicketType


@dataclass(frozen=True)
class TypeCount:
    ticket_type_id: str
    title: str
    checked_in: int
    duplicates: int
    total: int


@dataclass(frozen=True)
class ListStatus:
    list_id: str
    checked_in: int
    duplicates: int
    total: int
    ticket_types: list[TypeCount]


async def list_status(db: Database, list_id: str, scanner: Scanner) -> ListStatus:
    async with db.read() as session:
        lst, _ = await load_list(session, list_id, scanner)
        rules = rules_of(lst)
        types = (
            await session.execute(
                select(TicketType.id, TicketType.title, TicketType.deleted_at)
                .where(TicketType.event_id == lst.event_id)
                .order_by(TicketType.position, TicketType.created_at, TicketType.id)
            )
        ).all()
        totals: dict[str, int] = {
            tt_id: int(n)
            for tt_id, n in (
                await session.execute(
                    select(Ticket.ticket_type_id, func.count())
                    .join(Order, Order.id == Ticket.order_id)
                    .where(Order.event_id == lst.event_id, Order.status.in_(SOLD_STATUSES), Ticket.status == "valid")
                    .group_by(Ticket.ticket_type_id)
                )
            )
        }
        counts: dict[tuple[str, bool], int] = {
            (tt_id, bool(duplicate)): int(n)
            for tt_id, duplicate, n in (
                await session.execute(
                    select(Checkin.ticket_type_id, Checkin.duplicate, func.count())
                    .where(Checkin.list_id == lst.id, Checkin.undone_at.is_(None))
                    .group_by(Checkin.ticket_type_id, Checkin.duplicate)
                )
            )
        }
    out = []
    for tt_id, title, deleted_at in types:
        admitted, doubled = counts.get((tt_id, False), 0), counts.get((tt_id, True), 0)
        total = totals.get(tt_id, 0) if rules.admits_type(tt_id) else 0
        if not rules.admits_type(tt_id) and not admitted and not doubled:
            continue
        if deleted_at is not None and not (total or admitted or doubled):
            continue
        out.append(TypeCount(tt_id, title, admitted, doubled, total))
    return ListStatus(
        lst.id,
        sum(t.checked_in for t in out),
        sum(t.duplicates for t in out),
        sum(t.total for t in out),
        out,
    )


async def event_counts(db: Database, event_id: str, scanner: Scanner) -> list[tuple[CheckinList, ListStatus]]:
    """Each list of the event the scanner reaches, with its counts (the console's check-in page and dashboard)."""
    return [(lst, await list_status(db, lst.id, scanner)) for lst in await reachable_lists(db, event_id, scanner)]


@dataclass(frozen=True)
class Record:
    """A check-in as the organizer reads it."""

    id: str
    ticket_id: str
    ticket_type_id: str
    ticket_type: str
    holder_name: str
    order_id: str
    scanned_at: datetime
    received_at: datetime
    device: str
    manual: bool
    duplicate: bool
    undone_at: datetime | None


async def list_checkins(
    db: Database, list_id: str, scanner: Scanner, *, duplicate: bool | None = None, limit: int = 100, offset: int = 0
) -> list[Record]:
    """The list's check-ins, newest first (``duplicate``: only the flagged duplicates, or only the others)."""
    require_manager(scanner)
    async with db.read() as session:
        lst, _ = await load_list(session, list_id, scanner)
        stmt = (
            select(Checkin, TicketType.title, Order.id, Order.name, Order.email)
            .join(Ticket, Ticket.id == Checkin.ticket_id)
            .join(Order, Order.id == Ticket.order_id)
            .join(TicketType, TicketType.id == Checkin.ticket_type_id)
            .where(Checkin.list_id == lst.id)
        )
        if duplicate is not None:
            stmt = stmt.where(Checkin.duplicate == duplicate)
        rows = (
            await session.execute(
                stmt.order_by(Checkin.received_at.desc(), Checkin.id.desc()).limit(limit).offset(offset)
            )
        ).all()
    return [
        Record(
            c.id,
            c.ticket_id,
            c.ticket_type_id,
            title,
            holder_name(name, email),
            order_id,
            c.scanned_at,
            c.received_at,
            c.device_label,
            c.manual,
            c.duplicate,
            c.undone_at,
        )
        for c, title, order_id, name, email in rows
    ]


@dataclass(frozen=True)
class OfflineTicket:
    id: str
    ticket_type_id: str
    digest: str  # SHA-256 (hex) of the ticket's current code
    state: Result  # what a scan answers today, window and admissions aside: ok, canceled, refunded, not_paid...
    holder_name: str
    order_id: str
    checked_in_at: datetime | None


@dataclass(frozen=True)
class OfflineCopy:
    version: str
    checkin_list: CheckinList
    event: Event
    ticket_types: list[tuple[str, str]]  # (id, title)
    tickets: list[OfflineTicket]


async def offline_version(db: Database, list_id: str, scanner: Scanner) -> str:
    """The copy's version: it changes whenever the copy would (see the module's docstring)."""
    async with db.read() as session:
        lst, _ = await load_list(session, list_id, scanner)
        return await _version(session, lst)


async def _version(session: AsyncSession, lst: CheckinList) -> str:
    of_event = Order.event_id == lst.event_id
    parts = (
        select(func.count(), func.max(Checkin.received_at), func.count(Checkin.undone_at), func.max(Checkin.undone_at))
        .where(Checkin.list_id == lst.id)
        .subquery(),
        select(func.count(), func.max(Order.updated_at)).where(of_event).subquery(),
        select(func.count(), func.coalesce(func.sum(Ticket.code_version), 0))
        .join(Order, Order.id == Ticket.order_id)
        .where(of_event)
        .subquery(),
        select(func.count(), func.max(TicketType.updated_at)).where(TicketType.event_id == lst.event_id).subquery(),
    )
    joined = parts[0].join(parts[1], true()).join(parts[2], true()).join(parts[3], true())  # one row each
    row = (await session.execute(select(*(column for part in parts for column in part.c)).select_from(joined))).one()
    material = "|".join([lst.id, str(lst.revision), *(str(value) for value in row)])
    return hashlib.sha256(material.encode()).hexdigest()[:20]


async def offline_copy(db: Database, list_id: str, scanner: Scanner, *, keys: Sequence[bytes]) -> OfflineCopy:
    """The list's offline copy; ``keys[0]`` is the key that signs the current codes."""
    admitted = aliased(Checkin)
    async with db.read() as session:
        lst, event = await load_list(session, list_id, scanner)
        version = await _version(session, lst)
        types = (
            await session.execute(
                select(TicketType.id, TicketType.title)
                .where(TicketType.event_id == lst.event_id)
                .order_by(TicketType.position, TicketType.created_at, TicketType.id)
            )
        ).all()
        rows = (
            await session.execute(
                select(
                    Ticket.id,
                    Ticket.ticket_type_id,
                    Ticket.status,
                    Ticket.code_version,
                    Order.id,
                    Order.status,
                    Order.name,
                    Order.email,
                    admitted.scanned_at,
                )
                .join(Order, Order.id == Ticket.order_id)
                .outerjoin(
                    admitted,
                    and_(
                        admitted.list_id == lst.id,
                        admitted.ticket_id == Ticket.id,
                        admitted.undone_at.is_(None),
                        admitted.duplicate == false(),
                    ),
                )
                .where(Order.event_id == lst.event_id)
                .order_by(Ticket.id)
            )
        ).all()
    rules = rules_of(lst)
    tickets = []
    for ticket_id, tt_id, status, version_of_code, order_id, order_status, name, email, checked_in_at in rows:
        state = ticket_refusal(status, order_status)
        if state is None and not rules.admits_type(tt_id):
            state = Result.NOT_ON_LIST
        tickets.append(
            OfflineTicket(
                ticket_id,
                tt_id,
                code_digest(ticket_code(ticket_id, version_of_code, keys[0])),
                state or Result.OK,
                holder_name(name, email),
                order_id,
                checked_in_at,
            )
        )
    return OfflineCopy(version, lst, event, [(t_id, title) for t_id, title in types], tickets)
