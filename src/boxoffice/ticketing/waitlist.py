"""The waiting list: people who arrive after a ticket type sold out join it, in order; tickets that come back go to
it first; each offer is a single-use code holding an entry's quantity for the event's offer time, passed on when
unused.

* Joining (``join``) needs a sold-out ticket type whose waiting list is on; one entry per email address and ticket
  type while it waits or holds an offer (a second join answers the first entry).
* Tickets that come back (a hold ends, an order is canceled or refunded, the organizer raises the quantity, a
  reservation ends) are held back for the waiting entries in the very UPDATE that returns them
  (``inventory._give_back``), so the public never sees them while someone waits, under any concurrency.
* ``hand_out`` (the worker, per ticket type, with the ticket type's row locked) offers what is held back to the
  entries in the order they joined, strictly: the first waiting entry gets the next offer as soon as enough tickets
  are held back for its whole quantity, and no later entry overtakes it (an organizer may send an offer by hand to
  any entry: ``offer_by_hand``). What is held back beyond what the entries wait for goes on sale.
* An offer is a voucher of kind ``waitlist`` (``max_uses`` and ``max_per_order`` = the entry's quantity) whose
  reservation holds the tickets until the offer expires; buying with it converts the entry (at confirmation,
  ``voucher_uses.convert_offer``); ``lapse_offers`` ends unused offers and their tickets go to the next entries.
* Leaving (``leave``, through the link in the emails) ends an entry, and its offer if it has one.

Lock order, as everywhere in ticketing: voucher, then ticket type, then entry.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice import outbox
from boxoffice.clock import utcnow
from boxoffice.db import Database, insert_for
from boxoffice.errors import Conflict, ErrorCode, FieldError, InvalidInput, NotFound, SalesClosed, SoldOut
from boxoffice.events import service as events
from boxoffice.events.models import Event
from boxoffice.ids import new_id
from boxoffice.ticketing import vouchers as rules
from boxoffice.ticketing.inventory import PUBLIC_LEFT, Counters, _give_back, _record_availability, _rows
from boxoffice.ticketing.models import TicketType
from boxoffice.ticketing.plan import MAX_LINE_QUANTITY
from boxoffice.ticketing.ticket_types import availability
from boxoffice.ticketing.voucher_models import ACTIVE_WAITING, Voucher, WaitingListEntry
from boxoffice.ticketing.voucher_uses import lock_voucher

OFFER_PREFIX = "WAIT-"
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


async def _lock_ticket_type(session: AsyncSession, ticket_type_id: str) -> TicketType:
    return (
        await session.scalars(
            select(TicketType)
            .where(TicketType.id == ticket_type_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).one()


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


async def _offer(
    session: AsyncSession, entry: WaitingListEntry, tt: TicketType, event: Event, now: datetime, source: str
) -> Voucher:
    """Make the entry's offer: a single-use code whose reservation holds its quantity (the caller has set those
    tickets aside: ``reserved_count`` counts them), until the event's offer time has passed."""
    code = OFFER_PREFIX + "".join(secrets.choice(rules.CODE_ALPHABET) for _ in range(rules.GENERATED_LENGTH))
    until = now + timedelta(minutes=event.waiting_list_offer_minutes)
    voucher = Voucher(
        id=new_id("vch"),
        event_id=event.id,
        kind="waitlist",
        code=code,
        code_normalized=rules.normalize_code(code),
        discount=None,
        ticket_type_ids=[tt.id],
        unlocks=[],
        max_uses=entry.quantity,
        uses_taken=0,
        max_per_order=entry.quantity,
        valid_until=until,
        reserve=entry.quantity,
        reserved_ticket_type_id=tt.id,
        reserved_left=entry.quantity,
        note=f"waiting-list offer for {entry.email}",
        revision=0,
        created_at=now,
        updated_at=now,
    )
    session.add(voucher)
    await session.flush()
    await _guarded(
        session,
        entry,
        source,
        status="offered",
        voucher_id=voucher.id,
        offered_at=now,
        offer_expires_at=until,
        updated_at=now,
    )
    outbox.record(session, "waitlist.offered", [], _payload(entry, voucher_id=voucher.id))
    return voucher


def _can_offer(tt: TicketType, event: Event, now: datetime) -> bool:
    return (
        tt.waiting_list
        and tt.deleted_at is None
        and event.status == "published"
        and now < (tt.ends_at or event.ends_at)
    )


