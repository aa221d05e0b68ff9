"""Waiting-list offers: the worker hands out what is held back for a ticket type's waiting list to its entries,
strictly in the order they joined (``hand_out``); organizers send an offer by hand (``offer_by_hand``); unused offers
lapse and pass on (``lapse_offers``). The list itself (joining, reading, leaving) is ``ticketing.waitlist``.

Lock order, as everywhere in ticketing: voucher, then ticket type, then entry.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice import outbox
from boxoffice.clock import utcnow
from boxoffice.db import Database
from boxoffice.errors import Conflict, SoldOut
from boxoffice.events import service as events
from boxoffice.events.models import Event
from boxoffice.ids import new_id
from boxoffice.ticketing import vouchers as rules
from boxoffice.ticketing.inventory import PUBLIC_LEFT, _record_availability, _rows
from boxoffice.ticketing.models import TicketType
from boxoffice.ticketing.voucher_models import Voucher, WaitingListEntry
from boxoffice.ticketing.waitlist import EntryView, _end_offer, _guarded, _payload, _Raced, get_entry

OFFER_PREFIX = "WAIT-"


async def _lock_ticket_type(session: AsyncSession, ticket_type_id: str) -> TicketType:
    return (
        await session.scalars(
            select(TicketType)
            .where(TicketType.id == ticket_type_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).one()


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
