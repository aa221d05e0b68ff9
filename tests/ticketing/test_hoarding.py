"""Limits against hoarding in the reservation itself: lines of one ticket type count together, held tickets are
capped per buyer email and per client address (both reservation paths), free orders per email per day; and a buyer
never renames a person, so no buyer can change what an organizer's emails say about the organizer."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import pytest

from boxoffice.db import Database
from boxoffice.errors import InvalidInput, TooManyRequests
from boxoffice.events import service as events
from boxoffice.events.models import Person
from boxoffice.notifications.delivery import Mailer
from boxoffice.notifications.render import render_confirmation
from boxoffice.notifications.transport import make_transport
from boxoffice.ticketing.caps import BuyerCaps
from boxoffice.ticketing.orders import confirm_order, get_order
from boxoffice.ticketing.plan import OrderRequest
from boxoffice.ticketing.reserve import reserve
from boxoffice.ticketing.reserve_pg import _reserve_in_one_statement
from tests.helpers import counters, database_state, make_event, make_ticket, order_request, unique_email


@pytest.fixture(params=["fused", "general"])
def path(request: pytest.FixtureRequest, db: Database, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both reservation paths (on SQLite both are the general one)."""
    monkeypatch.setattr(db, "one_statement_reservations", request.param == "fused" and db.dialect == "postgresql")
    return str(request.param)


def with_key(request: OrderRequest, key: str | None) -> OrderRequest:
    return OrderRequest(
        event_id=request.event_id,
        email=request.email,
        name=request.name,
        lines=request.lines,
        tip_cents=request.tip_cents,
        client_key=key,
    )


# -- repeated lines ----------------------------------------------------------------------------------------------


async def test_twenty_lines_of_one_type_cannot_multiply_the_line_limit(db: Database) -> None:
    event = await make_event(db)
    tt = await make_ticket(db, event.id, quantity=5000)
    before = await database_state(db)
    with pytest.raises(InvalidInput) as caught:
        await reserve(db, order_request(event.id, *[(tt.id, 50)] * 20))
    assert [e.field for e in caught.value.errors] == ["lines[1].quantity"]
    assert "in all for one ticket type" in caught.value.errors[0].message
    assert caught.value.errors[0].code == "over_limit" and caught.value.errors[0].amount("maximum") == 50
    assert await database_state(db) == before
    # Lines of one type within the limit in all are still one order.
    order = await reserve(db, order_request(event.id, (tt.id, 30), (tt.id, 20)))
    assert sum(line.quantity for line in order.lines) == 50
    assert await counters(db, tt.id) == (5000, 0, 50)


async def test_flexible_lines_of_one_type_at_different_prices_count_together(db: Database) -> None:
    event = await make_event(db)
    tt = await make_ticket(db, event.id, pricing_model="flexible", minimum_price_cents=500, quantity=500)
    with pytest.raises(InvalidInput) as caught:
        await reserve(db, order_request(event.id, (tt.id, 40, 800), (tt.id, 40, 2000)))
    assert [e.field for e in caught.value.errors] == ["lines[1].quantity"]
    order = await reserve(db, order_request(event.id, (tt.id, 2, 800), (tt.id, 3, 2000)))
    assert [(line.quantity, line.unit_price_cents) for line in order.lines] == [(2, 800), (3, 2000)]
    capped = await make_ticket(db, event.id, pricing_model="flexible", minimum_price_cents=500, max_per_order=4)
    with pytest.raises(InvalidInput) as caught:
        await reserve(db, order_request(event.id, (capped.id, 2, 800), (capped.id, 3, 900)))
    assert [e.field for e in caught.value.errors] == ["lines[1].quantity"]


# -- held tickets per email and per address ----------------------------------------------------------------------


