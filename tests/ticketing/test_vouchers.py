"""Vouchers in reservations and the order lifecycle, on SQLite and PostgreSQL (both reservation paths): prices and
the pricing snapshot, every refusal, uses taken and given back exactly once, hidden ticket types, reservations."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from boxoffice.clock import utcnow
from boxoffice.db import Database
from boxoffice.errors import ErrorCode, InvalidInput, SoldOut, VoucherUnavailable
from boxoffice.ids import new_id
from boxoffice.ticketing import reserve as reserve_module
from boxoffice.ticketing import voucher_codes
from boxoffice.ticketing.models import Order, TicketType
from boxoffice.ticketing.orders import cancel_order, confirm_order, expire_order, fail_order, record_refund
from boxoffice.ticketing.plan import OrderRequest
from boxoffice.ticketing.reserve import reserve
from boxoffice.ticketing.ticket_types import availability, delete_ticket_type, update_ticket_type
from boxoffice.ticketing.voucher_models import Voucher, VoucherUse
from tests.helpers import counters, make_event, make_ticket, order_request
from tests.ticketing.test_fused_reserve import stored


def with_voucher(request: OrderRequest, code: str) -> OrderRequest:
    return dataclasses.replace(request, voucher=code)


async def make_voucher(db: Database, event_id: str, **fields: Any) -> Voucher:
    fields.setdefault("code", "SPRING20")
    return (await voucher_codes.create_vouchers(db, event_id, fields)).vouchers[0]


async def voucher_state(db: Database, voucher_id: str) -> tuple[int, int, int]:
    """(uses taken, tickets still set aside, uses recorded on live order lines)."""
    async with db.read() as session:
        voucher = await session.get(Voucher, voucher_id, populate_existing=True)
        live = await session.scalar(
            select(func.coalesce(func.sum(VoucherUse.quantity), 0)).where(
                VoucherUse.voucher_id == voucher_id, VoucherUse.released_at.is_(None)
            )
        )
    assert voucher is not None
    return voucher.uses_taken, voucher.reserved_left, int(live or 0)


@pytest.fixture(params=["fused", "general"])
def path(request: pytest.FixtureRequest, db: Database, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both reservation paths on PostgreSQL (SQLite has the general one only)."""
    if request.param == "fused" and db.dialect != "postgresql":
        return "general"
    monkeypatch.setattr(db, "one_statement_reservations", request.param == "fused")
    return str(request.param)


async def test_a_percent_voucher_discounts_the_lines_it_applies_to_and_says_so(db: Database, path: str) -> None:
    event = await make_event(db)
    ga = await make_ticket(db, event.id, title="GA", base_price_cents=2500)
    vip = await make_ticket(db, event.id, title="VIP", base_price_cents=9000)
    voucher = await make_voucher(db, event.id, code="Spring20", discount={"percent": 20}, ticket_ids=[ga.id])
    order = await reserve(db, with_voucher(order_request(event.id, (ga.id, 2), (vip.id, 1)), "sPrInG20"))
    assert [line.unit_prices for line in order.lines] == [[2000, 2000], [9000]]
    assert order.total_cents == 2 * 2000 + 9000
    snapshot = order.pricing_snapshot
    assert snapshot["voucher"] == {"id": voucher.id, "code": "Spring20", "kind": "voucher", "discount": {"percent": 20}}
    assert snapshot["lines"][0]["voucher_code"] == "Spring20"
    assert snapshot["lines"][0]["undiscounted_unit_prices"] == [2500, 2500]
    assert snapshot["lines"][0]["discount_cents"] == 1000
    assert "voucher_code" not in snapshot["lines"][1]
    assert await voucher_state(db, voucher.id) == (2, 0, 2)
    async with db.read() as session:
        uses = (await session.scalars(select(VoucherUse).where(VoucherUse.order_id == order.id))).all()
    assert [(u.order_line_id, u.quantity, u.discount_cents) for u in uses] == [(order.lines[0].id, 2, 1000)]


