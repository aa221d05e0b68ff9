"""The console's XLSX exports read back with openpyxl: the same rows as the CSV, with typed cells (amounts as
numbers in their currency's decimals, times as date-times in the event's time zone named in the header, text that
looks like a formula kept as text); doors refused; an export stopped half-way leaves no file behind."""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from openpyxl import load_workbook
from openpyxl.cell.cell import Cell
from openpyxl.worksheet._writer import ALL_TEMP_FILES
from openpyxl.worksheet.worksheet import Worksheet

from boxoffice.accounts.roles import Role
from boxoffice.ticketing.exports import Amount
from boxoffice.ticketing.orders import get_order
from boxoffice.ticketing.plan import LineRequest, OrderRequest
from boxoffice.web.console.xlsx import MEDIA_TYPE, xlsx_stream
from tests.accounts.support import Member, make_member, sign_in
from tests.helpers import eventually, make_event, make_ticket, unique_email
from tests.server import LiveServer


@pytest.fixture
async def browser(site: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=site.url, timeout=30) as client:
        yield client


async def member(site: LiveServer, **kw: Any) -> Member:
    return await make_member(site.box.db, site.box.settings.secret_bytes, **kw)


async def paid_order(site: LiveServer, event_id: str, tt_id: str, quantity: int, email: str) -> str:
    placed = await site.box.payments.place_order(
        OrderRequest(event_id=event_id, email=email, name="Grace Hopper", lines=[LineRequest(tt_id, quantity)])
    )
    assert site.box.sandbox is not None and placed.order.stripe_checkout_session_id
    await site.box.sandbox.complete_session(placed.order.stripe_checkout_session_id, "pay")

    async def confirmed() -> bool:
        return (await get_order(site.box.db, placed.order.id)).status == "confirmed"

    await eventually(confirmed)
    return placed.order.id


def sheet_of(answer: httpx.Response) -> Worksheet:
    assert answer.status_code == 200, answer.text[:500]
    assert answer.headers["content-type"] == MEDIA_TYPE and ".xlsx" in answer.headers["content-disposition"]
    workbook = load_workbook(io.BytesIO(answer.content))
    sheet = workbook.worksheets[0]
    assert isinstance(sheet, Worksheet)
    return sheet


async def test_orders_xlsx_has_numbers_local_times_and_text_never_a_formula(
    site: LiveServer, browser: httpx.AsyncClient
) -> None:
    owner = await member(site)
    event = await make_event(site.box.db, organizer=owner.organizer_email, timezone="America/New_York")
    tt = await make_ticket(site.box.db, event.id, base_price_cents=1250, quantity=5)
    order_id = await paid_order(site, event.id, tt.id, 2, "=cmd|calc@example.com")
    await site.box.payments.refund(order_id, 405)

    async def refunded() -> bool:
        return (await get_order(site.box.db, order_id)).refunded_cents == 405

    await eventually(refunded)
    order = await get_order(site.box.db, order_id)
    await sign_in(browser, owner.email)

    sheet = sheet_of(await browser.get(f"/manage/events/{event.id}/export/orders.xlsx"))
    rows = list(sheet.iter_rows())
    header = [c.value for c in rows[0]]
    assert header[:3] == ["order_id", "created_at (America/New_York)", "status"]
    assert header[-1] == "confirmed_at (America/New_York)" and "total" in header
    assert len(rows) == 2
    cells = {name: cell for name, cell in zip(header, rows[1], strict=True)}
    assert cells["order_id"].value == order_id and cells["status"].value == "partially_refunded"
    assert cells["email"].value == "=cmd|calc@example.com" and cells["email"].data_type == "s"  # text, no formula
    assert cells["currency"].value == "USD"
    for name, amount in (("subtotal", "25.00"), ("tip", "0"), ("total", "25.00"), ("refunded", "4.05")):
        assert cells[name].data_type == "n" and Decimal(str(cells[name].value)) == Decimal(amount), name
        assert cells[name].number_format == "#,##0.00", name
    assert order.confirmed_at is not None
    confirmed = cells["confirmed_at (America/New_York)"]
    assert isinstance(confirmed, Cell)
    assert confirmed.is_date and confirmed.number_format == "yyyy-mm-dd hh:mm:ss"
    local = order.confirmed_at.astimezone(ZoneInfo("America/New_York")).replace(tzinfo=None)
    assert isinstance(confirmed.value, datetime) and abs((confirmed.value - local).total_seconds()) < 0.002
    assert confirmed.value != order.confirmed_at.astimezone(UTC).replace(tzinfo=None)  # shown in local time


async def test_zero_decimal_amounts_and_the_attendees_sheet(site: LiveServer, browser: httpx.AsyncClient) -> None:
    owner = await member(site)
    event = await make_event(site.box.db, organizer=owner.organizer_email, timezone="UTC", currency="jpy")
    tt = await make_ticket(site.box.db, event.id, title="=HYPERLINK(1)", base_price_cents=1500, currency="jpy")
    order_id = await paid_order(site, event.id, tt.id, 3, unique_email("yui"))
    await sign_in(browser, owner.email)

    orders = list(sheet_of(await browser.get(f"/manage/events/{event.id}/export/orders.xlsx")).values)
    assert orders[0][1] == "created_at (UTC)"
    total = orders[0].index("total")
    assert orders[1][total] == 4500 and orders[1][orders[0].index("currency")] == "JPY"

    attendees = sheet_of(await browser.get(f"/manage/events/{event.id}/export/attendees.xlsx"))
    values = list(attendees.values)
    assert values[0][:3] == ("ticket_id", "ticket_type", "ticket_status")
    assert len(values) == 4 and {v[3] for v in values[1:]} == {order_id}
    assert {v[1] for v in values[1:]} == {"=HYPERLINK(1)"}
    assert all(row[1].data_type == "s" for row in list(attendees.iter_rows())[1:])


async def test_doors_and_other_organizers_get_no_workbook(site: LiveServer, browser: httpx.AsyncClient) -> None:
    owner = await member(site)
    event = await make_event(site.box.db, organizer=owner.organizer_email)
    door = await member(site, role=Role.DOOR, organizer=owner.organizer_email)
    await sign_in(browser, door.email)
    for kind in ("orders", "attendees"):
        refused = await browser.get(f"/manage/events/{event.id}/export/{kind}.xlsx")
        assert refused.status_code == 403 and refused.headers["content-type"] != MEDIA_TYPE
    async with httpx.AsyncClient(base_url=site.url, timeout=30) as stranger_browser:
        stranger = await member(site)
        await sign_in(stranger_browser, stranger.email)
        assert (await stranger_browser.get(f"/manage/events/{event.id}/export/orders.xlsx")).status_code == 404


def _ours() -> set[str]:
    return {n for n in os.listdir(tempfile.gettempdir()) if n.startswith("boxoffice-export-")}


async def test_an_export_that_fails_half_way_leaves_no_file_behind() -> None:
    before, openpyxl_files = _ours(), list(ALL_TEMP_FILES)

    async def rows() -> AsyncIterator[list[Any]]:
        for n in range(2500):
            yield [f"ord_{n}", Amount(n, "usd")]
        raise RuntimeError("the database went away")

    with pytest.raises(RuntimeError, match="went away"):
        async for _ in xlsx_stream("orders", ["order_id", "total"], rows(), ZoneInfo("UTC")):
            pass
    assert _ours() == before and list(ALL_TEMP_FILES) == openpyxl_files
