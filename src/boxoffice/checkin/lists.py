"""Check-in lists: create, read, change, delete (hide), and each event's default list.

Every event has a default list (all ticket types, no window), created when the event is created (the event-creating
flows call ``ensure_default_list``), lazily by the reads of an event's lists for events created any other way, and by
the migration for the events that existed before. Creating it is one ``INSERT … ON CONFLICT DO NOTHING`` on the
unique ``default_for_event``, so every path may call it any number of times, concurrently. A deleted default list
stays deleted (its row, hidden, still holds the event's id).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.checkin.models import CheckinList
from boxoffice.checkin.rules import ListRules, Scanner
from boxoffice.clock import ensure_utc, utcnow
from boxoffice.db import Database, insert_for
from boxoffice.errors import ErrorCode, FieldError, Forbidden, InvalidInput, NotFound
from boxoffice.events.models import Event
from boxoffice.events.service import load_event
from boxoffice.ids import new_id
from boxoffice.ticketing.models import TicketType

DEFAULT_LIST_NAME = "Entrance"
MAX_NAME = 200
MAX_TICKET_TYPES = 200


def rules_of(lst: CheckinList) -> ListRules:
    return ListRules.of(lst.all_ticket_types, lst.ticket_type_ids or [], lst.starts_at, lst.ends_at)


async def ensure_default_list(db: Database, event_id: str) -> None:
    """Create the event's default list unless it has (or had) one. Idempotent and safe under concurrent calls."""
    async with db.transaction() as session:
        await _ensure_default(session, event_id)


async def _ensure_default(session: AsyncSession, event_id: str) -> None:
    now = utcnow()
    await session.execute(
        insert_for(session, CheckinList)
        .values(
            id=new_id("cl"),
            event_id=event_id,
            name=DEFAULT_LIST_NAME,
            all_ticket_types=True,
            ticket_type_ids=[],
            default_for_event=event_id,
            revision=0,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["default_for_event"])
    )


def require_manager(scanner: Scanner) -> None:
    if not scanner.can_manage:
        raise Forbidden("a door device may scan, search and read its list; the organizer manages lists and devices")


async def load_list(
    session: AsyncSession, list_id: str, scanner: Scanner, *, for_update: bool = False
) -> tuple[CheckinList, Event]:
    """The list and its event, if ``scanner`` reaches it; otherwise ``NotFound`` (the same answer for a list that
    does not exist, was deleted, or is someone else's)."""
    stmt = (
        select(CheckinList, Event)
        .join(Event, Event.id == CheckinList.event_id)
        .where(CheckinList.id == list_id, CheckinList.deleted_at.is_(None))
    )
    if for_update:
        stmt = stmt.with_for_update(of=CheckinList)
    row = (await session.execute(stmt)).one_or_none()
    if row is None or not scanner.reaches(organizer_id=row[1].organizer_id, event_id=row[1].id, list_id=row[0].id):
        raise NotFound("check-in list not found")
    return row[0], row[1]


async def get_list(db: Database, list_id: str, scanner: Scanner) -> tuple[CheckinList, Event]:
    async with db.read() as session:
        return await load_list(session, list_id, scanner)


async def list_lists(db: Database, event_id: str, scanner: Scanner) -> list[CheckinList]:
    """The event's lists (its default list first, created if it never existed), oldest first."""
    require_manager(scanner)
    async with db.read() as session:
        await load_event(session, event_id, organizer_id=scanner.organizer_id)
    await ensure_default_list(db, event_id)
    async with db.read() as session:
        rows = await session.scalars(
            select(CheckinList)
            .where(CheckinList.event_id == event_id, CheckinList.deleted_at.is_(None))
            .order_by(CheckinList.default_for_event.is_(None), CheckinList.created_at, CheckinList.id)
        )
        return list(rows.all())


async def reachable_lists(db: Database, event_id: str, scanner: Scanner) -> list[CheckinList]:
    """The event's lists this scanner works on (every one for the organizer's team, a device's own), in the order of
    ``list_lists``; ``NotFound`` for an event the scanner does not reach."""
    if scanner.event_id is not None and scanner.event_id != event_id:
        raise NotFound(f"event {event_id} not found")
    async with db.read() as session:
        event = await load_event(session, event_id, organizer_id=scanner.organizer_id)
        had_default = await session.scalar(select(CheckinList.id).where(CheckinList.default_for_event == event_id))
    if had_default is None:  # read often (a live dashboard): no write unless the default list never existed
        await ensure_default_list(db, event_id)
    async with db.read() as session:
        rows = await session.scalars(
            select(CheckinList)
            .where(CheckinList.event_id == event_id, CheckinList.deleted_at.is_(None))
            .order_by(CheckinList.default_for_event.is_(None), CheckinList.created_at, CheckinList.id)
        )
        return [
            lst
            for lst in rows.all()
            if scanner.reaches(organizer_id=event.organizer_id, event_id=event_id, list_id=lst.id)
        ]


