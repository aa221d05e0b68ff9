"""The vouchers page a hundred codes at a time: every code shown once across the pages, the counts (which codes of
how many, how many in all) right on every page and under a search by the start of a code (any case, ``_`` taken
literally), a code's uses right on a later page, a code deleted between two pages skipping nothing."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator

import httpx
import pytest

from boxoffice.ticketing import voucher_codes
from boxoffice.ticketing.reserve import reserve
from tests.accounts.support import make_member, sign_in
from tests.helpers import make_event, make_ticket, order_request
from tests.server import LiveServer

CODE = re.compile(r'<a href="/manage/events/[^/"]+/vouchers/[^"]+" class="mono">([^<]+)</a>')
NEXT = re.compile(r'<a class="button secondary" href="\?([^"]+)">Next codes</a>')


@pytest.fixture
async def browser(site: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=site.url, timeout=30) as client:
        yield client


def codes_on(page: httpx.Response) -> list[str]:
    assert page.status_code == 200, page.text[:500]
    return CODE.findall(page.text)


def count_line(page: httpx.Response) -> str:
    line = page.text.split('<p class="muted" data-count>', 1)[1].split("</p>", 1)[0]
    return line.replace("&amp;", "&")


def next_query(page: httpx.Response) -> str | None:
    found = NEXT.search(page.text)
    return found.group(1).replace("&amp;", "&") if found else None


async def test_codes_are_paged_with_right_counts_and_searched_by_their_start(
    site: LiveServer, browser: httpx.AsyncClient
) -> None:
    db = site.box.db
    owner = await make_member(db, site.box.settings.secret_bytes)
    event = await make_event(db, organizer=owner.organizer_email, currency="eur")
    general = await make_ticket(db, event.id, title="General", base_price_cents=2000, quantity=50)
    for code in ("SP_ONE", "SPXONE", "SPONSOR"):
        await voucher_codes.create_vouchers(db, event.id, {"code": code, "discount": {"percent": 10}})
    batch = await voucher_codes.create_vouchers(
        db, event.id, {"count": 205, "prefix": "BULK-", "discount": {"percent": 50}, "max_uses": 3}
    )
    await sign_in(browser, owner.email)
    url = f"/manage/events/{event.id}/vouchers"

    first = await browser.get(url)
    shown = codes_on(first)
    assert len(shown) == 100 and shown[:3] == ["SP_ONE", "SPXONE", "SPONSOR"]  # in the order they were made
    assert count_line(first) == "Codes 1 to 100 of 208."
    assert "Back to the first page" not in first.text
    query = next_query(first)
    assert query is not None and query.startswith("after=")

    second = await browser.get(f"{url}?{query}")
    assert count_line(second) == "Codes 101 to 200 of 208."
    shown += codes_on(second)
    # An order takes two uses of a code on the last page; a code of the next page is deleted meanwhile.
    later = sorted(v.code for v in batch.vouchers)[-5:]
    used = next(v for v in batch.vouchers if v.code == later[0])
    placed = await reserve(db, dataclasses.replace(order_request(event.id, (general.id, 2)), voucher=used.code.lower()))
    assert placed.total_cents == 2 * 1000
    gone = next(v for v in batch.vouchers if v.code == later[1])
    await voucher_codes.delete_voucher(db, gone.id)
    query = next_query(second)
    assert query is not None

    third = await browser.get(f"{url}?{query}")
    last = codes_on(third)
    assert count_line(third) == "Codes 201 to 207 of 207."
    assert next_query(third) is None and "Back to the first page" in third.text
    shown += last
    assert len(shown) == len(set(shown)) == 207  # each code once, the deleted one skipped, none other
    assert set(shown) == {"SP_ONE", "SPXONE", "SPONSOR"} | {v.code for v in batch.vouchers} - {gone.code}
    row = third.text[third.text.index(f">{used.code}</a>") :]
    row = row[: row.index("</tr>")]
    assert "2 / 3" in row and "<td>1</td>" in row  # its uses and what remains

    bulk = await browser.get(url, params={"q": " bulk- "})
    assert len(codes_on(bulk)) == 100 and all(code.startswith("BULK-") for code in codes_on(bulk))
    assert count_line(bulk) == "Codes 1 to 100 of 204 starting with “bulk-” (207 in all)."
    assert 'value="bulk-"' in bulk.text and "Show all codes" in bulk.text
    query = next_query(bulk)
    assert query is not None and query.startswith("q=bulk-&after=")
    more = await browser.get(f"{url}?{query}")
    assert count_line(more) == "Codes 101 to 200 of 204 starting with “bulk-” (207 in all)."
    assert all(code.startswith("BULK-") for code in codes_on(more))

    literal = await browser.get(url, params={"q": "sp_"})  # "_" is a character of codes, not a wildcard
    assert codes_on(literal) == ["SP_ONE"] and count_line(literal) == "1 code starting with “sp_” (207 in all)."
    sponsors = await browser.get(url, params={"q": "SP"})
    assert codes_on(sponsors) == ["SP_ONE", "SPXONE", "SPONSOR"]
    assert count_line(sponsors) == "3 codes starting with “SP” (207 in all)."
    none = await browser.get(url, params={"q": "100%"})
    assert codes_on(none) == [] and "No code starts with “100%”." in none.text

    forged = await browser.get(url, params={"after": "not a cursor"})  # unreadable: the first page
    assert codes_on(forged)[:3] == ["SP_ONE", "SPXONE", "SPONSOR"]


async def test_an_event_without_codes_offers_no_search(site: LiveServer, browser: httpx.AsyncClient) -> None:
    owner = await make_member(site.box.db, site.box.settings.secret_bytes)
    event = await make_event(site.box.db, organizer=owner.organizer_email)
    await sign_in(browser, owner.email)
    page = await browser.get(f"/manage/events/{event.id}/vouchers")
    assert page.status_code == 200 and "No vouchers yet." in page.text and 'role="search"' not in page.text
