"""Paging an event's vouchers (``ticketing.voucher_search``) on SQLite and PostgreSQL: every live code once across
the pages in the order they were made, the counts and positions right, a prefix matched as codes compare (any case,
trimmed, ``_`` and ``%`` literal), other events' codes, waiting-list offers and deleted codes left out, an unreadable
cursor read as the start."""

from __future__ import annotations

from boxoffice.db import Database
from boxoffice.ticketing import voucher_codes
from boxoffice.ticketing.voucher_search import decode_cursor, page_vouchers
from tests.helpers import make_event


async def test_pages_hold_every_code_once_with_right_counts(db: Database) -> None:
    event = await make_event(db)
    other = await make_event(db)
    for code in ("a_b", "AXB", "A-B"):
        await voucher_codes.create_vouchers(db, event.id, {"code": code})
    await voucher_codes.create_vouchers(db, other.id, {"code": "AXBOTHER"})
    batch = await voucher_codes.create_vouchers(db, event.id, {"count": 120, "prefix": "Gen-"})
    await voucher_codes.delete_voucher(db, batch.vouchers[0].id)
    made = ["a_b", "AXB", "A-B", *sorted((v.code for v in batch.vouchers[1:]), key=str.upper)]

    seen: list[str] = []
    cursor = None
    firsts = []
    while True:
        page = await page_vouchers(db, event.id, cursor=cursor, limit=50)
        assert (page.matching, page.total) == (122, 122)
        firsts.append(page.first)
        seen += [v.code for v in page.vouchers]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == made and firsts == [1, 51, 101]

    assert [v.code for v in (await page_vouchers(db, event.id, prefix=" a_ ")).vouchers] == ["a_b"]
    assert [v.code for v in (await page_vouchers(db, event.id, prefix="a-")).vouchers] == ["A-B"]
    assert (await page_vouchers(db, event.id, prefix="a%")).vouchers == []  # no wildcard
    everything_a = await page_vouchers(db, event.id, prefix="a")
    assert [v.code for v in everything_a.vouchers] == ["a_b", "AXB", "A-B"] and everything_a.matching == 3
    generated = await page_vouchers(db, event.id, prefix="gen-", limit=100)
    assert (generated.matching, generated.total, generated.first, len(generated.vouchers)) == (119, 122, 1, 100)
    rest = await page_vouchers(db, event.id, prefix="gen-", cursor=generated.next_cursor, limit=100)
    assert (rest.first, len(rest.vouchers), rest.next_cursor) == (101, 19, None)
    nothing = await page_vouchers(db, event.id, prefix="zzz")
    assert (nothing.vouchers, nothing.matching, nothing.first, nothing.next_cursor) == ([], 0, 0, None)
    assert (await page_vouchers(db, event.id, kind="waitlist")).total == 0

    assert decode_cursor("bm90IGEgY3Vyc29y") is None  # "not a cursor"
    assert [v.code for v in (await page_vouchers(db, event.id, cursor="%%%", limit=1)).vouchers] == ["a_b"]
