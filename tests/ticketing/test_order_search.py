"""The console's order search, a page at a time: every order once, newest first, whatever the page size; a cursor
that cannot be read starts over at the first page."""

from __future__ import annotations

from datetime import UTC, datetime

from boxoffice import cursors
from boxoffice.db import Database
from boxoffice.ticketing.order_search import search_orders
from boxoffice.ticketing.reserve import reserve
from tests.helpers import make_event, make_ticket, order_request


async def test_pages_give_every_order_once_newest_first(sqlite_db: Database) -> None:
    event = await make_event(sqlite_db)
    tt = await make_ticket(sqlite_db, event.id, base_price_cents=0, quantity=20)
    made = [(await reserve(sqlite_db, order_request(event.id, (tt.id, 1), name=f"Buyer {i}"))).id for i in range(7)]
    seen: list[str] = []
    cursor: str | None = None
    while True:
        page = await search_orders(sqlite_db, event.id, cursor=cursor, limit=3)
        seen += [order.id for order in page.orders]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert sorted(seen) == sorted(made) and len(seen) == 7
    everything = await search_orders(sqlite_db, event.id, limit=50)
    assert [o.id for o in everything.orders] == seen  # the same order as one long page: newest first
    assert everything.next_cursor is None
    narrowed = await search_orders(sqlite_db, event.id, text="buyer 3")
    assert [o.name for o in narrowed.orders] == ["Buyer 3"]
    assert [o.id for o in (await search_orders(sqlite_db, event.id, cursor="%%garbage", limit=50)).orders] == seen


def test_a_cursor_reads_back_its_position_and_a_mangled_one_is_the_first_page() -> None:
    at = datetime(2026, 12, 2, 6, 30, 15, 123456, tzinfo=UTC)
    assert cursors.decode(cursors.encode(at, "ord_1|2")) == (at, "ord_1|2")
    assert cursors.decode(None) is None
    assert cursors.decode("x" * 201) is None
    assert cursors.decode("bm90IGEgY3Vyc29y") is None  # "not a cursor"
    assert cursors.decode(cursors.encode(at.replace(tzinfo=None), "k")) is None  # a time without its zone
