"""Exports of an event's orders and attendees (owners and managers), as CSV or XLSX, read in keyset batches
(``ticketing.exports``), so memory stays flat whatever the size.

CSV is streamed row by row; a cell that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return) is prefixed with ``'``; amounts are plain numbers (``12.50``), times ISO 8601 in
UTC. XLSX (``xlsx``: openpyxl's write-only workbook, built on disk then streamed) keeps the cells' types: amounts as
numbers with their currency's decimals, times as date-times in the event's time zone (named in the header), text as
text (never a formula)."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from boxoffice.attendees.questions import list_questions
from boxoffice.events.models import Event
from boxoffice.ticketing.exports import ORDER_COLUMNS, attendee_header, iter_order_rows, iter_ticket_holders, plain
from boxoffice.web.console.access import NO_STORE, ConsoleRoute, OwnerOrManager, _box
from boxoffice.web.console.dashboard import owned_event

router = APIRouter(include_in_schema=False, route_class=ConsoleRoute)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> str:
    text = plain(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _line(cells: Iterable[Any]) -> str:
    out = io.StringIO()
    csv.writer(out).writerow([safe_cell(c) for c in cells])
    return out.getvalue()


async def _csv(header: Iterable[str], rows: AsyncIterator[list[Any]]) -> AsyncIterator[str]:
    yield "\ufeff" + _line(header)  # the BOM: spreadsheets then read UTF-8 names right
    async for row in rows:
        yield _line(row)


def _download(name: str, body: AsyncIterator[str] | AsyncIterator[bytes], media_type: str) -> Response:
    headers = {**NO_STORE, "Content-Disposition": f'attachment; filename="{name}"'}
    return StreamingResponse(body, media_type=media_type, headers=headers)


def _file(event: Event, kind: str, fmt: str, header: list[str], rows: AsyncIterator[list[Any]]) -> Response:
    name = f"{kind}-{event.id}.{fmt}"
    if fmt == "xlsx":
        # openpyxl (about 200 modules, 7.6 MB per process) is loaded by the first XLSX export, not by every web worker
        from boxoffice.web.console.xlsx import MEDIA_TYPE, time_zone, xlsx_stream

        return _download(name, xlsx_stream(kind, header, rows, time_zone(event.timezone)), MEDIA_TYPE)
    return _download(name, _csv(header, rows), "text/csv; charset=utf-8")


@router.get("/manage/events/{event_id}/export/orders.csv")
@router.get("/manage/events/{event_id}/export/orders.xlsx")
async def export_orders(request: Request, event_id: str, member: OwnerOrManager) -> Response:
    event = await owned_event(request, member, event_id)
    rows = iter_order_rows(_box(request).db, event.id)
    return _file(event, "orders", request.url.path.rsplit(".", 1)[1], list(ORDER_COLUMNS), rows)


@router.get("/manage/events/{event_id}/export/attendees.csv")
@router.get("/manage/events/{event_id}/export/attendees.xlsx")
async def export_attendees(request: Request, event_id: str, member: OwnerOrManager) -> Response:
    event = await owned_event(request, member, event_id)
    db = _box(request).db
    questions = await list_questions(db, event.id, include_deleted=True)
    rows = iter_ticket_holders(db, event.id, questions)
    return _file(event, "attendees", request.url.path.rsplit(".", 1)[1], attendee_header(questions), rows)