async def test_both_paths_write_the_same_rows_with_a_voucher(pg_db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    event = await make_event(pg_db)
    tt = await make_ticket(pg_db, event.id, quantity=10, base_price_cents=1500)
    await make_voucher(pg_db, event.id, code="SAME", discount={"amount_cents": 500}, max_uses=10)
    rows = []
    for fused in (True, False):
        monkeypatch.setattr(pg_db, "one_statement_reservations", fused)
        with monkeypatch.context() as patched:
            if fused:  # the voucher order is one statement: the general path is never reached

                async def general(*args: object) -> None:
                    raise AssertionError("the general path was taken")

                patched.setattr(reserve_module, "_load_plan", general)
            order = await reserve(
                pg_db, with_voucher(order_request(event.id, (tt.id, 2), email=f"s{fused}@x.org"), "same")
            )
        row = await stored(pg_db, order.id)
        row["order"].pop("email"), row.pop("person"), row.pop("availability")
        async with pg_db.read() as session:
            use = (await session.scalars(select(VoucherUse).where(VoucherUse.order_id == order.id))).one()
        row["use"] = (use.quantity, use.reserved, use.discount_cents, use.released_at)
        rows.append(row)
    assert rows[0] == rows[1]
    assert rows[0]["use"] == (2, 0, 1000, None)


async def test_every_refusal_has_its_code_and_takes_nothing(db: Database, path: str) -> None:
    event = await make_event(db)
    tt = await make_ticket(db, event.id, quantity=10)
    other = await make_ticket(db, event.id, title="Other", quantity=10)
    now = utcnow()
    await make_voucher(db, event.id, code="LATE", valid_until=now - timedelta(minutes=1))
    await make_voucher(db, event.id, code="EARLY", valid_from=now + timedelta(days=1))
    await make_voucher(db, event.id, code="FEW", max_uses=3, max_per_order=5)
    await make_voucher(db, event.id, code="NARROW", ticket_ids=[other.id], max_per_order=1)

    async def refusal(code: str, quantity: int, ticket_id: str = tt.id) -> tuple[str, ErrorCode, int | None]:
        with pytest.raises((InvalidInput, VoucherUnavailable)) as exc:
            await reserve(db, with_voucher(order_request(event.id, (ticket_id, quantity)), code))
        (error,) = exc.value.field_errors()
        status = "409" if isinstance(exc.value, VoucherUnavailable) else "422"
        return status, error.code, error.amount("remaining")

    assert await refusal("NOPE", 1) == ("422", ErrorCode.VOUCHER_UNKNOWN, None)
    assert await refusal("late", 1) == ("409", ErrorCode.VOUCHER_EXPIRED, None)
    assert await refusal("early", 1) == ("409", ErrorCode.VOUCHER_NOT_YET_VALID, None)
    assert await refusal("few", 4) == ("409", ErrorCode.VOUCHER_USED_UP, 3)
    assert await refusal("narrow", 1) == ("422", ErrorCode.VOUCHER_NOT_APPLICABLE, None)
    assert await refusal("narrow", 2, other.id) == ("422", ErrorCode.OVER_LIMIT, None)
    assert await counters(db, tt.id) == (10, 0, 0)
    async with db.read() as session:
        assert await session.scalar(select(func.count()).select_from(Order).where(Order.event_id == event.id)) == 0


async def test_uses_come_back_once_whichever_way_the_order_ends(db: Database, path: str) -> None:
    event = await make_event(db)
    tt = await make_ticket(db, event.id, quantity=20)
    voucher = await make_voucher(db, event.id, code="TWICE", max_uses=6, discount={"percent": 10})
    orders = [await reserve(db, with_voucher(order_request(event.id, (tt.id, 2)), "twice")) for _ in range(3)]
    assert await voucher_state(db, voucher.id) == (6, 0, 6)
    with pytest.raises(VoucherUnavailable):
        await reserve(db, with_voucher(order_request(event.id, (tt.id, 1)), "twice"))
    expired, canceled, failed = orders
    for _ in range(2):  # a repeated transition gives nothing back twice
        await expire_order(db, expired.id, force=True)
        await cancel_order(db, canceled.id)
        await fail_order(db, failed.id, reason="declined")
    assert await voucher_state(db, voucher.id) == (0, 0, 0)
    assert await counters(db, tt.id) == (20, 0, 0)
    # a refund of a paid order gives its uses back too, once
    paid = await reserve(db, with_voucher(order_request(event.id, (tt.id, 2)), "twice"))
    await confirm_order(db, paid.id, payment_intent_id=new_id("pi"))
    assert await voucher_state(db, voucher.id) == (2, 0, 2)
    for _ in range(2):
        await record_refund(db, paid.id, paid.total_cents)
    assert await voucher_state(db, voucher.id) == (0, 0, 0)


async def test_a_late_payment_retakes_its_uses_or_is_refunded_when_the_voucher_is_used_up(db: Database) -> None:
    event = await make_event(db)
    tt = await make_ticket(db, event.id, quantity=20)
    voucher = await make_voucher(db, event.id, code="ONE", max_uses=1, discount={"percent": 50})
    first = await reserve(db, with_voucher(order_request(event.id, (tt.id, 1)), "one"))
    await expire_order(db, first.id, force=True)
    late = await confirm_order(db, first.id, payment_intent_id=new_id("pi"))
    assert late.outcome == "confirmed_late" and await voucher_state(db, voucher.id) == (1, 0, 1)
    await record_refund(db, first.id, first.total_cents)
    second = await reserve(db, with_voucher(order_request(event.id, (tt.id, 1)), "one"))
    await expire_order(db, second.id, force=True)
    third = await reserve(db, with_voucher(order_request(event.id, (tt.id, 1)), "one"))  # takes the use meanwhile
    gone = await confirm_order(db, second.id, payment_intent_id=new_id("pi"))
    assert gone.outcome == "tickets_unavailable"
    assert await voucher_state(db, voucher.id) == (1, 0, 1)
    assert await counters(db, tt.id) == (20, 0, 1)
    assert third.status == "pending"


async def test_hidden_ticket_types_sell_only_with_a_code_that_unlocks_them(db: Database, path: str) -> None:
    event = await make_event(db)
    crew = await make_ticket(db, event.id, title="Crew", quantity=5, hidden=True, base_price_cents=0)
    public = await make_ticket(db, event.id, title="GA", quantity=5)
    await make_voucher(db, event.id, code="CREW-2027", unlocks=[crew.id])
    await make_voucher(db, event.id, code="OTHER")
    with pytest.raises(InvalidInput) as no_code:
        await reserve(db, order_request(event.id, (crew.id, 1)))
    assert no_code.value.errors[0].code == ErrorCode.NOT_FOUND
    with pytest.raises(InvalidInput):
        await reserve(db, with_voucher(order_request(event.id, (crew.id, 1)), "other"))
    free = await reserve(db, with_voucher(order_request(event.id, (crew.id, 1), (public.id, 1)), "crew-2027"))
    assert free.lines[0].unit_prices == [0] and free.total_cents == 1500
    assert [a.ticket_type_id for a in await availability(db, event.id)] == [crew.id, public.id]


async def test_a_comp_voucher_makes_a_free_order_confirmed_at_once(db: Database, path: str) -> None:
    event = await make_event(db)
    tt = await make_ticket(db, event.id, quantity=5)
    voucher = await make_voucher(db, event.id, code="COMP", discount={"price_cents": 0}, max_uses=2)
    order = await reserve(db, with_voucher(order_request(event.id, (tt.id, 2)), "comp"))
    assert (order.status, order.total_cents) == ("confirmed", 0)
    assert await voucher_state(db, voucher.id) == (2, 0, 2)
    assert await counters(db, tt.id) == (5, 2, 0)


async def test_a_reservation_sets_tickets_aside_for_the_codes_holders(db: Database, path: str) -> None:
    event = await make_event(db)
    tt = await make_ticket(db, event.id, quantity=5)
    press = await make_voucher(db, event.id, code="PRESS", ticket_ids=[tt.id], reserve=3, max_uses=4)
    assert await counters(db, tt.id) == (5, 0, 0)
    assert [(a.available, a.reserved) for a in await availability(db, event.id)] == [(2, 3)]
    await reserve(db, order_request(event.id, (tt.id, 2)))
    with pytest.raises(SoldOut):
        await reserve(db, order_request(event.id, (tt.id, 1)))
    holder = await reserve(db, with_voucher(order_request(event.id, (tt.id, 3)), "press"))
    assert await voucher_state(db, press.id) == (3, 0, 3)
    async with db.read() as session:
        use = (await session.scalars(select(VoucherUse).where(VoucherUse.order_id == holder.id))).one()
    assert use.reserved == 3
    # the holder's hold ends: the tickets go back to the code's holders, not to the public
    await expire_order(db, holder.id, force=True)
    assert await voucher_state(db, press.id) == (0, 3, 0)
    with pytest.raises(SoldOut):
        await reserve(db, order_request(event.id, (tt.id, 1)))
    # the organizer shrinks the reservation: the tickets it no longer needs go on sale
    await voucher_codes.update_voucher(db, press.id, {"reserve": 1})
    assert await voucher_state(db, press.id) == (0, 1, 0)
    assert [(a.available, a.reserved) for a in await availability(db, event.id)] == [(2, 1)]
    with pytest.raises(InvalidInput):  # never below what is sold, held or set aside
        await update_ticket_type(db, tt.id, {"quantity": 2})
    await voucher_codes.delete_voucher(db, press.id)
    assert [(a.available, a.reserved) for a in await availability(db, event.id)] == [(3, 0)]


async def test_a_reservation_needs_the_tickets_and_a_lapsed_one_goes_back_on_sale(db: Database) -> None:
    event = await make_event(db)
    tt = await make_ticket(db, event.id, quantity=4)
    with pytest.raises(SoldOut):
        await make_voucher(db, event.id, code="BIG", ticket_ids=[tt.id], reserve=5)
    soon = await make_voucher(db, event.id, code="SOON", ticket_ids=[tt.id], reserve=3)
    assert await voucher_codes.end_lapsed_reservations(db) == 0
    await voucher_codes.update_voucher(db, soon.id, {"valid_until": utcnow() + timedelta(hours=1)})
    assert await voucher_codes.end_lapsed_reservations(db, now=utcnow() + timedelta(hours=2)) == 1
    assert await voucher_state(db, soon.id) == (0, 0, 0)
    assert [(a.available, a.reserved) for a in await availability(db, event.id)] == [(4, 0)]


async def test_codes_are_unique_per_event_whatever_their_case(db: Database) -> None:
    event = await make_event(db)
    other = await make_event(db)
    await make_voucher(db, event.id, code="Summer")
    with pytest.raises(InvalidInput) as taken:
        await make_voucher(db, event.id, code="SUMMER")
    assert taken.value.errors[0].field == "code"
    await make_voucher(db, other.id, code="summer")  # another event may have it
    batch = await voucher_codes.create_vouchers(db, event.id, {"count": 25, "prefix": "VIP-", "max_uses": 1})
    codes = [v.code for v in batch.vouchers]
    assert len(set(codes)) == 25 and all(c.startswith("VIP-") and len(c) == 14 for c in codes)
    csv = await voucher_codes.export_csv(db, event.id, batch_id=batch.batch_id)
    assert csv.splitlines()[0].startswith("code,batch,discount")
    assert sorted(line.split(",")[0] for line in csv.splitlines()[1:]) == sorted(codes)


async def test_a_changed_voucher_is_never_priced_from_a_kept_copy(db: Database, path: str) -> None:
    event = await make_event(db)
    tt = await make_ticket(db, event.id, quantity=10, base_price_cents=2000)
    voucher = await make_voucher(db, event.id, code="KEPT", discount={"percent": 10})
    first = await reserve(db, with_voucher(order_request(event.id, (tt.id, 1)), "kept"))
    assert first.total_cents == 1800  # the one-statement path now keeps this voucher for a few seconds
    await voucher_codes.update_voucher(db, voucher.id, {"discount": {"percent": 50}})
    second = await reserve(db, with_voucher(order_request(event.id, (tt.id, 1)), "kept"))
    assert second.total_cents == 1000
    await voucher_codes.update_voucher(db, voucher.id, {"valid_until": utcnow() - timedelta(seconds=1)})
    with pytest.raises(VoucherUnavailable):
        await reserve(db, with_voucher(order_request(event.id, (tt.id, 1)), "kept"))
    await voucher_codes.delete_voucher(db, voucher.id)
    with pytest.raises(InvalidInput):
        await reserve(db, with_voucher(order_request(event.id, (tt.id, 1)), "kept"))
    assert await voucher_state(db, voucher.id) == (2, 0, 2)


async def test_a_ticket_type_with_tickets_set_aside_is_hidden_not_deleted(db: Database) -> None:
    event = await make_event(db)
    tt = await make_ticket(db, event.id, quantity=4)
    press = await make_voucher(db, event.id, code="KEEPROW", ticket_ids=[tt.id], reserve=2)
    assert await delete_ticket_type(db, tt.id) is True  # hidden: the voucher's reservation refers to it
    await voucher_codes.delete_voucher(db, press.id)  # and its reservation still goes back
    async with db.read() as session:
        row = await session.get(TicketType, tt.id, populate_existing=True)
    assert row is not None and (row.reserved_count, row.deleted_at is not None) == (0, True)
