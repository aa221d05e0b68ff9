"""The waiting list under concurrency on a real PostgreSQL: holds expire while new buyers arrive and the worker hands
out offers, all at once; then offers are used and others lapse while buyers keep arriving. The public never gets a
ticket the entries wait for, and offers go strictly in order; on both reservation paths (the one-statement one, and
the general one that a voucher with a reservation, as an offer's code is, always takes)."""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections import Counter
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from boxoffice.clock import utcnow
from boxoffice.db import Database
from boxoffice.errors import SoldOut
from boxoffice.ticketing import waitlist, waitlist_offers
from boxoffice.ticketing.models import Order
from boxoffice.ticketing.orders import release_expired_holds
from boxoffice.ticketing.reserve import reserve
from boxoffice.ticketing.ticket_types import get_ticket_type
from boxoffice.ticketing.voucher_models import WaitingListEntry
from tests.helpers import make_event, make_ticket, order_request, unique_email

pytestmark = pytest.mark.postgres


@pytest.fixture(params=["one-statement", "general"])
def path(request: pytest.FixtureRequest, pg_db: Database, monkeypatch: pytest.MonkeyPatch) -> str:
    """The public's reservation path (PostgreSQL's default is the one-statement one)."""
    monkeypatch.setattr(pg_db, "one_statement_reservations", request.param == "one-statement")
    return str(request.param)


async def buy(db: Database, event_id: str, tt_id: str) -> str:
    try:
        await reserve(db, order_request(event_id, (tt_id, 1)))
    except SoldOut:
        return "sold_out"
    return "bought"


async def sold_out_sale(db: Database, quantity: int) -> tuple[str, str]:
    """A sold-out ticket type whose every ticket is held by a pending order."""
    event = await make_event(db)
    tt = await make_ticket(db, event.id, quantity=quantity)
    for _ in range(quantity):
        await reserve(db, order_request(event.id, (tt.id, 1)))
    return event.id, tt.id


async def end_the_holds(db: Database, event_id: str) -> None:
    """Every pending hold of the event has ended (as it would have after the hold time)."""
    async with db.transaction() as session:
        await session.execute(
            update(Order)
            .where(Order.event_id == event_id, Order.status == "pending")
            .values(expires_at=utcnow() - timedelta(minutes=1))
        )


async def run_everything_at_once(db: Database, event_id: str, tt_id: str, buyers: int) -> Counter[str]:
    jobs: list[Coroutine[Any, Any, object]] = [buy(db, event_id, tt_id) for _ in range(buyers)]
    jobs += [release_expired_holds(db, ticket_type_ids=[tt_id], limit=5) for _ in range(10)]
    jobs += [waitlist_offers.hand_out(db, tt_id) for _ in range(10)]
    random.Random(buyers).shuffle(jobs)
    results = await asyncio.gather(*jobs)
    await release_expired_holds(db, ticket_type_ids=[tt_id])
    await waitlist_offers.hand_out(db, tt_id)
    return Counter(r for r in results if isinstance(r, str))


def assert_offered_in_order(views: list[waitlist.EntryView]) -> None:
    """No entry got an offer before one that joined earlier (while that one was still waiting)."""
    offered_at = [v.entry.offered_at for v in views]
    given = [at for at in offered_at if at is not None]
    assert offered_at[: len(given)] == given, "a later entry was offered before an earlier one"
    assert given == sorted(given)


async def test_the_public_gets_nothing_while_entries_wait_for_more_than_comes_back(pg_db: Database, path: str) -> None:
    event_id, tt_id = await sold_out_sale(pg_db, 20)
    quantities = [2, 1, 3, 1, 2, 4, 1, 2, 3, 2, 1, 2]  # 24 wanted, 20 come back
    for q in quantities:
        await waitlist.join(pg_db, event_id, email=unique_email("w"), name="", ticket_type_id=tt_id, quantity=q)
    await end_the_holds(pg_db, event_id)
    results = await run_everything_at_once(pg_db, event_id, tt_id, buyers=150)
    assert results == {"sold_out": 150}
    views = await waitlist.list_entries(pg_db, event_id)
    assert_offered_in_order(views)
    # strictly in order: the first nine entries take 19; the tenth wants 2 and waits for more, and the eleventh,
    # which wants only the one left, does not overtake it
    assert [v.entry.status for v in views] == ["offered"] * 9 + ["waiting"] * 3
    tt = await get_ticket_type(pg_db, tt_id)
    offered = sum(quantities[:9])
    assert (tt.sold_count, tt.held_count, tt.reserved_count, tt.waitlist_count) == (0, 0, 20, 20 - offered)


