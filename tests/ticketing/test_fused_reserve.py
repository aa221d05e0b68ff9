"""The one-statement reservation (PostgreSQL, one paid line of a fixed or flexible price) writes exactly what the
general path writes: the same order, line, person and outbox rows. On SQLite both runs take the general path."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text

from boxoffice.db import Database
from boxoffice.errors import InvalidInput, NotFound, SoldOut, VoucherUnavailable
from boxoffice.events import service as events
from boxoffice.events.models import Person
from boxoffice.outbox.models import OutboxMessage
from boxoffice.ticketing import kept_sales, plan, reserve_pg, took_nothing, voucher_codes
from boxoffice.ticketing.checkout import CheckoutSession, set_checkout_sessions
from boxoffice.ticketing.inventory import SoldOutNothingExpired
from boxoffice.ticketing.models import Order, OrderLine
from boxoffice.ticketing.orders import cancel_order, get_order
from boxoffice.ticketing.reserve import reserve
from boxoffice.ticketing.ticket_types import delete_ticket_type, update_ticket_type
from tests.helpers import counters, database_state, make_event, make_ticket, order_request, unique_email

VOLATILE = {"id", "order_id", "person_id", "created_at", "updated_at", "expires_at"}


async def stored(db: Database, order_id: str) -> dict[str, Any]:
    async with db.read() as session:
        order = (await session.scalars(select(Order).where(Order.id == order_id))).one()
        lines = (await session.scalars(select(OrderLine).where(OrderLine.order_id == order_id))).all()
        person = await session.get(Person, order.person_id)
        messages = (await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all()
    assert person is not None

    def columns(row: Any) -> dict[str, Any]:
        return {c.key: getattr(row, c.key) for c in row.__table__.columns if c.key not in VOLATILE}

    snapshot = dict(order.pricing_snapshot)
    snapshot.pop("priced_at")
    mine = [m for m in messages if order_id in str(m.topics) or m.payload.get("order_id") == order_id]
    return {
        "order": {**columns(order), "pricing_snapshot": snapshot},
        "lines": [columns(line) for line in lines],
        "person": (person.email_normalized, person.name),
        "messages": [(m.kind, m.payload | {"order_id": None}, m.published_at, m.attempts) for m in mine],
        "availability": [m.payload for m in messages if m.kind == "availability"][-1],
    }


@pytest.mark.parametrize("pricing", ["fixed", "flexible"])
async def test_fused_and_general_reservations_write_the_same_rows(
    db: Database, monkeypatch: pytest.MonkeyPatch, pricing: str
) -> None:
    event = await make_event(db)
    fields: dict[str, Any] = (
        {"pricing_model": "flexible", "minimum_price_cents": 500, "suggested_price_cents": 1200, "tippable": True}
        if pricing == "flexible"
        else {"base_price_cents": 1500}
    )
    tt = await make_ticket(db, event.id, quantity=10, **fields)
    price = 900 if pricing == "flexible" else None
    tip = 150 if pricing == "flexible" else None
    results = []
    for fused in (True, False):
        monkeypatch.setattr(db, "one_statement_reservations", fused and db.dialect == "postgresql")
        order = await reserve(
            db, order_request(event.id, (tt.id, 2, price), email=f"Fan.{fused}@Example.com", name="", tip_cents=tip)
        )
        # What reserve returns is what it stored.
        row = await stored(db, order.id)
        assert row["order"]["total_cents"] == order.total_cents and row["order"]["status"] == "pending"
        assert [line.id for line in order.lines] == [line.id for line in (await get_order(db, order.id)).lines]
        results.append(row)
    fused_row, general_row = results
    assert fused_row["person"] == ("fan.true@example.com", "")
    assert general_row["person"] == ("fan.false@example.com", "")
    fused_row["order"].pop("email"), general_row["order"].pop("email")
    fused_row.pop("person"), general_row.pop("person")
    fused_avail, general_avail = fused_row.pop("availability"), general_row.pop("availability")
    assert fused_row == general_row
    assert fused_avail == {
        "event_id": event.id,
        "ticket_types": [{"id": tt.id, "quantity": 10, "sold": 0, "held": 2, "reserved": 0, "available": 8}],
    }
    assert general_avail == {
        "event_id": event.id,
        "ticket_types": [{"id": tt.id, "quantity": 10, "sold": 0, "held": 4, "reserved": 0, "available": 6}],
    }
    assert [kind for kind, *_ in fused_row["messages"]] == ["order.created"]
    assert await counters(db, tt.id) == (10, 0, 4)


async def test_a_returning_buyer_keeps_one_person_and_never_renames_it(db: Database) -> None:
    # A buyer's order never renames a person (anyone can type any address): the name is the one the person was
    # created with, and each order keeps the name it was placed with.
    event = await make_event(db)
    tt = await make_ticket(db, event.id, quantity=10)
    email = unique_email("Grace").replace("@example", "@Example")  # a fresh person, in mixed case
    orders = [
        await reserve(db, order_request(event.id, (tt.id, 1), email=email, name=name))
        for name in ("", "Grace Hopper", "Someone Else")
    ]
    assert len({o.person_id for o in orders}) == 1
    async with db.read() as session:
        person = await session.get(Person, orders[0].person_id)
    assert person is not None and person.name == ""
    assert [o.name for o in orders] == ["", "Grace Hopper", "Someone Else"]


async def test_sold_out_fused_reservation_writes_no_person(db: Database) -> None:
    event = await make_event(db)
    tt = await make_ticket(db, event.id, quantity=1)
    await reserve(db, order_request(event.id, (tt.id, 1)))
    before = await database_state(db)
    with pytest.raises(SoldOut) as exc:
        await reserve(db, order_request(event.id, (tt.id, 1), email="new.buyer@example.com"))
    assert (exc.value.ticket_type_id, exc.value.available) == (tt.id, 0)
    assert await database_state(db) == before
    async with db.read() as session:
        assert (
            await session.scalars(select(Person).where(Person.email_normalized == "new.buyer@example.com"))
        ).all() == []


async def test_checkout_sessions_of_several_orders_are_stored_together(db: Database) -> None:
    event = await make_event(db)
    tt = await make_ticket(db, event.id, quantity=10)
    orders = [await reserve(db, order_request(event.id, (tt.id, 1))) for _ in range(3)]
    await set_checkout_sessions(
        db,
        [CheckoutSession(o.id, f"cs_test_{i}", f"https://pay.test/{i}") for i, o in enumerate(orders)],
    )
    stored = [await get_order(db, o.id) for o in orders]
    assert [(o.stripe_checkout_session_id, o.checkout_url) for o in stored] == [
        (f"cs_test_{i}", f"https://pay.test/{i}") for i in range(3)
    ]


async def test_an_edit_is_seen_by_the_next_reservation_at_once(db: Database) -> None:
    """A process keeps the event and ticket rows of the sales it serves; every organizer edit raises the rows'
    revision, which the reservation checks, so the next order after an edit is priced and judged by the edit."""
    event = await make_event(db)
    tt = await make_ticket(db, event.id, quantity=10, base_price_cents=1500)
    first = await reserve(db, order_request(event.id, (tt.id, 1)))
    assert first.total_cents == 1500
    edited = await update_ticket_type(db, tt.id, {"base_price_cents": 2000, "title": "Renamed"})
    assert edited.revision == tt.revision + 1
    second = await reserve(db, order_request(event.id, (tt.id, 1)))
    assert (second.total_cents, second.lines[0].title) == (2000, "Renamed")

    closed = await events.update_event(db, event.id, events.EventInput(status="draft"))
    assert closed.revision == event.revision + 1
    with pytest.raises(NotFound):  # a draft is as absent as an unknown event to the public
        await reserve(db, order_request(event.id, (tt.id, 1)))
    await events.update_event(db, event.id, events.EventInput(status="published"))
    third = await reserve(db, order_request(event.id, (tt.id, 1)))
    assert third.total_cents == 2000

    assert await delete_ticket_type(db, tt.id) is True  # it has orders: hidden
    with pytest.raises(InvalidInput) as exc:
        await reserve(db, order_request(event.id, (tt.id, 1)))
    assert exc.value.errors[0].field == "lines[0].ticket_id"
    async with db.read() as session:
        held = (await session.execute(text("SELECT held_count FROM ticket_types WHERE id = :id"), {"id": tt.id})).one()
    assert held == (3,)


async def test_an_edit_made_by_another_process_is_seen_too(db: Database) -> None:
    """Another process's edit reaches this one only through the database: the revision check catches it."""
    event = await make_event(db)
    tt = await make_ticket(db, event.id, quantity=10, base_price_cents=1500)
    await reserve(db, order_request(event.id, (tt.id, 1)))
    async with db.transaction() as session:
        await session.execute(
            text("UPDATE ticket_types SET base_price_cents = 900, revision = revision + 1 WHERE id = :id"),
            {"id": tt.id},
        )
    order = await reserve(db, order_request(event.id, (tt.id, 1)))
    assert order.total_cents == 900
    async with db.transaction() as session:
        await session.execute(text("UPDATE ticket_types SET quantity = 2 WHERE id = :id"), {"id": tt.id})
    with pytest.raises(SoldOut) as sold_out:
        await reserve(db, order_request(event.id, (tt.id, 1)))
    assert sold_out.value.available == 0


