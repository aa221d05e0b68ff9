"""The waiting list: people who arrive after a ticket type sold out join it, in order; tickets that come back go to
it first; each offer is a single-use code holding an entry's quantity for the event's offer time, passed on when
unused.

* Joining (``join``) needs a sold-out ticket type whose waiting list is on; one entry per email address and ticket
  type while it waits or holds an offer (a second join answers the first entry).
* Tickets that come back (a hold ends, an order is canceled or refunded, the organizer raises the quantity, a
  reservation ends) are held back for the waiting entries in the very UPDATE that returns them
  (``inventory._give_back``), so the public never sees them while someone waits, under any concurrency.
* ``waitlist_offers.hand_out`` (the worker, per ticket type, with the ticket type's row locked) offers what is held
  back to the entries in the order they joined, strictly: the first waiting entry gets the next offer as soon as
  enough tickets are held back for its whole quantity, and no later entry overtakes it (an organizer may send an
  offer by hand to any entry: ``offer_by_hand``). What is held back beyond what the entries wait for goes on sale.
* An offer is a voucher of kind ``waitlist`` (``max_uses`` and ``max_per_order`` = the entry's quantity) whose
  reservation holds the tickets until the offer expires; buying with it converts the entry (at confirmation,
  ``voucher_uses.convert_offer``); unused offers lapse (``waitlist_offers.lapse_offers``) and their tickets go to
  the next entries.
* Leaving (``leave``, through the link in the emails) ends an entry, and its offer if it has one.

Lock order, as everywhere in ticketing: voucher, then ticket type, then entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice import outbox
from boxoffice.clock import utcnow
from boxoffice.db import Database, insert_for
from boxoffice.errors import Conflict, ErrorCode, FieldError, InvalidInput, NotFound, SalesClosed
from boxoffice.events import service as events
from boxoffice.events.models import Event
from boxoffice.ids import new_id
from boxoffice.ticketing.inventory import Counters, _give_back, _record_availability, _rows
from boxoffice.ticketing.models import TicketType
from boxoffice.ticketing.plan import MAX_LINE_QUANTITY
from boxoffice.ticketing.ticket_types import availability
from boxoffice.ticketing.voucher_models import ACTIVE_WAITING, Voucher, WaitingListEntry
from boxoffice.ticketing.voucher_uses import lock_voucher

ACTIVE_WHERE = text("status IN ('waiting', 'offered')")


@dataclass(frozen=True)
class EntryView:
    entry: WaitingListEntry
    position: int | None  # 1: the next to get an offer; None once it no longer waits
    code: str | None = None  # its offer's code, once offered
    created: bool = True  # False: the email address was already on this list (its entry is answered)


class _Raced(Exception):
    """The entry changed between its read and its guarded update: the transaction is rolled back and redone."""


def _ahead(entry: WaitingListEntry) -> ColumnElement[bool]:
    """The waiting entries of the same ticket type that joined before ``entry`` (by time, then id)."""
    return and_(
        WaitingListEntry.ticket_type_id == entry.ticket_type_id,
        WaitingListEntry.status == "waiting",
        or_(
            WaitingListEntry.created_at < entry.created_at,
            and_(WaitingListEntry.created_at == entry.created_at, WaitingListEntry.id < entry.id),
        ),
    )


async def _position(session: AsyncSession, entry: WaitingListEntry) -> int | None:
    if entry.status != "waiting":
        return None
    ahead = await session.scalar(select(func.count()).select_from(WaitingListEntry).where(_ahead(entry)))
    return int(ahead or 0) + 1


def _payload(entry: WaitingListEntry, **extra: object) -> dict[str, object]:
    return {"entry_id": entry.id, "event_id": entry.event_id, "email": entry.email, **extra}


async def join(
    db: Database,
    event_id: str,
    *,
    email: str,
    name: str,
    ticket_type_id: str,
    quantity: int,
    now: datetime | None = None,
    max_quantity: int = MAX_LINE_QUANTITY,
) -> EntryView:
    """Put someone on a sold-out ticket type's waiting list (their confirmation email is queued, with the link to
    leave). The same email address already waiting (or holding an offer) gets its existing entry back."""
    now = now or utcnow()
    errors: list[FieldError] = []
    for check, value, field in ((events.normalize_email, email, "email"), (events.clean_name, name, "name")):
        try:
            check(value, field)
        except InvalidInput as exc:
            errors.extend(exc.errors)
    if errors:
        raise InvalidInput(errors)
    event = await events.get_public_event(db, event_id)
    async with db.read() as session:
        tt = (
            await session.scalars(
                select(TicketType).where(
                    TicketType.id == ticket_type_id, TicketType.event_id == event.id, TicketType.deleted_at.is_(None)
                )
            )
        ).one_or_none()
    if tt is None or tt.hidden:
        raise InvalidInput.one("ticket_id", "no such ticket type on sale for this event", code=ErrorCode.NOT_FOUND)
    limit = min(max_quantity, tt.max_per_order or max_quantity)
    if quantity > limit:
        raise InvalidInput.one(
            "quantity", f"at most {limit} of this ticket", (("maximum", limit),), code=ErrorCode.OVER_LIMIT
        )
    state = next(a for a in await availability(db, event.id, now=now) if a.ticket_type_id == tt.id)
    if state.sales_state in ("ended", "not_started"):
        reason = ErrorCode.SALES_ENDED if state.sales_state == "ended" else ErrorCode.NOT_STARTED
        raise SalesClosed(f"sales for {tt.title} are not open", field="ticket_id", reason=reason)
    if not tt.waiting_list:
        raise Conflict(f"{tt.title} has no waiting list", ticket_type_id=tt.id)
    if state.available > 0:
        raise Conflict(f"{tt.title} is on sale: buy it now", ticket_type_id=tt.id, available=state.available)
    normalized = events.normalize_email(email)
    async with db.transaction() as session:
        inserted = (
            await session.execute(
                insert_for(session, WaitingListEntry)
                .values(
                    id=new_id("wle"),
                    event_id=event.id,
                    ticket_type_id=tt.id,
                    email=email.strip(),
                    email_normalized=normalized,
                    name=events.clean_name(name),
                    quantity=quantity,
                    status="waiting",
                    created_at=now,
                    updated_at=now,
                )
                .on_conflict_do_nothing(
                    index_elements=["ticket_type_id", "email_normalized"],
                    index_where=ACTIVE_WHERE,  # the partial unique index's own predicate, as text
                )
                .returning(WaitingListEntry.id)
            )
        ).scalar_one_or_none()
        entry = (
            await session.scalars(
                select(WaitingListEntry).where(
                    WaitingListEntry.ticket_type_id == tt.id,
                    WaitingListEntry.email_normalized == normalized,
                    WaitingListEntry.status.in_(ACTIVE_WAITING),
                )
            )
        ).one()
        if inserted is not None:
            outbox.record(session, "waitlist.joined", [], _payload(entry))
        return EntryView(entry, await _position(session, entry), created=inserted is not None)


async def get_entry(db: Database, entry_id: str, *, organizer_id: str | None = None) -> EntryView:
    async with db.read() as session:
        stmt = select(WaitingListEntry, Voucher.code).outerjoin(Voucher, Voucher.id == WaitingListEntry.voucher_id)
        stmt = stmt.where(WaitingListEntry.id == entry_id)
        if organizer_id is not None:
            stmt = stmt.join(Event, Event.id == WaitingListEntry.event_id).where(Event.organizer_id == organizer_id)
        row = (await session.execute(stmt)).one_or_none()
        if row is None:
            raise NotFound("waiting-list entry not found")
        entry, code = row
        return EntryView(entry, await _position(session, entry), code)


async def list_entries(
    db: Database, event_id: str, *, ticket_type_id: str | None = None, status: str | None = None
) -> list[EntryView]:
    """The event's waiting-list entries in the order they joined, with their positions and offers."""
    async with db.read() as session:
        stmt = (
            select(WaitingListEntry, Voucher.code)
            .outerjoin(Voucher, Voucher.id == WaitingListEntry.voucher_id)
            .where(WaitingListEntry.event_id == event_id)
            .order_by(WaitingListEntry.created_at, WaitingListEntry.id)
        )
        if ticket_type_id is not None:
            stmt = stmt.where(WaitingListEntry.ticket_type_id == ticket_type_id)
        rows = (await session.execute(stmt)).all()
    out, positions = [], dict[str, int]()
    for entry, code in rows:
        position = None
        if entry.status == "waiting":
            position = positions[entry.ticket_type_id] = positions.get(entry.ticket_type_id, 0) + 1
        if status is None or entry.status == status:
            out.append(EntryView(entry, position, code))
    return out


