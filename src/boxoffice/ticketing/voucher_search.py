"""An event's vouchers for the console, a page at a time: oldest first as they were made (a batch of generated codes
together, by code), optionally only the codes that start with a prefix (any case), with the number of codes that
match, the event's number of codes, and where the page starts among the matches.

Keyset paging on the voucher's ``created_at`` and ``code_normalized`` (unique among an event's live codes), so a page
costs the same however deep it is and a code added or deleted meanwhile neither repeats nor skips a row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, func, or_, select

from boxoffice import cursors
from boxoffice.db import Database
from boxoffice.ticketing import vouchers as rules
from boxoffice.ticketing.voucher_models import Voucher

PAGE_SIZE = 100
MAX_PREFIX = 64  # a code's longest length


@dataclass(frozen=True)
class VoucherPage:
    vouchers: list[Voucher]
    matching: int  # codes that match the prefix, on every page (all the event's codes without a prefix)
    total: int  # the event's codes (of the kind asked), whatever the prefix
    first: int  # the position of the page's first code among the matches (1-based); 0 when the page is empty
    next_cursor: str | None  # pass as ``cursor`` for the next page; None: this is the last one


def encode_cursor(voucher: Voucher) -> str:
    return cursors.encode(voucher.created_at, voucher.code_normalized)


def decode_cursor(cursor: str | None) -> tuple[datetime, str] | None:
    return cursors.decode(cursor)


def _starts_with(prefix: str) -> ColumnElement[bool]:
    needle = rules.normalize_code(prefix)[:MAX_PREFIX]
    needle = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return Voucher.code_normalized.like(f"{needle}%", escape="\\")


async def page_vouchers(
    db: Database,
    event_id: str,
    *,
    kind: str = "voucher",
    prefix: str = "",
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
) -> VoucherPage:
    """A page of the event's live vouchers of ``kind`` (``limit`` at most) after ``cursor``, only the codes starting
    with ``prefix`` (compared as codes are: trimmed, any case) when one is given. One read transaction."""
    limit = max(1, limit)
    live = and_(Voucher.event_id == event_id, Voucher.kind == kind, Voucher.deleted_at.is_(None))
    matching = and_(live, _starts_with(prefix)) if prefix.strip() else live
    stmt = select(Voucher).where(matching)
    before: ColumnElement[bool] | None = None
    after = decode_cursor(cursor)
    if after is not None:
        at, code = after
        stmt = stmt.where(or_(Voucher.created_at > at, and_(Voucher.created_at == at, Voucher.code_normalized > code)))
        before = or_(Voucher.created_at < at, and_(Voucher.created_at == at, Voucher.code_normalized <= code))
    stmt = stmt.order_by(Voucher.created_at, Voucher.code_normalized).limit(limit + 1)
    async with db.read() as session:
        rows = list((await session.scalars(stmt)).all())
        total = int(await session.scalar(_count(live)) or 0)
        found = total if matching is live else int(await session.scalar(_count(matching)) or 0)
        skipped = 0 if before is None else int(await session.scalar(_count(and_(matching, before))) or 0)
    more = len(rows) > limit
    rows = rows[:limit]
    return VoucherPage(
        vouchers=rows,
        matching=found,
        total=total,
        first=skipped + 1 if rows else 0,
        next_cursor=encode_cursor(rows[-1]) if more else None,
    )


def _count(where: ColumnElement[bool]) -> Select[int]:
    return select(func.count()).select_from(Voucher).where(where)
