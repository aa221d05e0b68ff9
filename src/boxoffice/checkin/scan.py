"""Scanning a ticket at a check-in list (undoing one: ``undo``).

A scan reads the list, the ticket, its order, the ticket's current admission at that list and the check-in with the
scan's nonce in one query, decides the refusals that depend on state (``rules.refusal``), and then writes its check-in
with ``INSERT … ON CONFLICT DO NOTHING``: the unique index on admitted rows lets exactly one scan of a ticket insert,
however many scanners and processes race, and every other one then finds the row that won (``already_checked_in``).
The row and its outbox message (live counts) are written together: one statement on PostgreSQL
(``Database.one_statement_checkins``), one short transaction on SQLite. An admission is two round trips, a refusal one.

- ``nonce``: a scanner's id for one scan. The same nonce again (a retry over a bad network) answers what the first
  scan answered and writes nothing; a nonce reused for another ticket is refused (``key_reused``).
- ``scanned_at``: an upload of a scan a device made offline. The device has let the person in, so the scan is
  recorded even when the ticket was admitted meanwhile, as a flagged ``duplicate`` (counted apart): the answer is
  ``already_checked_in`` with the duplicate's record. The duplicate is the one that reached the server second (its
  ``scanned_at`` may be earlier). The refusals about the ticket itself (refunded, canceled, ...) are answered and
  nothing is written. The list's window is judged at ``scanned_at``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, bindparam, false, select, text
from sqlalchemy.orm import aliased

from boxoffice import outbox
from boxoffice.checkin.attendees import holder_name
from boxoffice.checkin.models import Checkin, CheckinList
from boxoffice.checkin.rules import ListRules, Result, Scanner, refusal
from boxoffice.clock import ensure_utc, utcnow
from boxoffice.db import Database, JSONType, UTCDateTime, insert_for
from boxoffice.errors import ErrorCode, InvalidInput, NotFound
from boxoffice.events.models import Event
from boxoffice.ids import new_id
from boxoffice.notifications.codes import InvalidTicketCode, read_ticket_code
from boxoffice.ticketing.models import Order, Ticket, TicketType
from boxoffice.topics import checkin_list_topic

CLOCK_SKEW = timedelta(minutes=5)  # how far ahead of the server's clock a device's scanned_at may be
MAX_CODE = 200


@dataclass(frozen=True)
class ScanRequest:
    code: str | None = None  # what the scanner read
    ticket_id: str | None = None  # or the ticket chosen by hand from a search
    nonce: str | None = None
    scanned_at: datetime | None = None  # set: an offline scan being uploaded
    device: str = ""  # a label for scanners that are not paired devices (an organizer's script)


@dataclass(frozen=True)
class TicketInfo:
    id: str
    ticket_type_id: str
    ticket_type: str
    holder_name: str
    order_id: str


@dataclass(frozen=True)
class Entry:
    """A check-in as the answers quote it."""

    id: str
    checked_in_at: datetime
    device: str
    duplicate: bool = False


@dataclass(frozen=True)
class ScanOutcome:
    result: Result
    ticket: TicketInfo | None = None
    checkin: Entry | None = None  # ok: the admission; a recorded offline duplicate: its record
    first: Entry | None = None  # already_checked_in: the admission that came first
    replayed: bool = False  # the answer to an earlier scan with the same nonce

    @property
    def duplicate(self) -> bool:
        return self.checkin is not None and self.checkin.duplicate


def _entry(row: Checkin) -> Entry:
    return Entry(row.id, row.scanned_at, row.device_label, row.duplicate)


def _scan_time(scanned_at: datetime | None, now: datetime) -> datetime:
    if scanned_at is None:
        return now
    moment = ensure_utc(scanned_at, "scanned_at")
    if moment > now + CLOCK_SKEW:
        raise InvalidInput.one("scanned_at", "is in the future", code=ErrorCode.ABOVE_MAXIMUM)
    return moment


def _ticket_of(request: ScanRequest, keys: Sequence[bytes]) -> tuple[str | None, int | None]:
    """The ticket id and code version the request names (``(None, None)``: a code this server did not sign)."""
    if request.code is None and request.ticket_id is None:
        raise InvalidInput.one("code", "send a ticket code (or a ticket_id)", code=ErrorCode.REQUIRED)
    if request.code is not None and request.ticket_id is not None:
        raise InvalidInput.one("ticket_id", "send a ticket code or a ticket_id, not both", code=ErrorCode.CONFLICT_WITH)
    if request.ticket_id is not None:
        return request.ticket_id, None
    code = (request.code or "").strip()
    try:
        ticket_id, version = read_ticket_code(code, keys[0], keys[1:])
    except InvalidTicketCode:
        return None, None
    return ticket_id, version


async def scan(
    db: Database,
    list_id: str,
    request: ScanRequest,
    scanner: Scanner,
    *,
    keys: Sequence[bytes],
    now: datetime | None = None,
) -> ScanOutcome:
    """Check a ticket in at a list (see the module's docstring). ``keys``: the current ticket-code key first, then
    the previous ones. ``NotFound`` for a list the scanner does not reach; ``InvalidInput`` for a bad request."""
    now = now or utcnow()
    at = _scan_time(request.scanned_at, now)
    ticket_id, version = _ticket_of(request, keys)
    for _ in range(5):
        outcome = await _attempt(db, list_id, request, scanner, ticket_id, version, at, now)
        if outcome is not None:
            return outcome
    raise RuntimeError(f"check-in of {ticket_id} at {list_id} kept changing under concurrent scans")


async def _attempt(
    db: Database,
    list_id: str,
    request: ScanRequest,
    scanner: Scanner,
    ticket_id: str | None,
    version: int | None,
    at: datetime,
    now: datetime,
) -> ScanOutcome | None:
    """One decision and one write; ``None`` when the state changed between them (decide again)."""
    row = await _read(db, list_id, ticket_id, request.nonce)
    if row is None or not scanner.reaches(organizer_id=row.organizer_id, event_id=row.event_id, list_id=list_id):
        raise NotFound("check-in list not found")
    if row.ticket_id is None or row.order_event_id != row.event_id:
        return ScanOutcome(Result.INVALID)
    ticket = TicketInfo(row.ticket_id, row.ticket_type_id, row.title, holder_name(row.name, row.email), row.order_id)
    refused = refusal(
        row.rules,
        ticket_status=row.status,
        order_status=row.order_status,
        ticket_type_id=row.ticket_type_id,
        code_version=version,
        current_version=row.code_version,
        at=at,
    )
    replay = _replay(row, ticket)
    if replay is not None:
        return replay
    if refused is not None:
        return ScanOutcome(refused, ticket)
    admitted: Entry | None = row.admitted
    if admitted is not None and request.scanned_at is None:  # online: refused; offline upload: a duplicate entry
        return ScanOutcome(Result.ALREADY_CHECKED_IN, ticket, first=admitted)
    device_label = scanner.label if scanner.device_id is not None else request.device
    values: dict[str, Any] = {
        "id": new_id("ci"),
        "list_id": list_id,
        "ticket_id": ticket.id,
        "ticket_type_id": ticket.ticket_type_id,
        "scanned_at": at,
        "received_at": now,
        "device_id": scanner.device_id,
        "device_label": device_label[:100],
        "nonce": request.nonce,
        "manual": request.ticket_id is not None,
        "duplicate": admitted is not None,
    }
    if await _write(db, values, row.event_id):
        entry = Entry(values["id"], at, values["device_label"], values["duplicate"])
        if admitted is not None:
            return ScanOutcome(Result.ALREADY_CHECKED_IN, ticket, checkin=entry, first=admitted)
        return ScanOutcome(Result.OK, ticket, checkin=entry)
    # Not written: this nonce's row exists (a retry that raced its first try), or another scan admitted the ticket
    # first. Either way the next read says which.
    return None


@dataclass(frozen=True)
class _Row:
    rules: ListRules
    event_id: str
    organizer_id: str
    ticket_id: str | None
    ticket_type_id: str
    status: str
    code_version: int
    order_id: str
    order_status: str
    order_event_id: str | None
    name: str
    email: str
    title: str
    admitted: Entry | None
    earlier: Checkin | None  # the list's check-in with the request's nonce, if any


@functools.cache
def _read_statement() -> Select[Any]:
    """The list, the ticket, its order and type, its admission at the list and the check-in with the request's
    nonce, in one query (built once)."""
    admitted = aliased(Checkin)
    earlier = aliased(Checkin)
    return (
        select(
            CheckinList.event_id,
            CheckinList.all_ticket_types,
            CheckinList.ticket_type_ids,
            CheckinList.starts_at,
            CheckinList.ends_at,
            Event.organizer_id,
            Ticket.id,
            Ticket.ticket_type_id,
            Ticket.status,
            Ticket.code_version,
            Order.id,
            Order.status,
            Order.event_id,
            Order.name,
            Order.email,
            TicketType.title,
            admitted.id,
            admitted.scanned_at,
            admitted.device_label,
            earlier,
        )
        .select_from(CheckinList)
        .join(Event, Event.id == CheckinList.event_id)
        .outerjoin(Ticket, Ticket.id == bindparam("ticket_id"))
        .outerjoin(Order, Order.id == Ticket.order_id)
        .outerjoin(TicketType, TicketType.id == Ticket.ticket_type_id)
        .outerjoin(
            admitted,
            and_(
                admitted.list_id == CheckinList.id,
                admitted.ticket_id == Ticket.id,
                admitted.undone_at.is_(None),
                admitted.duplicate == false(),
            ),
        )
        .outerjoin(earlier, and_(earlier.list_id == CheckinList.id, earlier.nonce == bindparam("nonce")))
        .where(CheckinList.id == bindparam("list_id"), CheckinList.deleted_at.is_(None))
    )


async def _read(db: Database, list_id: str, ticket_id: str | None, nonce: str | None) -> _Row | None:
    async with db.read() as session:
        found = (
            await session.execute(_read_statement(), {"list_id": list_id, "ticket_id": ticket_id or "", "nonce": nonce})
        ).one_or_none()
    if found is None:
        return None
    (
        event_id,
        all_types,
        type_ids,
        starts_at,
        ends_at,
        organizer_id,
        t_id,
        tt_id,
        status,
        version,
        order_id,
        order_status,
        order_event_id,
        name,
        email,
        title,
        first_id,
        first_at,
        first_device,
        earlier,
    ) = found
    return _Row(
        ListRules.of(all_types, type_ids or [], starts_at, ends_at),
        event_id,
        organizer_id,
        t_id,
        tt_id or "",
        status or "",
        version or 0,
        order_id or "",
        order_status or "",
        order_event_id,
        name or "",
        email or "",
        title or "",
        Entry(first_id, first_at, first_device) if first_id is not None else None,
        earlier,
    )


# PostgreSQL: the check-in and its outbox message in one statement, atomic by itself, in autocommit (one round trip
# instead of four). The message is inserted only from the row the INSERT returns, so a scan that the unique indexes
# refuse writes nothing.
_ADMIT = text(
    """
WITH c AS (
    INSERT INTO checkins (id, list_id, ticket_id, ticket_type_id, scanned_at, received_at, device_id, device_label,
                          nonce, manual, duplicate)
    VALUES (:id, :list_id, :ticket_id, :ticket_type_id, :scanned_at, :received_at, :device_id, :device_label,
            :nonce, :manual, :duplicate)
    ON CONFLICT DO NOTHING
    RETURNING id
)
INSERT INTO outbox_messages (kind, topics, payload, created_at, attempts)
SELECT 'checkin.created', :topics, :payload, :received_at, 0 FROM c
RETURNING id
"""
).bindparams(
    bindparam("scanned_at", type_=UTCDateTime()),
    bindparam("received_at", type_=UTCDateTime()),
    bindparam("topics", type_=JSONType),
    bindparam("payload", type_=JSONType),
)


async def _write(db: Database, values: dict[str, Any], event_id: str) -> bool:
    """Insert the check-in unless a unique index says no (the ticket is in, or the nonce was used); with it, the
    message for the live counts."""
    topics = [checkin_list_topic(values["list_id"])]
    payload = {
        "checkin_id": values["id"],
        "list_id": values["list_id"],
        "event_id": event_id,
        "ticket_id": values["ticket_id"],
        "ticket_type_id": values["ticket_type_id"],
        "scanned_at": values["scanned_at"].isoformat(),
        "device": values["device_label"],
        "duplicate": values["duplicate"],
        "manual": values["manual"],
    }
    if db.one_statement_checkins:
        async with db.single() as session:
            written = await session.scalar(_ADMIT, {**values, "topics": topics, "payload": payload})
        return written is not None
    async with db.transaction() as session:
        inserted = await session.scalar(
            insert_for(session, Checkin).values(**values).on_conflict_do_nothing().returning(Checkin.id)
        )
        if inserted is None:
            return False
        outbox.record(session, "checkin.created", topics, payload)
    return True


def _replay(row: _Row, ticket: TicketInfo) -> ScanOutcome | None:
    """The answer to the earlier scan with this request's nonce, if there was one (``None`` otherwise)."""
    earlier = row.earlier
    if earlier is None:
        return None
    if earlier.ticket_id != ticket.id:
        raise InvalidInput.one(
            "nonce", "was already used for a scan of another ticket at this list", code=ErrorCode.KEY_REUSED
        )
    if not earlier.duplicate:
        return ScanOutcome(Result.OK, ticket, checkin=_entry(earlier), replayed=True)
    return ScanOutcome(Result.ALREADY_CHECKED_IN, ticket, checkin=_entry(earlier), first=row.admitted, replayed=True)