async def hand_out(db: Database, ticket_type_id: str, *, now: datetime | None = None) -> int:
    """Offer the tickets held back for a ticket type's waiting list to its entries, strictly in order; give what
    no entry waits for back to the public. Returns how many offers were made."""
    given = now
    for _ in range(5):
        try:
            async with db.transaction() as session:
                tt = await _lock_ticket_type(session, ticket_type_id)
                now = given or utcnow()  # read under the lock: offers are stamped in the order they are made
                event = await events.load_event(session, tt.event_id)
                waiting = list(
                    (
                        await session.scalars(
                            select(WaitingListEntry)
                            .where(WaitingListEntry.ticket_type_id == tt.id, WaitingListEntry.status == "waiting")
                            .order_by(WaitingListEntry.created_at, WaitingListEntry.id)
                        )
                    ).all()
                )
                held_back, offered = tt.waitlist_count, 0
                if _can_offer(tt, event, now):
                    for entry in waiting:
                        if entry.quantity > held_back:
                            break  # strict order: nobody overtakes the first waiting entry
                        await _offer(session, entry, tt, event, now, "waiting")
                        held_back -= entry.quantity
                        offered += 1
                    wanted = sum(e.quantity for e in waiting[offered:])
                else:
                    wanted = 0
                excess = max(held_back - wanted, 0)
                if held_back != tt.waitlist_count or excess:
                    await session.execute(
                        update(TicketType)
                        .where(TicketType.id == tt.id)
                        .values(
                            waitlist_count=held_back - excess,
                            reserved_count=TicketType.reserved_count - excess,
                            updated_at=now,
                        )
                        .execution_options(synchronize_session=False)
                    )
                if excess:
                    counters = (tt.quantity, tt.sold_count, tt.held_count, tt.reserved_count - excess)
                    _record_availability(session, tt.event_id, _rows({tt.id: counters}))
            return offered
        except _Raced:
            continue
    return 0


async def offer_by_hand(
    db: Database, entry_id: str, *, organizer_id: str | None = None, now: datetime | None = None
) -> EntryView:
    """The organizer sends an entry its offer now, whatever its place (a waiting entry, or one whose offer
    expired): its quantity comes from the tickets held back for the list first, then from what the public can buy
    (409 when there are not enough)."""
    now = now or utcnow()
    view = await get_entry(db, entry_id, organizer_id=organizer_id)
    entry = view.entry
    if entry.status not in ("waiting", "expired"):
        raise Conflict(f"this entry is {entry.status}: only a waiting entry, or one whose offer expired, gets one")
    try:
        async with db.transaction() as session:
            tt = await _lock_ticket_type(session, entry.ticket_type_id)
            event = await events.load_event(session, tt.event_id)
            from_list = min(entry.quantity, tt.waitlist_count)
            from_public = entry.quantity - from_list
            public_left = max(tt.quantity - tt.sold_count - tt.held_count - tt.reserved_count, 0)
            if from_public > public_left:
                raise SoldOut(
                    f"only {from_list + public_left} tickets can be offered now",
                    ticket_type_id=tt.id,
                    available=from_list + public_left,
                )
            await session.execute(
                update(TicketType)
                .where(TicketType.id == tt.id, from_public <= PUBLIC_LEFT)
                .values(
                    waitlist_count=TicketType.waitlist_count - from_list,
                    reserved_count=TicketType.reserved_count + from_public,
                    updated_at=now,
                )
                .execution_options(synchronize_session=False)
            )
            await _offer(session, entry, tt, event, now, entry.status)
            if from_public:
                counters = (tt.quantity, tt.sold_count, tt.held_count, tt.reserved_count + from_public)
                _record_availability(session, tt.event_id, _rows({tt.id: counters}))
    except _Raced:
        raise Conflict("this entry changed meanwhile: read it again") from None
    return await get_entry(db, entry_id)


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


async def lapse_offers(db: Database, *, now: datetime | None = None, limit: int = 200) -> int:
    """Unused offers whose time has passed expire: their tickets go to the next entries. Returns how many."""
    now = now or utcnow()
    async with db.read() as session:
        due = list(
            (
                await session.scalars(
                    select(WaitingListEntry)
                    .where(WaitingListEntry.status == "offered", WaitingListEntry.offer_expires_at <= now)
                    .order_by(WaitingListEntry.offer_expires_at)
                    .limit(limit)
                )
            ).all()
        )
    lapsed = 0
    for entry in due:
        try:
            async with db.transaction() as session:
                counters = await _end_offer(session, entry.voucher_id, now) if entry.voucher_id else {}
                await _guarded(session, entry, "offered", status="expired", updated_at=now)
                if counters:
                    _record_availability(session, entry.event_id, _rows(counters))
            lapsed += 1
        except _Raced:
            continue  # converted or left meanwhile
    return lapsed


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


async def ticket_types_to_hand_out(db: Database) -> list[str]:
    """Ticket types with tickets held back for their waiting list."""
    async with db.read() as session:
        return list((await session.scalars(select(TicketType.id).where(TicketType.waitlist_count > 0))).all())


async def run_once(db: Database, *, now: datetime | None = None) -> dict[str, int]:
    """One round of the waiting list's worker: expire unused offers, then hand out what is held back."""
    now = now or utcnow()
    lapsed = await lapse_offers(db, now=now)
    offered = 0
    for ticket_type_id in await ticket_types_to_hand_out(db):
        offered += await hand_out(db, ticket_type_id, now=now)
    return {"offers_lapsed": lapsed, "offers_made": offered}