async def create_list(db: Database, event_id: str, fields: Mapping[str, Any], scanner: Scanner) -> CheckinList:
    require_manager(scanner)
    async with db.transaction() as session:
        await load_event(session, event_id, organizer_id=scanner.organizer_id)
        values = await _values(session, event_id, fields, None)
        lst = CheckinList(id=new_id("cl"), event_id=event_id, revision=0, **values)
        session.add(lst)
    return lst


async def update_list(db: Database, list_id: str, changes: Mapping[str, Any], scanner: Scanner) -> CheckinList:
    require_manager(scanner)
    async with db.transaction() as session:
        lst, _ = await load_list(session, list_id, scanner, for_update=True)
        for key, value in (await _values(session, lst.event_id, changes, lst)).items():
            setattr(lst, key, value)
        lst.revision += 1  # the row is locked: no concurrent change reads the same revision
    return lst


async def delete_list(db: Database, list_id: str, scanner: Scanner) -> None:
    """Hide the list: its devices stop working and it takes no more scans; its check-ins are kept."""
    require_manager(scanner)
    async with db.transaction() as session:
        lst, _ = await load_list(session, list_id, scanner, for_update=True)
        result = await session.execute(
            update(CheckinList)
            .where(CheckinList.id == lst.id, CheckinList.deleted_at.is_(None))
            .values(deleted_at=utcnow(), revision=CheckinList.revision + 1)
        )
        if getattr(result, "rowcount", 0) != 1:
            raise NotFound("check-in list not found")


async def _values(
    session: AsyncSession, event_id: str, fields: Mapping[str, Any], current: CheckinList | None
) -> dict[str, Any]:
    """The columns for ``fields`` (all of them when creating; the changed ones otherwise), checked."""
    errors: list[FieldError] = []
    values: dict[str, Any] = {}
    if "name" in fields or current is None:
        name = str(fields.get("name") or "").strip()
        if not name:
            errors.append(FieldError("name", "is required", code=ErrorCode.REQUIRED))
        elif len(name) > MAX_NAME:
            errors.append(
                FieldError(
                    "name", f"must be at most {MAX_NAME} characters", (("maximum", MAX_NAME),), code=ErrorCode.TOO_LONG
                )
            )
        elif any(ord(ch) < 32 for ch in name):
            errors.append(FieldError("name", "must not contain control characters", code=ErrorCode.INVALID_FORMAT))
        values["name"] = name
    if "ticket_type_ids" in fields or current is None:
        chosen = fields.get("ticket_type_ids")
        if chosen is None:
            values["all_ticket_types"], values["ticket_type_ids"] = True, []
        else:
            errors.extend(await _check_ticket_types(session, event_id, list(chosen)))
            values["all_ticket_types"], values["ticket_type_ids"] = False, sorted(set(chosen))
    for name in ("starts_at", "ends_at"):
        if name in fields:
            moment: datetime | None = fields[name]
            try:
                values[name] = None if moment is None else ensure_utc(moment, name)
            except InvalidInput as exc:
                errors.extend(exc.errors)
    starts = values.get("starts_at", current.starts_at if current else None)
    ends = values.get("ends_at", current.ends_at if current else None)
    if starts is not None and ends is not None and ends <= starts:
        errors.append(FieldError("ends_at", "must be after starts_at", code=ErrorCode.NOT_ORDERED))
    if errors:
        raise InvalidInput(errors)
    return values


async def _check_ticket_types(session: AsyncSession, event_id: str, chosen: list[str]) -> list[FieldError]:
    if not chosen:
        return [
            FieldError(
                "ticket_type_ids",
                "choose at least one ticket type (or null for all of them)",
                (("minimum", 1),),
                code=ErrorCode.REQUIRED,
            )
        ]
    if len(chosen) > MAX_TICKET_TYPES:
        return [
            FieldError(
                "ticket_type_ids",
                f"at most {MAX_TICKET_TYPES} ticket types",
                (("maximum", MAX_TICKET_TYPES),),
                code=ErrorCode.OVER_LIMIT,
            )
        ]
    known = set(
        (
            await session.scalars(
                select(TicketType.id).where(TicketType.event_id == event_id, TicketType.id.in_(set(chosen)))
            )
        ).all()
    )
    return [
        FieldError(f"ticket_type_ids[{i}]", "is not a ticket type of this event", code=ErrorCode.NOT_FOUND)
        for i, tt_id in enumerate(chosen)
        if tt_id not in known
    ]