async def _guarded(session: AsyncSession, entry: WaitingListEntry, source: str, **values: object) -> None:
    """Move an entry from ``source`` (as read) to new values; another change in the meantime redoes the work."""
    result = await session.execute(
        update(WaitingListEntry)
        .where(WaitingListEntry.id == entry.id, WaitingListEntry.status == source)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        raise _Raced


async def _end_offer(session: AsyncSession, voucher_id: str, now: datetime) -> dict[str, Counters]:
    """An offer ends (expired, or its entry left): its code stops working and the tickets its reservation still
    holds go back, to the next entries first."""
    voucher = await lock_voucher(session, voucher_id)
    if voucher is None:
        return {}
    left, tt_id = voucher.reserved_left, voucher.reserved_ticket_type_id
    voucher.reserved_left = 0
    if voucher.valid_until is None or voucher.valid_until > now:
        voucher.valid_until = now
    voucher.revision += 1
    await session.flush()
    if not left or tt_id is None:
        return {}
    return {tt_id: await _give_back(session, tt_id, returned=left, reserved=-left, now=now)}


async def leave(db: Database, entry_id: str, *, now: datetime | None = None) -> EntryView:
    """The person leaves the list (their offer, if they hold one, ends and passes on). Leaving twice is a no-op."""
    now = now or utcnow()
    for _ in range(5):
        view = await get_entry(db, entry_id)
        entry = view.entry
        if entry.status not in ACTIVE_WAITING:
            return view
        try:
            async with db.transaction() as session:
                counters: dict[str, Counters] = {}
                if entry.status == "offered" and entry.voucher_id:
                    counters = await _end_offer(session, entry.voucher_id, now)
                await _guarded(session, entry, entry.status, status="left", left_at=now, updated_at=now)
                if counters:
                    _record_availability(session, entry.event_id, _rows(counters))
            return await get_entry(db, entry_id)
        except _Raced:
            continue
    raise Conflict("this entry kept changing: try again")