async def test_only_what_nobody_waits_for_goes_to_the_public(pg_db: Database, path: str) -> None:
    event_id, tt_id = await sold_out_sale(pg_db, 30)
    quantities = [1, 2, 1, 3, 1, 2, 1, 1, 2, 1]  # 15 wanted, 30 come back
    for q in quantities:
        await waitlist.join(pg_db, event_id, email=unique_email("w"), name="", ticket_type_id=tt_id, quantity=q)
    await end_the_holds(pg_db, event_id)
    results = await run_everything_at_once(pg_db, event_id, tt_id, buyers=100)
    # buyers who came before enough holds had ended found none; once all are back, exactly the 15 nobody waits for
    # can be bought, never one more
    late = Counter(await asyncio.gather(*(buy(pg_db, event_id, tt_id) for _ in range(30))))
    assert results["bought"] + late["bought"] == 15 and late["sold_out"] >= 15
    views = await waitlist.list_entries(pg_db, event_id)
    assert [v.entry.status for v in views] == ["offered"] * 10
    assert_offered_in_order(views)
    tt = await get_ticket_type(pg_db, tt_id)
    assert (tt.held_count, tt.reserved_count, tt.waitlist_count) == (15, 15, 0)


async def use_offer(db: Database, event_id: str, tt_id: str, entry_id: str) -> str:
    view = await waitlist.get_entry(db, entry_id)
    assert view.code is not None
    request = dataclasses.replace(order_request(event_id, (tt_id, view.entry.quantity)), voucher=view.code.lower())
    await reserve(db, request)
    return "offer_used"


async def test_offers_used_and_lapsing_while_buyers_arrive_pass_on_in_order(pg_db: Database, path: str) -> None:
    event_id, tt_id = await sold_out_sale(pg_db, 12)
    first = [2, 1, 2, 1, 3, 1, 2]  # the 12 tickets that come back
    later = [1, 1, 1]  # wait for what the lapsing offers give back
    entries = [
        (await waitlist.join(pg_db, event_id, email=unique_email("w"), name="", ticket_type_id=tt_id, quantity=q))
        for q in first + later
    ]
    ids = [view.entry.id for view in entries]
    await end_the_holds(pg_db, event_id)
    assert await run_everything_at_once(pg_db, event_id, tt_id, buyers=40) == {"sold_out": 40}
    assert [v.entry.status for v in await waitlist.list_entries(pg_db, event_id)] == ["offered"] * 7 + ["waiting"] * 3

    # the first three use their offers while the next four lapse (their 7 tickets: 3 for the later entries, 4 for
    # the public), with the worker and new buyers at the same moment
    async with pg_db.transaction() as session:
        await session.execute(
            update(WaitingListEntry)
            .where(WaitingListEntry.id.in_(ids[3:7]))
            .values(offer_expires_at=utcnow() - timedelta(minutes=1))
        )
    jobs: list[Coroutine[Any, Any, object]] = [use_offer(pg_db, event_id, tt_id, entry_id) for entry_id in ids[:3]]
    jobs += [buy(pg_db, event_id, tt_id) for _ in range(60)]
    jobs += [waitlist_offers.lapse_offers(pg_db, limit=2) for _ in range(4)]
    jobs += [waitlist_offers.hand_out(pg_db, tt_id) for _ in range(6)]
    random.Random(7).shuffle(jobs)
    results = Counter(r for r in await asyncio.gather(*jobs) if isinstance(r, str))
    await waitlist_offers.lapse_offers(pg_db)
    await waitlist_offers.hand_out(pg_db, tt_id)
    late = Counter(await asyncio.gather(*(buy(pg_db, event_id, tt_id) for _ in range(10))))

    assert results["offer_used"] == 3
    assert results["bought"] + late["bought"] == 4  # exactly what nobody waits for, never one more
    views = await waitlist.list_entries(pg_db, event_id)
    assert [v.entry.status for v in views] == ["offered"] * 3 + ["expired"] * 4 + ["offered"] * 3
    assert_offered_in_order([v for v in views if v.entry.status == "offered"])
    tt = await get_ticket_type(pg_db, tt_id)
    # held: the three used offers (5) and the public's 4; set aside: the three new offers (3); nothing held back
    assert (tt.sold_count, tt.held_count, tt.reserved_count, tt.waitlist_count) == (0, 9, 3, 0)
