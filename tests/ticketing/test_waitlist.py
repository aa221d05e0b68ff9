"""The waiting list on SQLite and PostgreSQL: joining a sold-out ticket type, tickets coming back held for the
entries (never sold to the public while someone waits), offers strictly in order, used, lapsed, left, by hand."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from boxoffice.clock import utcnow
from boxoffice.db import Database
from boxoffice.errors import Conflict, ErrorCode, InvalidInput, SoldOut, VoucherUnavailable
from boxoffice.ids import new_id
from boxoffice.ticketing import waitlist, waitlist_offers
from boxoffice.ticketing.orders import cancel_order, confirm_order, expire_order, fail_order, record_refund
from boxoffice.ticketing.reserve import reserve
from boxoffice.ticketing.ticket_types import availability, get_ticket_type, update_ticket_type
from boxoffice.ticketing.voucher_codes import get_voucher
from boxoffice.ticketing.voucher_models import WaitingListEntry
from tests.helpers import counters, make_event, make_ticket, order_request, unique_email


async def sold_out_sale(db: Database, quantity: int = 4) -> tuple[str, str, list[str]]:
    """An event with one ticket type whose ``quantity`` tickets are all held, one per pending order."""
    event = await make_event(db)
    tt = await make_ticket(db, event.id, quantity=quantity)
    orders = [(await reserve(db, order_request(event.id, (tt.id, 1)))).id for _ in range(quantity)]
    return event.id, tt.id, orders


async def join(db: Database, event_id: str, tt_id: str, quantity: int = 1, email: str = "") -> waitlist.EntryView:
    return await waitlist.join(
        db, event_id, email=email or unique_email("wait"), name="Wai Ting", ticket_type_id=tt_id, quantity=quantity
    )


async def public_left(db: Database, event_id: str) -> int:
    return (await availability(db, event_id))[0].available


async def statuses(db: Database, event_id: str) -> list[tuple[str, int | None]]:
    return [(v.entry.status, v.position) for v in await waitlist.list_entries(db, event_id)]


async def test_joining_needs_a_sell_out_and_answers_the_place_in_line(db: Database) -> None:
    event = await make_event(db)
    tt = await make_ticket(db, event.id, quantity=2)
    with pytest.raises(Conflict):  # on sale: buy instead
        await join(db, event.id, tt.id)
    await reserve(db, order_request(event.id, (tt.id, 2)))
    first = await join(db, event.id, tt.id, 2, email="First@Example.com")
    second = await join(db, event.id, tt.id)
    again = await join(db, event.id, tt.id, 1, email="first@example.com")
    assert (first.position, second.position) == (1, 2)
    assert again.entry.id == first.entry.id and not again.created and again.entry.quantity == 2
    with pytest.raises(InvalidInput) as bad:
        await join(db, event.id, tt.id, 51)
    assert bad.value.errors[0].code == ErrorCode.OVER_LIMIT
    await update_ticket_type(db, tt.id, {"waiting_list": False})
    with pytest.raises(Conflict):
        await join(db, event.id, tt.id)


async def test_returned_tickets_wait_for_the_entries_and_are_offered_strictly_in_order(db: Database) -> None:
    event_id, tt_id, orders = await sold_out_sale(db)
    pair = await join(db, event_id, tt_id, 2)
    single = await join(db, event_id, tt_id, 1)
    await expire_order(db, orders[0], force=True)
    # held back for the list: the public cannot buy it, and the first entry (two tickets) is not offered one
    assert await public_left(db, event_id) == 0
    with pytest.raises(SoldOut):
        await reserve(db, order_request(event_id, (tt_id, 1)))
    assert await waitlist_offers.hand_out(db, tt_id) == 0
    assert await statuses(db, event_id) == [("waiting", 1), ("waiting", 2)]
    await expire_order(db, orders[1], force=True)
    assert await waitlist_offers.hand_out(db, tt_id) == 1
    offered = await waitlist.get_entry(db, pair.entry.id)
    assert offered.entry.status == "offered" and offered.code is not None and offered.code.startswith("WAIT-")
    await expire_order(db, orders[2], force=True)
    assert await waitlist_offers.hand_out(db, tt_id) == 1
    assert await statuses(db, event_id) == [("offered", None), ("offered", None)]
    # nobody waits any more: the last one goes on sale
    await expire_order(db, orders[3], force=True)
    assert await public_left(db, event_id) == 1
    tt = await get_ticket_type(db, tt_id)
    assert (tt.reserved_count, tt.waitlist_count) == (3, 0)
    # the pair buys with its code, from the offer's reservation, and is converted when paid
    assert offered.code is not None
    bought = await reserve(db, dataclasses.replace(order_request(event_id, (tt_id, 2)), voucher=offered.code.lower()))
    await confirm_order(db, bought.id, payment_intent_id=new_id("pi"))
    assert (await waitlist.get_entry(db, pair.entry.id)).entry.status == "converted"
    with pytest.raises(VoucherUnavailable):  # single use
        await reserve(db, dataclasses.replace(order_request(event_id, (tt_id, 1)), voucher=offered.code))
    assert (await waitlist.get_entry(db, single.entry.id)).entry.status == "offered"


async def test_an_unused_offer_passes_to_the_next_entry(db: Database) -> None:
    event_id, tt_id, orders = await sold_out_sale(db, quantity=2)
    first = await join(db, event_id, tt_id)
    second = await join(db, event_id, tt_id)
    await expire_order(db, orders[0], force=True)
    assert (await waitlist_offers.run_once(db))["offers_made"] >= 1  # the worker's round covers every event
    assert (await waitlist.get_entry(db, first.entry.id)).entry.status == "offered"
    later = utcnow() + timedelta(days=1, minutes=1)
    await waitlist_offers.run_once(db, now=later)
    assert (await waitlist.get_entry(db, first.entry.id)).entry.status == "expired"
    passed = await waitlist.get_entry(db, second.entry.id)
    assert passed.entry.status == "offered"
    voucher = await get_voucher(db, passed.entry.voucher_id or "")
    assert (voucher.max_uses, voucher.reserved_left, voucher.kind) == (1, 1, "waitlist")
    old = await get_voucher(db, (await waitlist.get_entry(db, first.entry.id)).entry.voucher_id or "")
    assert old.reserved_left == 0
    assert await counters(db, tt_id) == (2, 0, 1)


async def test_leaving_ends_the_offer_and_passes_it_on(db: Database) -> None:
    event_id, tt_id, orders = await sold_out_sale(db, quantity=2)
    first = await join(db, event_id, tt_id)
    second = await join(db, event_id, tt_id)
    await expire_order(db, orders[0], force=True)
    await waitlist_offers.hand_out(db, tt_id)
    left = await waitlist.leave(db, first.entry.id)
    assert left.entry.status == "left" and (await waitlist.leave(db, first.entry.id)).entry.status == "left"
    assert (await waitlist.get_entry(db, second.entry.id)).entry.status == "waiting"  # held back for it meanwhile
    assert await public_left(db, event_id) == 0
    await waitlist_offers.hand_out(db, tt_id)
    assert (await waitlist.get_entry(db, second.entry.id)).entry.status == "offered"


async def test_refunds_and_raised_quantities_come_back_to_the_list_and_what_nobody_waits_for_goes_on_sale(
    db: Database,
) -> None:
    event_id, tt_id, orders = await sold_out_sale(db, quantity=2)
    await confirm_order(db, orders[0], payment_intent_id=new_id("pi"))
    entry = await join(db, event_id, tt_id, 2)
    await record_refund(db, orders[0], 1500)
    await update_ticket_type(db, tt_id, {"quantity": 4})
    tt = await get_ticket_type(db, tt_id)
    assert (tt.waitlist_count, tt.reserved_count) == (2, 2)  # two for the entry, the third on sale
    assert await public_left(db, event_id) == 1
    await waitlist.leave(db, entry.entry.id)
    assert await waitlist_offers.hand_out(db, tt_id) == 0  # nobody waits: the tickets held back go on sale
    assert await public_left(db, event_id) == 3


async def test_canceled_and_failed_orders_come_back_to_the_list_once(db: Database) -> None:
    event_id, tt_id, orders = await sold_out_sale(db, quantity=3)
    first, second = await join(db, event_id, tt_id, 1), await join(db, event_id, tt_id, 1)
    for _ in range(2):  # a repeated transition gives nothing back twice
        await cancel_order(db, orders[0])
        await fail_order(db, orders[1], reason="declined")
    tt = await get_ticket_type(db, tt_id)
    assert (tt.held_count, tt.waitlist_count) == (1, 2) and await public_left(db, event_id) == 0
    assert await waitlist_offers.hand_out(db, tt_id) == 2
    assert [status for status, _ in await statuses(db, event_id)] == ["offered", "offered"]
    assert (await waitlist.get_entry(db, first.entry.id)).entry.offered_at is not None
    assert (await waitlist.get_entry(db, second.entry.id)).entry.status == "offered"
    tt = await get_ticket_type(db, tt_id)
    assert (tt.held_count, tt.waitlist_count, tt.reserved_count) == (1, 0, 2)


async def test_switching_the_list_off_puts_held_back_tickets_on_sale(db: Database) -> None:
    event_id, tt_id, orders = await sold_out_sale(db, quantity=2)
    await join(db, event_id, tt_id, 2)
    await expire_order(db, orders[0], force=True)
    assert await public_left(db, event_id) == 0
    await update_ticket_type(db, tt_id, {"waiting_list": False})
    assert await public_left(db, event_id) == 1
    await expire_order(db, orders[1], force=True)
    assert await public_left(db, event_id) == 2


async def test_an_organizer_offers_by_hand_from_what_is_held_back_then_from_the_public(db: Database) -> None:
    event_id, tt_id, orders = await sold_out_sale(db, quantity=3)
    first = await join(db, event_id, tt_id, 2)
    second = await join(db, event_id, tt_id, 1)
    with pytest.raises(SoldOut):
        await waitlist_offers.offer_by_hand(db, second.entry.id)
    await expire_order(db, orders[0], force=True)
    sent = await waitlist_offers.offer_by_hand(db, second.entry.id)  # overtakes the first, by the organizer's choice
    assert sent.entry.status == "offered"
    assert (await waitlist.get_entry(db, first.entry.id)).position == 1
    with pytest.raises(Conflict):
        await waitlist_offers.offer_by_hand(db, second.entry.id)
    await update_ticket_type(db, tt_id, {"waiting_list": False})  # nothing held back from here on
    await expire_order(db, orders[1], force=True)
    await expire_order(db, orders[2], force=True)
    assert await public_left(db, event_id) == 2
    await waitlist_offers.offer_by_hand(db, first.entry.id)
    assert await public_left(db, event_id) == 0
    assert await counters(db, tt_id) == (3, 0, 0)
    tt = await get_ticket_type(db, tt_id)
    assert (tt.reserved_count, tt.waitlist_count) == (3, 0)


async def test_the_entry_rows_stay_unique_per_email_while_active(db: Database) -> None:
    event_id, tt_id, _ = await sold_out_sale(db, quantity=1)
    email = unique_email("again")
    entry = await join(db, event_id, tt_id, email=email)
    await waitlist.leave(db, entry.entry.id)
    back = await join(db, event_id, tt_id, email=email)  # after leaving, joining again is a new entry, at the end
    assert back.entry.id != entry.entry.id and back.created
    assert [v.entry.status for v in await waitlist.list_entries(db, event_id)] == ["left", "waiting"]
    assert isinstance(back.entry, WaitingListEntry)
