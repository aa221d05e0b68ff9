"""The waiting list under concurrency on a real PostgreSQL: holds expire while new buyers arrive and the worker hands
out offers, all at once; the public never gets a ticket the entries wait for, and offers go strictly in order."""

from __future__ import annotations

import asyncio
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
from tests.helpers import make_event, make_ticket, order_request, unique_email

pytestmark = pytest.mark.postgres


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


async def test_the_public_gets_nothing_while_entries_wait_for_more_than_comes_back(pg_db: Database) -> None:
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


async def test_only_what_nobody_waits_for_goes_to_the_public(pg_db: Database) -> None:
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
