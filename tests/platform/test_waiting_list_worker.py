"""The waiting list and short holds as the running worker serves them (a started Boxoffice, not the functions it
calls): a hold that ends gives its ticket to the first waiting entry, whose offer is emailed; the offer lapses and
passes on; a short hold's Checkout Session is closed at Stripe (the sandbox) when the hold ends."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from boxoffice.clock import utcnow
from boxoffice.db import Database
from boxoffice.events import service as events
from boxoffice.notifications.delivery import list_emails
from boxoffice.payments.models import CheckoutClosure
from boxoffice.ticketing import orders as lifecycle
from boxoffice.ticketing import reserve as reservations
from boxoffice.ticketing import waitlist
from boxoffice.ticketing.models import Order
from boxoffice.ticketing.voucher_models import WaitingListEntry
from tests.helpers import counters, eventually, make_event, make_ticket, order_request, unique_email
from tests.platform.test_worker_loops_across_restarts import worker

pytestmark = pytest.mark.postgres


async def test_the_running_worker_offers_returned_tickets_in_order_and_passes_lapsed_offers_on(
    fresh_pg: tuple[str, Database], tmp_path: Path
) -> None:
    url, db = fresh_pg
    event = await make_event(db)
    tt = await make_ticket(db, event.id, quantity=1)
    held = await reservations.reserve(db, order_request(event.id, (tt.id, 1)))
    first = await waitlist.join(db, event.id, email=unique_email("w1"), name="", ticket_type_id=tt.id, quantity=1)
    second = await waitlist.join(db, event.id, email=unique_email("w2"), name="", ticket_type_id=tt.id, quantity=1)
    async with db.transaction() as session:
        await session.execute(
            update(Order).where(Order.id == held.id).values(expires_at=utcnow() - timedelta(minutes=1))
        )
    async with worker(url, tmp_path, sweep_interval_seconds=0.05):

        async def status(entry_id: str) -> str:
            return (await waitlist.get_entry(db, entry_id)).entry.status

        async def first_offered() -> bool:
            return await status(first.entry.id) == "offered"

        await eventually(first_offered)  # the sweeper released the hold, the waiting-list loop made the offer
        assert await status(second.entry.id) == "waiting"
        assert await counters(db, tt.id) == (1, 0, 0)

        async def offer_emailed() -> bool:
            return any(e.kind == "waitlist_offer" and e.status == "sent" for e in await list_emails(db, event.id))

        await eventually(offer_emailed)
        async with db.transaction() as session:  # the first one lets the offer's time pass
            await session.execute(
                update(WaitingListEntry)
                .where(WaitingListEntry.id == first.entry.id)
                .values(offer_expires_at=utcnow() - timedelta(seconds=1))
            )

        async def passed_on() -> bool:
            return await status(first.entry.id) == "expired" and await status(second.entry.id) == "offered"

        await eventually(passed_on)


async def test_the_running_worker_closes_a_short_holds_checkout_session(
    fresh_pg: tuple[str, Database], tmp_path: Path
) -> None:
    url, db = fresh_pg
    event = await make_event(db)
    await events.update_event(db, event.id, events.EventInput(hold_minutes=5))
    tt = await make_ticket(db, event.id, quantity=2)
    async with worker(url, tmp_path, sweep_interval_seconds=0.05) as srv:
        placed = await srv.box.payments.place_order(order_request(event.id, (tt.id, 2)))
        session_id = placed.order.stripe_checkout_session_id
        assert session_id is not None and srv.box.sandbox is not None
        assert srv.box.sandbox.session(session_id)["status"] == "open"
        async with db.transaction() as session:  # the five minutes have passed
            past = utcnow() - timedelta(seconds=1)
            await session.execute(update(Order).where(Order.id == placed.order.id).values(expires_at=past))
            await session.execute(
                update(CheckoutClosure).where(CheckoutClosure.order_id == placed.order.id).values(close_at=past)
            )

        async def closed() -> bool:
            assert srv.box.sandbox is not None
            return bool(srv.box.sandbox.session(session_id)["status"] == "expired")

        await eventually(closed)
        assert (await lifecycle.get_order(db, placed.order.id)).status == "expired"
        assert await counters(db, tt.id) == (2, 0, 0)
