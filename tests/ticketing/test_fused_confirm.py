"""The one-statement confirmation (PostgreSQL, a paid pending order without attendees) writes exactly what the
general path (``orders.confirm_order``) writes: the order's new state, its tickets, the buyer as a ticket holder
(created, or an invitee upgraded), the counters, the history row and the outbox messages. Whatever it does not take
(a wrong amount, an order already confirmed, attendees) it leaves untouched for the general path."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import pytest
from sqlalchemy import select

from boxoffice.attendees.rules import AttendeeInput
from boxoffice.db import Database
from boxoffice.events.attendee_settings import update_attendee_settings
from boxoffice.events.models import EventParticipant
from boxoffice.events.participants import add_participant
from boxoffice.outbox.models import OutboxMessage
from boxoffice.ticketing.confirm_pg import confirm_paid_in_one_statement
from boxoffice.ticketing.models import Order, OrderEvent, Ticket
from boxoffice.ticketing.orders import confirm_order
from boxoffice.ticketing.plan import LineRequest, OrderRequest
from boxoffice.ticketing.reserve import reserve
from tests.helpers import counters, database_state, make_event, make_ticket, order_request, unique_email

pytestmark = pytest.mark.usefixtures("pg_db")

VOLATILE = {"id", "order_id", "person_id", "created_at", "updated_at", "confirmed_at", "expires_at", "email", "name"}


async def written(db: Database, order_id: str) -> dict[str, Any]:
    """What a confirmation wrote, without what differs between two orders anyway (ids, times, the buyer)."""
    async with db.read() as session:
        order = (await session.scalars(select(Order).where(Order.id == order_id))).one()
        tickets = (await session.scalars(select(Ticket).where(Ticket.order_id == order_id))).all()
        history = (await session.scalars(select(OrderEvent).where(OrderEvent.order_id == order_id))).all()
        holder = (
            await session.scalars(
                select(EventParticipant).where(
                    EventParticipant.event_id == order.event_id, EventParticipant.person_id == order.person_id
                )
            )
        ).one_or_none()
        messages = (await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all()
    mine = [m for m in messages if m.payload.get("order_id") == order_id]
    confirmed_at = [i for i, m in enumerate(messages) if m.kind == "order.confirmed" and m in mine][-1]
    availability = messages[confirmed_at + 1]

    def columns(row: Any) -> dict[str, Any]:
        return {c.key: getattr(row, c.key) for c in row.__table__.columns if c.key not in VOLATILE}

    return {
        "order": {**columns(order), "pricing_snapshot": None},
        "tickets": sorted(
            (t.order_line_id == order.lines[0].id, t.ticket_type_id, t.unit_price_cents, t.status, t.code_version)
            for t in tickets
        ),
        "ticket_ids": sorted(len(t.id) for t in tickets),
        "history": [(h.from_status, h.to_status, h.refunded_cents) for h in history],
        "holder": None
        if holder is None
        else (holder.role, holder.status, holder.source, {**holder.meta, "order_ids": len(holder.meta["order_ids"])}),
        "holder_orders": None if holder is None else order_id in holder.meta["order_ids"],
        "messages": [
            (m.kind, m.topics == [f"order:{order_id}"], {**m.payload, "order_id": None, "email": None})
            for m in mine
            if m.kind != "order.created"
        ],
        "availability": (availability.kind, availability.topics, availability.payload),
    }


async def confirm(db: Database, order: Order, fused: bool, payment_intent: str) -> None:
    if fused:
        assert await confirm_paid_in_one_statement(
            db, order.id, amount=order.total_cents, currency=order.currency.upper(), payment_intent_id=payment_intent
        )
    else:
        result = await confirm_order(db, order.id, payment_intent_id=payment_intent)
        assert result.changed


@pytest.mark.parametrize("invited", [False, True])
async def test_fused_and_general_confirmations_write_the_same_rows(pg_db: Database, invited: bool) -> None:
    db = pg_db
    event = await make_event(db)
    fixed = await make_ticket(db, event.id, quantity=10, base_price_cents=1500)
    tiers = await make_ticket(db, event.id, quantity=10, pricing_model="flexible", minimum_price_cents=500)
    results = []
    run = secrets.token_hex(5)
    for fused in (True, False):
        email = unique_email()
        if invited:
            await add_participant(db, event.id, email, role="invitee", status="pending", meta={"note": "vip"})
        order = await reserve(db, order_request(event.id, (fixed.id, 2), (tiers.id, 1, 900), email=email))
        await confirm(db, order, fused, f"pi_{fused}_{run}")
        results.append(await written(db, order.id))
    fused_rows, general_rows = results
    # the availability each wrote: the counters after it, one more sold of each than the first had
    fused_avail, general_avail = fused_rows.pop("availability"), general_rows.pop("availability")
    assert fused_rows["order"].pop("stripe_payment_intent_id") == f"pi_True_{run}"
    assert general_rows["order"].pop("stripe_payment_intent_id") == f"pi_False_{run}"
    assert fused_rows == general_rows
    assert fused_rows["order"]["status"] == "confirmed"
    assert fused_rows["ticket_ids"] == [24, 24, 24]
    assert fused_rows["history"] == [("pending", "confirmed", 0)]
    expected_meta = {
        "order_ids": 1,
        **({"note": "vip", "previous_role": "invitee", "previous_status": "pending"} if invited else {}),
    }
    assert fused_rows["holder"] == (
        "ticket_holder",
        "confirmed_with_order",
        "manual" if invited else "order",
        expected_meta,
    )
    assert fused_avail[0] == general_avail[0] == "availability"
    assert fused_avail[1] == general_avail[1] == [f"event:{event.id}"]
    sold = {t["id"]: t["sold"] for t in general_avail[2]["ticket_types"]}
    assert sold == {fixed.id: 4, tiers.id: 2}
    assert {t["id"]: t["sold"] for t in fused_avail[2]["ticket_types"]} == {fixed.id: 2, tiers.id: 1}
    assert await counters(db, fixed.id) == (10, 4, 0)


async def test_a_second_order_of_the_buyer_is_added_to_their_participation(pg_db: Database) -> None:
    db = pg_db
    event = await make_event(db)
    tt = await make_ticket(db, event.id, quantity=10)
    email = unique_email()
    first = await reserve(db, order_request(event.id, (tt.id, 1), email=email))
    second = await reserve(db, order_request(event.id, (tt.id, 1), email=email))
    await confirm(db, first, True, f"pi_{first.id}")
    await confirm(db, second, True, f"pi_{second.id}")
    async with db.read() as session:
        holder = (
            await session.scalars(select(EventParticipant).where(EventParticipant.person_id == first.person_id))
        ).one()
    assert holder.meta == {"order_ids": [first.id, second.id]}


async def test_what_the_statement_does_not_take_it_leaves_untouched(pg_db: Database) -> None:
    db = pg_db
    event = await make_event(db)
    tt = await make_ticket(db, event.id, quantity=10)
    order = await reserve(db, order_request(event.id, (tt.id, 1)))
    before = await database_state(db)
    # a payment of another amount or currency, a string amount, an unknown order: nothing written
    assert not await confirm_paid_in_one_statement(db, order.id, amount=1, currency="eur", payment_intent_id=None)
    assert not await confirm_paid_in_one_statement(
        db, order.id, amount=order.total_cents, currency="xts", payment_intent_id=None
    )
    assert not await confirm_paid_in_one_statement(db, order.id, amount="1500", currency="eur", payment_intent_id=None)
    assert not await confirm_paid_in_one_statement(
        db, "ord_unknown", amount=1500, currency="eur", payment_intent_id=None
    )
    assert await database_state(db) == before
    # confirmed once, whatever arrives at the same time
    outcomes = await asyncio.gather(
        *(
            confirm_paid_in_one_statement(
                db, order.id, amount=order.total_cents, currency=order.currency, payment_intent_id=f"pi_{order.id}"
            )
            for _ in range(5)
        )
    )
    assert sorted(outcomes) == [False, False, False, False, True]
    assert await counters(db, tt.id) == (10, 1, 0)
    async with db.read() as session:
        tickets = (await session.scalars(select(Ticket).where(Ticket.order_id == order.id))).all()
    assert len(tickets) == 1


async def test_an_order_with_attendees_takes_the_general_path(pg_db: Database) -> None:
    db = pg_db
    event = await make_event(db)
    tt = await make_ticket(db, event.id, quantity=10)
    await update_attendee_settings(db, event.id, {"attendee_details": "optional"})
    order = await reserve(
        db,
        OrderRequest(
            event_id=event.id,
            email=unique_email(),
            lines=[LineRequest(tt.id, 1, None, [AttendeeInput("Ada", unique_email(), {})])],
        ),
    )
    before = await database_state(db)
    assert not await confirm_paid_in_one_statement(
        db, order.id, amount=order.total_cents, currency=order.currency, payment_intent_id=None
    )
    assert await database_state(db) == before
    assert (await confirm_order(db, order.id)).changed  # the general path issues the ticket to the attendee
