"""An organizer's events a page at a time (both databases): every event once across the pages, in the order asked,
filtered by status and by whether it is over; a cursor keeps its place when events are created meanwhile; each
page's sales come from a fixed number of statements, however many events it has."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event as sa_event

from boxoffice.db import Database
from boxoffice.errors import ErrorCode, InvalidInput
from boxoffice.events import listing
from boxoffice.events import service as events
from boxoffice.events.models import Event
from boxoffice.ticketing.orders import confirm_order, record_refund
from boxoffice.ticketing.reserve import reserve
from boxoffice.ticketing.sales import EventSales, sales_by_event
from boxoffice.ticketing.ticket_types import delete_ticket_type
from tests.helpers import make_event, make_ticket, order_request, unique_email


async def walk(db: Database, organizer_id: str, **kw: Any) -> list[list[str]]:
    """Every page's event ids, following the cursors to the end."""
    pages: list[list[str]] = []
    cursor = None
    while True:
        page = await listing.list_events(db, organizer_id, cursor=cursor, **kw)
        pages.append([e.id for e in page.events])
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor


async def organizer_with_events(db: Database, starts_in_days: list[int]) -> tuple[str, list[Event]]:
    email = unique_email("lister")
    made = [
        await make_event(db, organizer=email, days=days, title=f"Show {i}") for i, days in enumerate(starts_in_days)
    ]
    return made[0].organizer_id, made


async def test_pages_cover_every_event_once_in_each_order(db: Database) -> None:
    organizer_id, made = await organizer_with_events(db, [5, -3, 12, 1, 30, -40, 7])
    by_id = {e.id: e for e in made}
    newest = await walk(db, organizer_id, limit=3)
    assert [len(p) for p in newest] == [3, 3, 1]
    flat = [i for page in newest for i in page]
    assert sorted(flat) == sorted(by_id)
    assert flat == [e.id for e in sorted(made, key=lambda e: (e.created_at, e.id), reverse=True)]
    by_start = [i for page in await walk(db, organizer_id, sort="start", limit=2) for i in page]
    assert by_start == [e.id for e in sorted(made, key=lambda e: (e.starts_at, e.id))]
    latest = [i for page in await walk(db, organizer_id, sort="start_desc", limit=4) for i in page]
    assert latest == list(reversed(by_start))
    # a page that ends exactly at the last event says so: no empty page after it
    assert [len(p) for p in await walk(db, organizer_id, limit=7)] == [7]


async def test_filters_by_status_and_by_whether_it_is_over(db: Database) -> None:
    organizer_id, made = await organizer_with_events(db, [5, -3, 12, -40])
    await events.update_event(db, made[2].id, events.EventInput(status="draft"))
    await events.update_event(db, made[3].id, events.EventInput(status="sales_paused"))
    now = datetime.now(UTC)

    async def ids(**kw: Any) -> set[str]:
        return {i for page in await walk(db, organizer_id, now=now, **kw) for i in page}

    assert await ids(when="upcoming") == {made[0].id, made[2].id}
    assert await ids(when="past") == {made[1].id, made[3].id}
    assert await ids(status="draft") == {made[2].id}
    assert await ids(status="sales_paused", when="past") == {made[3].id}
    assert await ids(status="canceled") == set()
    # another organizer's events never show
    other_id, _ = await organizer_with_events(db, [2])
    assert not (await ids()) & {i for page in await walk(db, other_id) for i in page}


async def test_a_cursor_keeps_its_place_when_events_are_created_meanwhile(db: Database) -> None:
    organizer_id, made = await organizer_with_events(db, [1, 2, 3, 4])
    first = await listing.list_events(db, organizer_id, limit=2)
    created = await make_event(db, organizer=(await events.get_person(db, organizer_id)).email, days=9)
    rest = await listing.list_events(db, organizer_id, limit=10, cursor=first.next_cursor)
    seen = [e.id for e in first.events] + [e.id for e in rest.events]
    assert sorted(seen) == sorted(e.id for e in made) and created.id not in seen  # newer: before page one
    assert rest.next_cursor is None


@pytest.mark.parametrize(
    ("kw", "field", "code"),
    [
        ({"cursor": "not-a-cursor"}, "cursor", ErrorCode.INVALID_FORMAT),
        ({"status": "hidden"}, "status", ErrorCode.INVALID_CHOICE),
        ({"sort": "title"}, "sort", ErrorCode.INVALID_CHOICE),
        ({"limit": 0}, "limit", ErrorCode.BELOW_MINIMUM),
        ({"limit": 101}, "limit", ErrorCode.ABOVE_MAXIMUM),
    ],
)
async def test_bad_listing_requests_name_their_field(
    sqlite_db: Database, kw: dict[str, Any], field: str, code: ErrorCode
) -> None:
    with pytest.raises(InvalidInput) as caught:
        await listing.list_events(sqlite_db, "per_x", **kw)
    assert [(e.field, e.code) for e in caught.value.errors] == [(field, code)]


async def test_a_cursor_belongs_to_its_sort(sqlite_db: Database) -> None:
    organizer_id, _ = await organizer_with_events(sqlite_db, [1, 2, 3])
    page = await listing.list_events(sqlite_db, organizer_id, limit=1)
    assert page.next_cursor is not None
    with pytest.raises(InvalidInput):
        await listing.list_events(sqlite_db, organizer_id, sort="start", cursor=page.next_cursor)


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    sa_event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        sa_event.remove(db.engine.sync_engine, "before_cursor_execute", count)


async def test_sales_per_event_from_one_aggregate_query(db: Database) -> None:
    organizer_id, made = await organizer_with_events(db, [10, 20, 30])
    rich, hidden_sale, empty = made
    general = await make_ticket(db, rich.id, quantity=100, base_price_cents=2000)
    await make_ticket(db, rich.id, title="VIP", quantity=10, base_price_cents=5000)
    paid = await reserve(db, order_request(rich.id, (general.id, 3)))
    await confirm_order(db, paid.id)
    refunded = await reserve(db, order_request(rich.id, (general.id, 1)))
    await confirm_order(db, refunded.id)
    await record_refund(db, refunded.id, 500)  # partial: the ticket stays sold
    await reserve(db, order_request(rich.id, (general.id, 2)))  # held, not paid: not sold, not gross
    gone = await make_ticket(db, hidden_sale.id, quantity=50, base_price_cents=1000)
    sold_gone = await reserve(db, order_request(hidden_sale.id, (gone.id, 2)))
    await confirm_order(db, sold_gone.id)
    assert await delete_ticket_type(db, gone.id)  # hidden: its 48 unsold are no longer on offer
    sales = await sales_by_event(db, [e.id for e in made])
    assert sales[rich.id] == EventSales(sold=4, capacity=110, gross_cents=8000, refunded_cents=500)
    assert sales[hidden_sale.id] == EventSales(sold=2, capacity=2, gross_cents=2000, refunded_cents=0)
    assert sales[empty.id] == EventSales()
    # no query per event: the same number of statements for one event as for all of them
    with statements(db) as one:
        await sales_by_event(db, [rich.id])
    with statements(db) as three:
        await sales_by_event(db, [e.id for e in made])
    assert len(one) == len(three) and sum("ticket_types" in s for s in three) == 1
    with statements(db) as none:
        assert await sales_by_event(db, []) == {}
    assert none == []
    assert organizer_id