async def test_held_tickets_are_capped_per_email(db: Database, path: str) -> None:
    caps = BuyerCaps(held_per_email=4)
    event = await make_event(db)
    tt = await make_ticket(db, event.id, quantity=100)
    email = unique_email("hoarder")
    first = await reserve(db, order_request(event.id, (tt.id, 3), email=email), caps=caps)
    before = await database_state(db)
    with pytest.raises(TooManyRequests) as caught:
        await reserve(db, order_request(event.id, (tt.id, 2), email=email.upper()), caps=caps)
    assert caught.value.limit == "held-per-email"
    assert 0 < caught.value.retry_after <= 30 * 60 + 1  # until the held order's hold ends
    assert "holds 3 tickets" in caught.value.detail
    assert await database_state(db) == before
    # Up to the cap is fine; an order alone larger than the cap is bounded by the per-order limits, not refused.
    await reserve(db, order_request(event.id, (tt.id, 1), email=email), caps=caps)
    await reserve(db, order_request(event.id, (tt.id, 6)), caps=caps)
    # Another event is another count, and a paid (or released) hold no longer counts.
    other = await make_event(db)
    other_tt = await make_ticket(db, other.id)
    await reserve(db, order_request(other.id, (other_tt.id, 3), email=email), caps=caps)
    await confirm_order(db, first.id)
    await reserve(db, order_request(event.id, (tt.id, 3), email=email), caps=caps)
    with pytest.raises(TooManyRequests):
        await reserve(db, order_request(event.id, (tt.id, 1), email=email), caps=caps)


async def test_held_tickets_are_capped_per_client_address(db: Database, path: str) -> None:
    caps = BuyerCaps(held_per_address=5)
    event = await make_event(db)
    one = await make_ticket(db, event.id, quantity=100)
    two = await make_ticket(db, event.id, quantity=100, title="Balcony")
    await reserve(db, with_key(order_request(event.id, (one.id, 2), (two.id, 2)), "addr-1"), caps=caps)
    with pytest.raises(TooManyRequests) as caught:
        await reserve(db, with_key(order_request(event.id, (one.id, 1), (two.id, 1)), "addr-1"), caps=caps)
    assert caught.value.limit == "held-per-address"
    with pytest.raises(TooManyRequests):
        await reserve(db, with_key(order_request(event.id, (one.id, 2)), "addr-1"), caps=caps)
    await reserve(db, with_key(order_request(event.id, (one.id, 1)), "addr-1"), caps=caps)  # 5 in all
    await reserve(db, with_key(order_request(event.id, (one.id, 4)), "addr-2"), caps=caps)
    await reserve(db, order_request(event.id, (one.id, 4)), caps=caps)  # no address known
    order = await reserve(db, with_key(order_request(event.id, (one.id, 1)), "addr-2"), caps=caps)
    assert order.client_key == "addr-2"
    assert (await get_order(db, order.id)).client_key == "addr-2"


async def test_caps_at_zero_are_off(db: Database, path: str) -> None:
    event = await make_event(db)
    tt = await make_ticket(db, event.id, quantity=100)
    email = unique_email()
    for _ in range(4):
        await reserve(db, with_key(order_request(event.id, (tt.id, 10), email=email), "same"))
    assert await counters(db, tt.id) == (100, 0, 40)


async def test_expired_holds_do_not_count(db: Database, path: str) -> None:
    from datetime import timedelta

    from boxoffice.clock import utcnow

    caps = BuyerCaps(held_per_email=2)
    event = await make_event(db)
    tt = await make_ticket(db, event.id, quantity=100)
    email = unique_email()
    past = utcnow() - timedelta(hours=1)
    await reserve(db, order_request(event.id, (tt.id, 2), email=email), caps=caps, now=past)
    await reserve(db, order_request(event.id, (tt.id, 2), email=email), caps=caps)


# -- free orders -------------------------------------------------------------------------------------------------