async def test_fused_and_general_multi_line_reservations_write_the_same_rows(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = await make_event(db)
    fixed = await make_ticket(db, event.id, title="Standard", quantity=20, base_price_cents=1500)
    flexible = await make_ticket(
        db,
        event.id,
        title="Supporter",
        quantity=20,
        pricing_model="flexible",
        minimum_price_cents=500,
        suggested_price_cents=1200,
        tippable=True,
    )
    results = []
    for fused in (True, False):
        monkeypatch.setattr(db, "one_statement_reservations", fused and db.dialect == "postgresql")
        order = await reserve(
            db,
            order_request(
                event.id, (flexible.id, 1, 900), (fixed.id, 2), (flexible.id, 2, 700), email=f"m.{fused}@example.com"
            ),
        )
        assert [line.position for line in order.lines] == [0, 1, 2]
        results.append(await stored(db, order.id))
    fused_row, general_row = results
    for row in results:
        row["order"].pop("email"), row.pop("person")
    fused_avail, general_avail = fused_row.pop("availability"), general_row.pop("availability")
    assert fused_row == general_row
    assert fused_row["order"]["total_cents"] == 900 + 2 * 1500 + 2 * 700
    assert [(line["ticket_type_id"], line["quantity"]) for line in fused_row["lines"]] == [
        (flexible.id, 1),
        (fixed.id, 2),
        (flexible.id, 2),
    ]
    by_id = sorted([fixed.id, flexible.id])
    held = {fixed.id: 2, flexible.id: 3}
    assert fused_avail == {
        "event_id": event.id,
        "ticket_types": [
            {"id": i, "quantity": 20, "sold": 0, "held": held[i], "reserved": 0, "available": 20 - held[i]}
            for i in by_id
        ],
    }
    assert general_avail["ticket_types"] == [
        {"id": i, "quantity": 20, "sold": 0, "held": 2 * held[i], "reserved": 0, "available": 20 - 2 * held[i]}
        for i in by_id
    ]


async def test_a_multi_line_order_with_one_short_ticket_writes_nothing(db: Database) -> None:
    event = await make_event(db)
    plenty = await make_ticket(db, event.id, title="Plenty", quantity=50)
    scarce = await make_ticket(db, event.id, title="Scarce", quantity=2)
    before = await database_state(db)
    with pytest.raises(SoldOut) as exc:
        await reserve(
            db, order_request(event.id, (plenty.id, 3), (scarce.id, 2), (scarce.id, 1), email="short@example.com")
        )
    assert (exc.value.ticket_type_id, exc.value.available) == (scarce.id, 2)
    assert exc.value.field == "lines[1].quantity"
    assert await database_state(db) == before
    assert await counters(db, plenty.id) == (50, 0, 0)


async def test_a_multi_line_order_sees_an_edit_of_any_of_its_tickets(db: Database) -> None:
    event = await make_event(db)
    a = await make_ticket(db, event.id, title="A", quantity=10, base_price_cents=1000)
    b = await make_ticket(db, event.id, title="B", quantity=10, base_price_cents=2000)
    first = await reserve(db, order_request(event.id, (a.id, 1), (b.id, 1)))
    assert first.total_cents == 3000
    async with db.transaction() as session:
        await session.execute(
            text("UPDATE ticket_types SET base_price_cents = 2500, revision = revision + 1 WHERE id = :id"),
            {"id": b.id},
        )
    second = await reserve(db, order_request(event.id, (a.id, 1), (b.id, 1)))
    assert second.total_cents == 3500
    assert await counters(db, a.id) == (10, 0, 2)
    assert await counters(db, b.id) == (10, 0, 2)


async def test_sold_out_answers_keep_the_sale_and_still_sell_what_is_freed_or_added(
    pg_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a sale, buyers keep trying: a sold-out answer keeps the event and ticket rows it found current, so the
    next answers do not read them again (they cost twice as much CPU when they did); tickets freed by a cancellation,
    or added by an edit, are still sold to the very next order."""
    db = pg_db
    monkeypatch.setattr(kept_sales, "KEPT_SALES", kept_sales.KeptSales())
    reads: list[str] = []
    real_read = plan._read_sale

    async def counted(db: Database, request: Any) -> Any:
        reads.append(request.event_id)
        return await real_read(db, request)

    monkeypatch.setattr(reserve_pg, "_read_sale", counted)
    event = await make_event(db)
    tt = await make_ticket(db, event.id, quantity=1, base_price_cents=1500)
    first = await reserve(db, order_request(event.id, (tt.id, 1)))
    monkeypatch.setattr(kept_sales, "KEPT_SALES", kept_sales.KeptSales())  # the sale's kept rows aged out
    reads.clear()
    for _ in range(3):
        with pytest.raises(SoldOut) as sold_out:
            await reserve(db, order_request(event.id, (tt.id, 1), email=unique_email()))
        assert sold_out.value.available == 0
    assert len(reads) == 1  # the first answer read the sale; the next two used what it kept

    await cancel_order(db, first.id, reason="changed their mind")
    second = await reserve(db, order_request(event.id, (tt.id, 1), email=unique_email()))
    assert (second.status, second.total_cents) == ("pending", 1500)
    with pytest.raises(SoldOut):
        await reserve(db, order_request(event.id, (tt.id, 1), email=unique_email()))

    await update_ticket_type(db, tt.id, {"quantity": 2, "base_price_cents": 2000})
    third = await reserve(db, order_request(event.id, (tt.id, 1), email=unique_email()))
    assert (third.status, third.total_cents) == ("pending", 2000)
    assert await counters(db, tt.id) == (2, 0, 2)


async def test_a_sold_out_answer_is_one_call_that_says_why(pg_db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """When its locks find the tickets gone (or a code's uses), the reservation's call answers with why in the same
    round trip: what is left, whether a hold has ended (then released, and the order sold), the code's uses left.
    The read after the call is only for what the locks do not see (an edit, the buyer's caps)."""
    db = pg_db

    async def no_second_read(*_: Any) -> Any:
        raise AssertionError("the call itself should have said why")

    monkeypatch.setattr(took_nothing, "read", no_second_read)
    event = await make_event(db)
    tt = await make_ticket(db, event.id, quantity=5)
    await reserve(db, order_request(event.id, (tt.id, 3)))
    with pytest.raises(SoldOutNothingExpired) as sold_out:
        await reserve(db, order_request(event.id, (tt.id, 3), email=unique_email()))
    assert (sold_out.value.available, sold_out.value.field) == (2, "lines[0].quantity")

    stale = await reserve(
        db, order_request(event.id, (tt.id, 2), email=unique_email()), now=datetime.now(UTC) - timedelta(hours=1)
    )
    sold = await reserve(db, order_request(event.id, (tt.id, 1), email=unique_email()))  # the stale hold released
    assert sold.status == "pending" and (await get_order(db, stale.id)).status == "expired"

    other = await make_ticket(db, event.id, quantity=5)
    await voucher_codes.create_vouchers(db, event.id, {"code": "TWICE", "discount": {"percent": 10}, "max_uses": 2})
    await reserve(db, dataclasses.replace(order_request(event.id, (other.id, 1)), voucher="TWICE"))
    with pytest.raises(VoucherUnavailable) as used_up:
        await reserve(
            db, dataclasses.replace(order_request(event.id, (other.id, 2), email=unique_email()), voucher="twice")
        )
    assert (used_up.value.reason, used_up.value.remaining) == ("voucher_used_up", 1)

    several = await reserve(db, order_request(event.id, (other.id, 1), (tt.id, 1), email=unique_email()))
    assert several.status == "pending"
    with pytest.raises(SoldOut) as gone:
        await reserve(db, order_request(event.id, (other.id, 1), (tt.id, 1), email=unique_email()))
    assert (gone.value.ticket_type_id, gone.value.available) == (tt.id, 0)
