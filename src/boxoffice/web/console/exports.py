"""CSV exports of an event's orders and attendees (owners and managers): streamed row by row from keyset batches
(``ticketing.exports``), so memory stays flat whatever the size. A cell that a spreadsheet would run as a formula
(starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) is prefixed with ``'``.

XLSX is left out: openpyxl is not a dependency, and CSV opens in every spreadsheet."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from boxoffice.attendees.questions import list_questions
from boxoffice.ticketing.exports import ORDER_COLUMNS, attendee_header, iter_order_rows, iter_ticket_holders
from boxoffice.web.console.access import NO_STORE, ConsoleRoute, OwnerOrManager, _box
from boxoffice.web.console.dashboard import owned_event

router = APIRouter(include_in_schema=False, route_class=ConsoleRoute)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _line(cells: Iterable[Any]) -> str:
    out = io.StringIO()
    csv.writer(out).writerow([safe_cell(c) for c in cells])
    return out.getvalue()


async def _csv(header: Iterable[str], rows: AsyncIterator[list[Any]]) -> AsyncIterator[str]:
    yield "\ufeff" + _line(header)  # the BOM: spreadsheets then read UTF-8 names right
    async for row in rows:
        yield _line(row)


def _download(name: str, body: AsyncIterator[str]) -> Response:
    headers = {**NO_STORE, "Content-Disposition": f'attachment; filename="{name}"'}
    return StreamingResponse(body, media_type="text/csv; charset=utf-8", headers=headers)


@router.get("/manage/events/{event_id}/export/orders.csv")
async def export_orders(request: Request, event_id: str, member: OwnerOrManager) -> Response:
    event = await owned_event(request, member, event_id)
    return _download(f"orders-{event.id}.csv", _csv(ORDER_COLUMNS, iter_order_rows(_box(request).db, event.id)))


@router.get("/manage/events/{event_id}/export/attendees.csv")
async def export_attendees(request: Request, event_id: str, member: OwnerOrManager) -> Response:
    event = await owned_event(request, member, event_id)
    db = _box(request).db
    questions = await list_questions(db, event.id, include_deleted=True)
    rows = iter_ticket_holders(db, event.id, questions)
    return _download(f"attendees-{event.id}.csv", _csv(attendee_header(questions), rows))
