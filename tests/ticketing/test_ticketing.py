"""The ticketing context against SQLite and PostgreSQL: ticket types, reservations and the order lifecycle."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from boxoffice.db import Database
from boxoffice.errors import InvalidInput, NotFound, SalesClosed, SoldOut
from boxoffice.events import service as events
from boxoffice.outbox.models import OutboxMessage
from boxoffice.ticketing import orders as lifecycle
from boxoffice.ticketing import reserve as reserve_module
from boxoffice.ticketing.models import TicketType
from boxoffice.ticketing.orders import (
    cancel_order,
    confirm_order,
    expire_order,
    fail_order,
    get_order,
    get_order_with_token,
    list_tickets,
    record_refund,
)
from boxoffice.ticketing.reserve import reserve
from boxoffice.ticketing.ticket_types import (
    availability,
    create_ticket_type,
    delete_ticket_type,
    list_ticket_types,
    update_ticket_type,
)
from boxoffice.ticketing.tokens import order_token
from tests.helpers import counters, database_state, make_event, make_ticket, order_request, unique_email


async def test_legacy_price_cents_makes_a_fixed_ticket(db: Database) -> None:
    event = await make_event(db)
    tt = await create_ticket_type(db, event.id, {"title": "Old style", "price_cents": 2500, "quantity": 5})
    assert (tt.pricing_model, tt.base_price_cents) == ("fixed", 2500)
    order = await reserve(db, order_request(event.id, (tt.id, 2)))
    assert order.total_cents == 5000


@pytest.mark.parametrize(
    ("fields", "field", "code"),
    [
        ({"quantity": 0}, "quantity", "below_minimum"),
        ({"quantity": "ten"}, "quantity", "not_integer"),
        ({"base_price_cents": -1}, "base_price_cents", "below_minimum"),
        ({"base_price_cents": 12.5}, "base_price_cents", "not_integer"),
        ({"currency": "xyz"}, "currency", "invalid_choice"),
        ({"title": "  "}, "title", "required"),
        ({"pricing_model": "auction"}, "pricing_model", "invalid_choice"),
        (
            {"pricing_model": "flexible", "minimum_price_cents": 900, "suggested_price_cents": 500},
            "suggested_price_cents",
            "below_minimum",
        ),
        (
            {"pricing_model": "dynamic", "price_tiers": [{"price_cents": 1, "up_to": 5}]},
            "price_tiers[0]",
            "tier_bounds",
        ),
        ({"pricing_model": "dynamic"}, "price_tiers", "required"),
        ({"max_per_order": 0}, "max_per_order", "below_minimum"),
        (
            {"starts_at": datetime(2027, 2, 1, tzinfo=UTC), "ends_at": datetime(2027, 1, 1, tzinfo=UTC)},
            "ends_at",
            "not_ordered",
        ),
        ({"starts_at": datetime(2027, 2, 1)}, "starts_at", "no_timezone"),
        ({"price_cents": 100, "base_price_cents": 200}, "price_cents", "conflict_with"),
        ({"colour": "red"}, "colour", "unknown_field"),
    ],
)
async def test_invalid_ticket_types_are_refused_and_change_nothing(
    db: Database, fields: dict[str, object], field: str, code: str
) -> None:
    event = await make_event(db)
    before = await database_state(db)
    base: dict[str, object] = {"title": "GA", "quantity": 10, "base_price_cents": 1000}
    if fields.get("pricing_model") in ("flexible", "dynamic") or "price_cents" in fields:
        base.pop("base_price_cents")
    with pytest.raises(InvalidInput) as exc:
        await create_ticket_type(db, event.id, {**base, **fields})
    assert (field, code) in {(e.field, e.code) for e in exc.value.errors}
    assert await database_state(db) == before


async def test_reserve_holds_and_confirm_sells(db: Database) -> None:
    event = await make_event(db)
    tt = await make_ticket(db, event.id, quantity=10)
    order = await reserve(db, order_request(event.id, (tt.id, 3)))
    assert order.status == "pending"
    assert await counters(db, tt.id) == (10, 0, 3)
    assert [(ln.quantity, ln.unit_prices) for ln in order.lines] == [(3, [1500, 1500, 1500])]
    assert order.pricing_snapshot["lines"][0]["pricing_model"] == "fixed"
    assert order.expires_at - order.created_at == timedelta(minutes=30)

    result = await confirm_order(db, order.id, payment_intent_id="pi_123")
    assert result.changed and result.status == "confirmed"
    assert await counters(db, tt.id) == (10, 3, 0)
    assert len(await list_tickets(db, order.id)) == 3
    again = await confirm_order(db, order.id)
    assert not again.changed and again.status == "confirmed"
    assert await counters(db, tt.id) == (10, 3, 0)
    holders = await events.list_participants(db, event.id, role="ticket_holder")
    assert [(p.status, person.email_normalized) for p, person in holders] == [
        ("confirmed_with_order", order.email.lower())
    ]


async def test_sold_out_is_clear_and_changes_nothing(db: Database) -> None:
    event = await make_event(db)
    tt = await make_ticket(db, event.id, quantity=2)
    await reserve(db, order_request(event.id, (tt.id, 2)))
    before = await database_state(db)
    with pytest.raises(SoldOut) as exc:
        await reserve(db, order_request(event.id, (tt.id, 1)))
    assert exc.value.available == 0 and exc.value.field == "lines[0].quantity"
    assert await database_state(db) == before


async def test_multi_line_order_is_all_or_nothing(db: Database) -> None:
    event = await make_event(db)
    a = await make_ticket(db, event.id, title="A", quantity=5)
    b = await make_ticket(db, event.id, title="B", quantity=1)
    before = await database_state(db)
    with pytest.raises(SoldOut):
        await reserve(db, order_request(event.id, (a.id, 2), (b.id, 2)))
    assert await database_state(db) == before
    order = await reserve(db, order_request(event.id, (a.id, 2), (b.id, 1)))
    assert order.subtotal_cents == 4500


@pytest.mark.parametrize(
    ("make_lines", "tip", "field", "code"),
    [
        (lambda tt: [(tt, 0)], None, "lines[0].quantity", "below_minimum"),
        (lambda tt: [(tt, 51)], None, "lines[0].quantity", "over_limit"),
        (lambda tt: [("tt_nope", 1)], None, "lines[0].ticket_id", "not_found"),
        (lambda tt: [], None, "lines", "required"),
        (lambda tt: [(tt, 1, 900)], None, "lines[0].price_cents", "conflict_with"),
        (lambda tt: [(tt, 1)], 300, "tip_cents", "not_tippable"),
        (lambda tt: [(tt, 1)], -5, "tip_cents", "below_minimum"),
        (lambda tt: [(tt, 5)], None, "lines[0].quantity", "over_limit"),
    ],
)
async def test_invalid_orders_are_refused_and_change_nothing(
    db: Database, make_lines: object, tip: int | None, field: str, code: str
) -> None:
    event = await make_event(db)
    tt = await make_ticket(db, event.id, quantity=10, max_per_order=4)
    before = await database_state(db)
    lines = make_lines(tt.id)  # type: ignore[operator]
    with pytest.raises(InvalidInput) as exc:
        await reserve(db, order_request(event.id, *lines, tip_cents=tip))
    assert (field, code) in {(e.field, e.code) for e in exc.value.errors}
    assert await database_state(db) == before


async def test_bad_email_and_unknown_event(db: Database) -> None:
    event = await make_event(db)
    tt = await make_ticket(db, event.id)
    before = await database_state(db)
    with pytest.raises(InvalidInput) as exc:
        await reserve(db, order_request(event.id, (tt.id, 1), email="not-an-email"))
    assert [(e.field, e.code) for e in exc.value.errors] == [("email", "invalid_format")]
    with pytest.raises(NotFound):
        await reserve(db, order_request("ev_missing", (tt.id, 1)))
    assert await database_state(db) == before


async def test_an_event_sells_in_one_currency(db: Database) -> None:
    event = await make_event(db)
    assert event.currency is None
    usd = await make_ticket(db, event.id, currency="USD")  # the first ticket type sets the event's currency
    assert usd.currency == "usd" and (await events.get_event(db, event.id)).currency == "usd"
    inherited = await make_ticket(db, event.id, title="No currency given")
    assert inherited.currency == "usd"
    before = await database_state(db)
    with pytest.raises(InvalidInput) as exc:
        await make_ticket(db, event.id, currency="EUR")
    assert [(e.field, "USD" in e.message) for e in exc.value.errors] == [("currency", True)]
    with pytest.raises(InvalidInput):
        await update_ticket_type(db, usd.id, {"currency": "eur"})
    with pytest.raises(InvalidInput) as changed:  # the event's currency is fixed once it has ticket types
        await events.update_event(db, event.id, events.EventInput(currency="eur"))
    assert [e.field for e in changed.value.errors] == ["currency"]
    assert await database_state(db) == before
    euro = await make_event(db, currency="EUR")
    assert euro.currency == "eur" and (await make_ticket(db, euro.id)).currency == "eur"  # inherited
    empty = await make_event(db)
    assert (await events.update_event(db, empty.id, events.EventInput(currency="jpy"))).currency == "jpy"


async def test_mixed_currency_order_is_refused(db: Database) -> None:
    """Events from before one currency per event may still have ticket types in two: an order never mixes them."""
    event = await make_event(db)
    usd = await make_ticket(db, event.id, currency="usd")
    eur = await make_ticket(db, event.id, currency="usd", title="Legacy euro")
    async with db.transaction() as session:  # as the migration left a mixed event: the row itself in euros
        await session.execute(update(TicketType).where(TicketType.id == eur.id).values(currency="eur"))
    before = await database_state(db)
    with pytest.raises(InvalidInput) as exc:
        await reserve(db, order_request(event.id, (usd.id, 1), (eur.id, 1)))
    assert [(e.field, e.code) for e in exc.value.errors] == [("lines", "mixed_currency")]
    assert await database_state(db) == before


async def test_sales_window(db: Database) -> None:
    event = await make_event(db)
    now = datetime.now(UTC)
    later = await make_ticket(db, event.id, starts_at=now + timedelta(days=1), ends_at=now + timedelta(days=2))
    past = await make_ticket(db, event.id, starts_at=now - timedelta(days=2), ends_at=now - timedelta(days=1))
    before = await database_state(db)
    with pytest.raises(SalesClosed, match="not started"):
        await reserve(db, order_request(event.id, (later.id, 1)))
    with pytest.raises(SalesClosed, match="ended"):
        await reserve(db, order_request(event.id, (past.id, 1)))
    assert await database_state(db) == before
    order = await reserve(db, order_request(event.id, (later.id, 1)), now=now + timedelta(days=1, hours=1))
    assert order.status == "pending"


async def test_flexible_price_and_tip(db: Database) -> None:
    event = await make_event(db)
    tt = await make_ticket(
        db,
        event.id,
        pricing_model="flexible",
        minimum_price_cents=500,
        suggested_price_cents=2000,
        tippable=True,
    )
    order = await reserve(db, order_request(event.id, (tt.id, 2, 750), tip_cents=300))
    assert (order.subtotal_cents, order.tip_cents, order.total_cents) == (1500, 300, 1800)
    snap = order.pricing_snapshot["lines"][0]
    assert (snap["minimum_price_cents"], snap["suggested_price_cents"], snap["chosen_price_cents"]) == (500, 2000, 750)
    default = await reserve(db, order_request(event.id, (tt.id, 1)))
    assert default.total_cents == 2000


async def test_pricing_snapshot_survives_ticket_edits(db: Database) -> None:
    event = await make_event(db)
    tt = await make_ticket(db, event.id)
    order = await reserve(db, order_request(event.id, (tt.id, 1)))
    await update_ticket_type(db, tt.id, {"base_price_cents": 9900, "title": "Renamed"})
    stored = await get_order(db, order.id)
    assert stored.total_cents == 1500
    assert stored.pricing_snapshot["lines"][0]["base_price_cents"] == 1500
    assert stored.lines[0].title == "General admission"


async def test_dynamic_straddle_prices_units_exactly(db: Database) -> None:
    event = await make_event(db)
    tt = await make_ticket(
        db,
        event.id,
        pricing_model="dynamic",
        quantity=10,
        price_tiers=[{"price_cents": 1000, "up_to": 3}, {"price_cents": 1500}],
    )
    first = await reserve(db, order_request(event.id, (tt.id, 2)))
    second = await reserve(db, order_request(event.id, (tt.id, 3)))
    assert first.lines[0].unit_prices == [1000, 1000]
    assert second.lines[0].unit_prices == [1000, 1500, 1500]
    assert second.total_cents == 4000
    tickets = (await availability(db, event.id))[0]
    assert tickets.price_cents == 1500


async def test_free_order_is_confirmed_at_once(db: Database) -> None:
    event = await make_event(db)
    tt = await make_ticket(db, event.id, base_price_cents=0, quantity=3)
    order = await reserve(db, order_request(event.id, (tt.id, 2)))
    assert order.status == "confirmed" and order.total_cents == 0
    assert await counters(db, tt.id) == (3, 2, 0)
    assert len(await list_tickets(db, order.id)) == 2
    async with db.read() as session:
        kinds = (
            await session.scalars(
                select(OutboxMessage.kind).where(OutboxMessage.payload["order_id"].as_string() == order.id)
            )
        ).all()
    assert sorted(kinds) == ["order.confirmed", "order.created"]  # the confirmation email goes out for free orders too


async def test_cancel_expire_fail_release_the_hold(db: Database) -> None:
    event = await make_event(db)
    tt = await make_ticket(db, event.id, quantity=10)
    a = await reserve(db, order_request(event.id, (tt.id, 1)))
    b = await reserve(db, order_request(event.id, (tt.id, 2)))
    c = await reserve(db, order_request(event.id, (tt.id, 3)))
    assert await counters(db, tt.id) == (10, 0, 6)
    assert (await cancel_order(db, a.id)).status == "canceled"
    assert (await expire_order(db, b.id, force=True)).status == "expired"
    assert (await fail_order(db, c.id, reason="card declined")).status == "failed"
    assert await counters(db, tt.id) == (10, 0, 0)
    # A second attempt reports the current state and has no effect.
    again = await cancel_order(db, a.id)
    assert (again.changed, again.status) == (False, "canceled")
    not_confirmable = await expire_order(db, a.id, force=True)
    assert (not_confirmable.changed, not_confirmable.status) == (False, "canceled")
    assert await counters(db, tt.id) == (10, 0, 0)


async def test_expire_without_force_waits_for_the_expiry(db: Database) -> None:
    event = await make_event(db)
    tt = await make_ticket(db, event.id, quantity=10)
    order = await reserve(db, order_request(event.id, (tt.id, 1)))
    assert not (await expire_order(db, order.id)).changed
    later = order.expires_at + timedelta(seconds=1)
    assert (await expire_order(db, order.id, now=later)).status == "expired"


async def test_expired_hold_never_blocks_a_sale(db: Database) -> None:
    event = await make_event(db)
    tt = await make_ticket(db, event.id, quantity=2)
    now = datetime.now(UTC)
    stale = await reserve(db, order_request(event.id, (tt.id, 2)), now=now - timedelta(hours=1))
    assert stale.expires_at < now
    (avail,) = await availability(db, event.id)
    assert avail.available == 2
    fresh = await reserve(db, order_request(event.id, (tt.id, 2)))
    assert fresh.status == "pending"
    assert (await get_order(db, stale.id)).status == "expired"
    assert await counters(db, tt.id) == (2, 0, 2)


async def test_refund_and_cancel_return_tickets_to_sale(db: Database) -> None:
    event = await make_event(db)
    tt = await make_ticket(db, event.id, quantity=5)
    order = await reserve(db, order_request(event.id, (tt.id, 2)))
    await confirm_order(db, order.id)
    partial = await record_refund(db, order.id, 1000)
    assert (partial.status, partial.order.refunded_cents) == ("partially_refunded", 1000)
    assert await counters(db, tt.id) == (5, 2, 0)
    stale = await record_refund(db, order.id, 500)
    assert not stale.changed and stale.order.refunded_cents == 1000
    full = await record_refund(db, order.id, 3000)
    assert (full.status, full.order.refunded_cents) == ("refunded", 3000)
    assert await counters(db, tt.id) == (5, 0, 0)
    assert {t.status for t in await list_tickets(db, order.id)} == {"void"}
    assert not (await record_refund(db, order.id, 3000)).changed
    holders = await events.list_participants(db, event.id, role="ticket_holder")
    assert [p.status for p, _ in holders] == ["cancelled"]

    other = await reserve(db, order_request(event.id, (tt.id, 1)))
    await confirm_order(db, other.id)
    assert (await cancel_order(db, other.id)).status == "canceled"
    assert await counters(db, tt.id) == (5, 0, 0)


async def test_late_payment_retakes_tickets_or_asks_for_refund(db: Database) -> None:
    event = await make_event(db)
    tt = await make_ticket(db, event.id, quantity=1)
    order = await reserve(db, order_request(event.id, (tt.id, 1)))
    await expire_order(db, order.id, force=True)
    late = await confirm_order(db, order.id)
    assert (late.changed, late.status, late.outcome) == (True, "confirmed", "confirmed_late")
    assert await counters(db, tt.id) == (1, 1, 0)

    tt2 = await make_ticket(db, event.id, quantity=1)
    lost = await reserve(db, order_request(event.id, (tt2.id, 1)))
    await expire_order(db, lost.id, force=True)
    winner = await reserve(db, order_request(event.id, (tt2.id, 1)))
    await confirm_order(db, winner.id)
    result = await confirm_order(db, lost.id)
    assert (result.changed, result.outcome, result.status) == (False, "tickets_unavailable", "expired")
    assert await counters(db, tt2.id) == (1, 1, 0)
    refunded = await record_refund(db, lost.id, lost.total_cents)
    assert refunded.status == "refunded"
    assert await counters(db, tt2.id) == (1, 1, 0)


async def test_quantity_can_only_go_down_to_sold_plus_held(db: Database) -> None:
    event = await make_event(db)
    tt = await make_ticket(db, event.id, quantity=10)
    order = await reserve(db, order_request(event.id, (tt.id, 4)))
    await confirm_order(db, order.id)
    await reserve(db, order_request(event.id, (tt.id, 2)))
    before = await database_state(db)
    with pytest.raises(InvalidInput) as exc:
        await update_ticket_type(db, tt.id, {"quantity": 5})
    assert exc.value.errors[0].field == "quantity" and "6" in exc.value.errors[0].message
    assert exc.value.errors[0].code == "below_minimum" and exc.value.errors[0].amounts == (("minimum", 6),)
    assert await database_state(db) == before
    updated = await update_ticket_type(db, tt.id, {"quantity": 6})
    assert updated.quantity == 6
    with pytest.raises(SoldOut):
        await reserve(db, order_request(event.id, (tt.id, 1)))


async def test_delete_hides_a_ticket_with_orders(db: Database) -> None:
    event = await make_event(db)
    unsold = await make_ticket(db, event.id, title="Unsold")
    sold = await make_ticket(db, event.id, title="Sold")
    order = await reserve(db, order_request(event.id, (sold.id, 1)))
    assert await delete_ticket_type(db, unsold.id) is False
    assert await delete_ticket_type(db, sold.id) is True
    assert await list_ticket_types(db, event.id) == []
    assert [t.id for t in await list_ticket_types(db, event.id, include_deleted=True)] == [sold.id]
    assert (await get_order(db, order.id)).lines[0].ticket_type_id == sold.id
    with pytest.raises(InvalidInput):
        await reserve(db, order_request(event.id, (sold.id, 1)))


async def test_order_token_access(db: Database) -> None:
    event = await make_event(db)
    tt = await make_ticket(db, event.id)
    order = await reserve(db, order_request(event.id, (tt.id, 1)))
    current, previous = b"k" * 32, b"p" * 32
    token = order_token(order.id, current)
    assert (await get_order_with_token(db, order.id, token, [current])).id == order.id
    # a token made with a previous key opens the order while that key is still configured, and only then
    old = order_token(order.id, previous)
    assert (await get_order_with_token(db, order.id, old, [current, previous])).id == order.id
    for wrong, keys in (
        ("wrong", [current]),
        (old, [current]),
        (token, [previous]),
        (order_token("ord_x", current), [current]),
    ):
        with pytest.raises(NotFound):
            await get_order_with_token(db, order.id, wrong, keys)
    # nothing stored opens it: the row has no token, only the id (a copy of the database gives no access)
    assert order.token_hash is None and token not in repr(vars(order))


async def test_domain_events_are_recorded_with_the_change(db: Database) -> None:
    event = await make_event(db)
    tt = await make_ticket(db, event.id, quantity=3)
    order = await reserve(db, order_request(event.id, (tt.id, 1)))
    await confirm_order(db, order.id)
    async with db.read() as session:
        rows = (
            await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id).where(OutboxMessage.id > 0))
        ).all()
    mine = [r for r in rows if r.payload.get("event_id") == event.id]
    kinds = [r.kind for r in mine]
    assert kinds == [
        "ticket.created",
        "availability",
        "order.created",
        "availability",
        "order.confirmed",
        "availability",
    ]
    last = mine[-1].payload["ticket_types"][0]
    assert (last["sold"], last["held"], last["available"]) == (1, 0, 2)
    assert mine[4].topics == [f"order:{order.id}", f"event-sales:{event.id}"]


async def test_invitee_who_buys_becomes_ticket_holder_in_one_row(db: Database) -> None:
    event = await make_event(db)
    tt = await make_ticket(db, event.id)
    email = unique_email("invitee")
    await events.add_participant(
        db, event.id, email.upper(), role="invitee", status="pending", meta={"invited_by": "x"}
    )
    o1 = await reserve(db, order_request(event.id, (tt.id, 1), email=email))
    o2 = await reserve(db, order_request(event.id, (tt.id, 1), email=email))
    for order in (o1, o2, o1):
        await confirm_order(db, order.id)
    rows = [
        (p, person) for p, person in await events.list_participants(db, event.id) if person.email_normalized == email
    ]
    assert len(rows) == 1
    participant, _ = rows[0]
    assert (participant.role, participant.status) == ("ticket_holder", "confirmed_with_order")
    assert participant.meta["invited_by"] == "x"
    assert participant.meta["order_ids"] == [o1.id, o2.id]
    assert participant.meta["previous_role"] == "invitee"


async def test_organizer_buying_is_not_made_a_participant(db: Database) -> None:
    organizer = unique_email("organizer")
    event = await make_event(db, organizer=organizer)
    tt = await make_ticket(db, event.id)
    order = await reserve(db, order_request(event.id, (tt.id, 1), email=organizer))
    assert (await confirm_order(db, order.id)).status == "confirmed"
    assert await events.list_participants(db, event.id) == []


async def test_person_unique_by_email_case_insensitive(db: Database) -> None:
    event = await make_event(db)
    tt = await make_ticket(db, event.id)
    email = unique_email()
    a = await reserve(db, order_request(event.id, (tt.id, 1), email=email))
    b = await reserve(db, order_request(event.id, (tt.id, 1), email=email.upper()))
    assert a.person_id == b.person_id


async def test_event_validation(db: Database) -> None:
    before = await database_state(db)
    start = datetime.now(UTC) + timedelta(days=3)
    with pytest.raises(InvalidInput) as exc:
        await events.create_event(
            db,
            unique_email(),
            events.EventInput(title="", starts_at=start, ends_at=start - timedelta(hours=1), timezone="Mars/Base"),
        )
    assert {(e.field, e.code) for e in exc.value.errors} == {
        ("title", "required"),
        ("ends_at", "not_ordered"),
        ("timezone", "invalid_format"),
    }
    assert await database_state(db) == before


async def test_a_sold_out_answer_looks_for_ended_holds_only_when_there_are_some(
    pg_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL's one-statement path: the read that finds the tickets gone also tells whether a hold of them has
    ended. With none, the answer is given at once; with one, it is released and the order sold."""
    db = pg_db
    released: list[list[str]] = []
    real = lifecycle.release_expired_holds

    async def spy(db: Database, **kw: Any) -> int:
        released.append(list(kw.get("ticket_type_ids") or []))
        return await real(db, **kw)

    monkeypatch.setattr(reserve_module, "release_expired_holds", spy)
    event = await make_event(db)
    tt = await make_ticket(db, event.id, quantity=2)
    now = datetime.now(UTC)
    await reserve(db, order_request(event.id, (tt.id, 2)))
    with pytest.raises(SoldOut) as sold_out:
        await reserve(db, order_request(event.id, (tt.id, 1)))
    assert sold_out.value.available == 0
    assert released == []

    other = await make_ticket(db, event.id, quantity=2)
    stale = await reserve(db, order_request(event.id, (other.id, 2)), now=now - timedelta(hours=1))
    fresh = await reserve(db, order_request(event.id, (other.id, 2)))
    assert released == [[other.id]]
    assert fresh.status == "pending" and (await get_order(db, stale.id)).status == "expired"