async def test_free_orders_are_capped_per_email_per_day(db: Database) -> None:
    caps = BuyerCaps(held_per_email=100, free_orders_per_email=2)
    event = await make_event(db)
    free = await make_ticket(db, event.id, base_price_cents=0, quantity=100)
    pwyw = await make_ticket(db, event.id, pricing_model="flexible", minimum_price_cents=0, quantity=100)
    email = unique_email("relay")
    await reserve(db, order_request(event.id, (free.id, 1), email=email, name="Spam"), caps=caps)
    await reserve(db, order_request(event.id, (pwyw.id, 1, 0), email=email), caps=caps)
    before = await database_state(db)
    lines: list[tuple[str, int] | tuple[str, int, int | None]] = [(free.id, 1), (pwyw.id, 1, 0)]
    for line in lines:
        with pytest.raises(TooManyRequests) as caught:
            await reserve(db, order_request(event.id, line, email=email), caps=caps)
        assert caught.value.limit == "free-orders-per-email"
        assert 23 * 3600 < caught.value.retry_after <= 24 * 3600
    assert await database_state(db) == before
    # Paying orders and other addresses are not affected.
    paid = await reserve(db, order_request(event.id, (pwyw.id, 1, 500), email=email), caps=caps)
    assert paid.status == "pending"
    assert (await reserve(db, order_request(event.id, (free.id, 1)), caps=caps)).status == "confirmed"


# -- buyers never rename a person --------------------------------------------------------------------------------


async def confirmation_for(db: Database, order_id: str, tmp_path: Path) -> EmailMessage:
    mailer = Mailer(
        db, make_transport(None, tmp_path), secret=b"s", sender="Box <box@example.com>", public_url="http://x"
    )
    return render_confirmation(await mailer.context(order_id), sender=mailer.sender, dedupe_key="k")


def calendar(message: EmailMessage) -> str:
    part = next(p for p in message.walk() if p.get_content_type() == "text/calendar")
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode().replace("\r\n ", "")


@pytest.mark.parametrize("organizer_name", ["Real Organizer", ""])
async def test_a_buyer_with_the_organizers_email_cannot_rename_the_organizer(
    db: Database, path: str, organizer_name: str, tmp_path: Path
) -> None:
    organizer = unique_email("organizer")
    event = await events.create_event(
        db,
        organizer,
        events.EventInput(
            title="Gala",
            starts_at=(start := (await make_event(db)).starts_at),
            ends_at=start.replace(year=start.year + 1),
            timezone="UTC",
            status="published",
        ),
        organizer_name=organizer_name,
    )
    paid = await make_ticket(db, event.id)
    free = await make_ticket(db, event.id, base_price_cents=0, title="Free")
    hostile = "Refunds Desk (reply with your card number)"
    for tt in (paid, free):  # the one-statement path (paid, PostgreSQL) and the general path (free)
        await reserve(db, order_request(event.id, (tt.id, 1), email=organizer.upper(), name=hostile))
    async with db.read() as session:
        person = await events.find_person(session, organizer)
    assert isinstance(person, Person) and person.name == organizer_name
    later = await reserve(db, order_request(event.id, (paid.id, 1), name="Someone"))
    await confirm_order(db, later.id)
    message = await confirmation_for(db, later.id, tmp_path)
    expected = organizer_name or organizer
    (reply_to,) = message["Reply-To"].addresses
    assert (reply_to.display_name, reply_to.addr_spec) == (expected, organizer)
    assert f'ORGANIZER;CN="{expected}":mailto:{organizer}' in calendar(message)
    assert hostile not in message.as_string()


async def test_the_one_statement_reservation_applies_the_caps_itself(pg_db: Database) -> None:
    """On PostgreSQL the flash-sale statement counts the buyer's holds itself: over a cap it takes and writes
    nothing (and the general path then says which cap)."""
    from datetime import timedelta

    from boxoffice.clock import utcnow

    caps = BuyerCaps(held_per_email=3, held_per_address=5)
    event = await make_event(pg_db)
    tt = await make_ticket(pg_db, event.id, quantity=100)
    email = unique_email()
    hold = timedelta(minutes=30)

    async def fused(request: OrderRequest) -> object:
        return await _reserve_in_one_statement(pg_db, request, utcnow(), hold, caps)

    assert await fused(with_key(order_request(event.id, (tt.id, 2), email=email), "k")) is not None
    before = await database_state(pg_db)
    assert await fused(with_key(order_request(event.id, (tt.id, 2), email=email), "other")) is None
    assert await fused(with_key(order_request(event.id, (tt.id, 4)), "k")) is None
    assert await database_state(pg_db) == before
    assert await fused(with_key(order_request(event.id, (tt.id, 3)), "k")) is not None
