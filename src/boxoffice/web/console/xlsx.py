"""XLSX files of the console's exports (``exports``), with openpyxl's write-only workbook: rows go to a temporary
file on disk as they come (one batch in memory), then the workbook is zipped into a second temporary file that is
streamed to the client and deleted. Memory stays flat whatever the size; the answer starts once the file is built.

Cells keep their types: an ``Amount`` is a number (exact, from ``Decimal``) with a number format of its currency's
decimals (``#,##0.00``; the currency is the row's ``currency`` column), a time is a date-time in the event's time
zone (Excel has no time zones: the header names it, ``created_at (Europe/Paris)``), text is text. A text that starts
with ``=`` stays text (openpyxl would otherwise write it as a formula), and the control characters XML cannot hold
are dropped. openpyxl is synchronous: each batch of rows, the zipping and each chunk read run in a worker thread,
so the event loop never waits on them."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from anyio import CancelScope, to_thread
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Font
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from boxoffice.ticketing.exports import TIME_COLUMNS, Amount

MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
ROWS_PER_STEP = 1000  # rows handed to a worker thread at a time
CHUNK = 64 * 1024


def time_zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def money_format(exponent: int) -> str:
    return "#,##0." + "0" * exponent if exponent else "#,##0"


class SheetWriter:
    """One worksheet's rows, typed (see the module's text); ``tz``: the time zone the times are shown in."""

    def __init__(self, title: str, header: Sequence[str], tz: ZoneInfo) -> None:
        self.workbook = Workbook(write_only=True)
        sheet = self.workbook.create_sheet(title[:31])
        assert isinstance(sheet, WriteOnlyWorksheet)
        self.sheet = sheet
        self.tz = tz
        bold = Font(bold=True)
        cells = []
        for name in header:
            cell = self._text(f"{name} ({tz.key})" if name in TIME_COLUMNS else name)
            cell.font = bold
            cells.append(cell)
        self.sheet.append(cells)

    def _text(self, value: str) -> Cell:
        cell = WriteOnlyCell(self.sheet, ILLEGAL_CHARACTERS_RE.sub("", value))
        cell.data_type = "s"  # text, even when it starts with "=" (never a formula)
        return cell

    def _cell(self, value: Any) -> Any:
        if value is None or isinstance(value, bool | int):
            return value
        if isinstance(value, Amount):
            cell = WriteOnlyCell(self.sheet)
            cell.value = value.decimal  # exact: written as the decimal's digits
            cell.number_format = money_format(value.exponent)
            return cell
        if isinstance(value, datetime):
            cell = WriteOnlyCell(self.sheet, value.astimezone(self.tz).replace(tzinfo=None))
            cell.number_format = TIME_FORMAT
            return cell
        text = str(value)
        return self._text(text) if text.startswith("=") or ILLEGAL_CHARACTERS_RE.search(text) else text

    def append(self, rows: Iterable[Sequence[Any]]) -> None:
        for row in rows:
            self.sheet.append([self._cell(v) for v in row])

    def save(self, path: str) -> None:
        self.workbook.save(path)


def _read(handle: Any) -> bytes:
    data: bytes = handle.read(CHUNK)
    return data


async def xlsx_stream(
    title: str, header: Sequence[str], rows: AsyncIterator[list[Any]], tz: ZoneInfo
) -> AsyncIterator[bytes]:
    """The workbook's bytes: built on disk from ``rows``, then read back a chunk at a time."""
    fd, path = tempfile.mkstemp(prefix="boxoffice-export-", suffix=".xlsx")
    os.close(fd)
    writer: SheetWriter | None = None
    saved = False
    try:
        writer = await to_thread.run_sync(SheetWriter, title, header, tz)
        batch: list[list[Any]] = []
        async for row in rows:
            batch.append(row)
            if len(batch) >= ROWS_PER_STEP:
                await to_thread.run_sync(writer.append, batch)
                batch = []
        await to_thread.run_sync(writer.append, batch)
        await to_thread.run_sync(writer.save, path)
        saved = True
        handle = await to_thread.run_sync(open, path, "rb")
        try:
            while chunk := await to_thread.run_sync(_read, handle):
                yield chunk
        finally:
            handle.close()
    finally:
        if writer is not None and not saved:  # stopped early: saving ends openpyxl's own temporary file too
            with CancelScope(shield=True), contextlib.suppress(Exception):
                await to_thread.run_sync(writer.save, path)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
