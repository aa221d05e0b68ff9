"""Events context: events, people and event participants.

Functions that take an ``AsyncSession`` join the caller's transaction; functions that take a ``Database`` own theirs.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice import money
from boxoffice.clock import ensure_utc, utcnow
from boxoffice.db import Database, insert_for
from boxoffice.errors import ErrorCode, FieldError, InvalidInput, NotFound
from boxoffice.events.models import (
    EVENT_STATUSES,
    PARTICIPANT_ROLES,
    PARTICIPANT_STATUSES,
    Event,
    EventParticipant,
    Person,
)
from boxoffice.ids import new_id

MAX_TITLE = 200
MAX_DESCRIPTION = 20_000
MAX_NAME = 200


def normalize_email(email: str, field: str = "email") -> str:
    """The canonical form used for uniqueness: trimmed, checked, lower-cased."""
    if not isinstance(email, str) or not email.strip():
        raise InvalidInput.one(field, "is required", code=ErrorCode.REQUIRED)
    if len(email) > 320:
        raise InvalidInput.one(field, "must be at most 320 characters", (("maximum", 320),), code=ErrorCode.TOO_LONG)
    try:
        return _normalized(email.strip())
    except EmailNotValidError as exc:
        raise InvalidInput.one(field, f"is not a valid email address ({exc})", code=ErrorCode.INVALID_FORMAT) from None


@functools.lru_cache(maxsize=4096)
def _normalized(email: str) -> str:
    # Kept: an order checks its buyer's address, then writes its canonical form (a failure is not kept).
    return validate_email(email, check_deliverability=False).normalized.lower()


def clean_name(name: str | None, field: str = "name") -> str:
    value = (name or "").strip()
    if len(value) > MAX_NAME:
        raise InvalidInput.one(
            field, f"must be at most {MAX_NAME} characters", (("maximum", MAX_NAME),), code=ErrorCode.TOO_LONG
        )
    if any(ord(ch) < 32 for ch in value):
        raise InvalidInput.one(field, "must not contain control characters", code=ErrorCode.INVALID_FORMAT)
    return value


async def get_or_create_person(
    session: AsyncSession, email: str, name: str | None = None, *, own_name: bool = False
) -> Person:
    """The person with this email (case-insensitive), created when new. ``name`` is the new person's name; an
    existing person's name changes only with ``own_name`` (the person naming themselves, e.g. an organizer creating
    an event) and a non-empty name. Anyone else (a buyer typing this address into an order) never renames a person:
    the buyer's name lives on the order. One statement (insert or update, returning the row), safe under concurrent
    calls."""
    normalized = normalize_email(email)
    display_name = clean_name(name)
    now = utcnow()
    stmt = insert_for(session, Person).values(
        id=new_id("per"),
        email=email.strip(),
        email_normalized=normalized,
        name=display_name,
        created_at=now,
        updated_at=now,
    )
    # The DO UPDATE keeps the name the person has (unless it is their own request), and makes RETURNING give the
    # existing row.
    renamed = stmt.excluded.name if own_name and display_name else Person.name
    upsert = stmt.on_conflict_do_update(index_elements=["email_normalized"], set_={"name": renamed}).returning(Person)
    person: Person = (await session.scalars(upsert, execution_options={"populate_existing": True})).one()
    return person


async def find_person(session: AsyncSession, email: str) -> Person | None:
    return (
        await session.scalars(select(Person).where(Person.email_normalized == normalize_email(email)))
    ).one_or_none()


@dataclass
class EventInput:
    title: str | None = None
    description: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    timezone: str | None = None
    status: str | None = None
    currency: str | None = None
    hold_minutes: int | None = None  # 5 to 30; 0: back to the server's default (None: unchanged)
    waiting_list_offer_minutes: int | None = None


HOLD_MINUTES = (5, 30)
OFFER_MINUTES = (10, 7 * 24 * 60)


def _event_values(data: EventInput, current: Event | None) -> dict[str, Any]:
    errors: list[FieldError] = []
    values: dict[str, Any] = {}
    if data.title is not None or current is None:
        title = (data.title or "").strip()
        if not title:
            errors.append(FieldError("title", "is required", code=ErrorCode.REQUIRED))
        elif len(title) > MAX_TITLE:
            errors.append(
                FieldError(
                    "title",
                    f"must be at most {MAX_TITLE} characters",
                    (("maximum", MAX_TITLE),),
                    code=ErrorCode.TOO_LONG,
                )
            )
        values["title"] = title
    if data.description is not None:
        if len(data.description) > MAX_DESCRIPTION:
            errors.append(
                FieldError(
                    "description",
                    f"must be at most {MAX_DESCRIPTION} characters",
                    (("maximum", MAX_DESCRIPTION),),
                    code=ErrorCode.TOO_LONG,
                )
            )
        values["description"] = data.description
    for name in ("starts_at", "ends_at"):
        value = getattr(data, name)
        if value is None:
            if current is None:
                errors.append(FieldError(name, "is required", code=ErrorCode.REQUIRED))
            continue
        try:
            values[name] = ensure_utc(value, name)
        except InvalidInput as exc:
            errors.extend(exc.errors)
    starts = values.get("starts_at", current.starts_at if current else None)
    ends = values.get("ends_at", current.ends_at if current else None)
    if starts is not None and ends is not None and ends <= starts:
        errors.append(FieldError("ends_at", "must be after starts_at", code=ErrorCode.NOT_ORDERED))
    if data.timezone is not None:
        try:
            ZoneInfo(data.timezone)
            values["timezone"] = data.timezone
        except (ZoneInfoNotFoundError, ValueError):
            errors.append(
                FieldError("timezone", "must be an IANA time zone such as Europe/Berlin", code=ErrorCode.INVALID_FORMAT)
            )
    if data.currency is not None:
        code = money.normalize_currency(data.currency)
        if not money.is_supported(code):
            errors.append(
                FieldError("currency", "must be a supported three-letter ISO 4217 code", code=ErrorCode.INVALID_CHOICE)
            )
        values["currency"] = code
    for name, (low, high), zero in (
        ("hold_minutes", HOLD_MINUTES, True),
        ("waiting_list_offer_minutes", OFFER_MINUTES, False),
    ):
        value = getattr(data, name)
        if value is None:
            continue
        if zero and value == 0:
            values[name] = None  # the server's BOXOFFICE_HOLD_MINUTES
        elif not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            bound = (("minimum", low),) if isinstance(value, int) and value < low else (("maximum", high),)
            code = ErrorCode.BELOW_MINIMUM if bound[0][0] == "minimum" else ErrorCode.ABOVE_MAXIMUM
            errors.append(FieldError(name, f"must be {low} to {high} minutes", bound, code=code))
        else:
            values[name] = value
    if data.status is not None:
        if data.status not in EVENT_STATUSES:
            errors.append(
                FieldError("status", f"must be one of {', '.join(EVENT_STATUSES)}", code=ErrorCode.INVALID_CHOICE)
            )
        values["status"] = data.status
    if errors:
        raise InvalidInput(errors)
    return values


async def create_event(db: Database, organizer_email: str, data: EventInput, organizer_name: str = "") -> Event:
    values = _event_values(data, None)
    async with db.transaction() as session:
        organizer = await get_or_create_person(session, organizer_email, organizer_name, own_name=True)
        event = Event(id=new_id("ev"), organizer_id=organizer.id, **values)
        session.add(event)
    return event


async def update_event(db: Database, event_id: str, data: EventInput, organizer_id: str | None = None) -> Event:
    async with db.transaction() as session:
        event = await load_event(session, event_id, organizer_id=organizer_id, for_update=True)
        values = _event_values(data, event)
        if values.get("currency", event.currency) != event.currency and event.currency is not None:
            # its ticket types are priced in the current one (the table belongs to ticketing; only its rows are counted)
            priced = await session.scalar(
                text("SELECT count(*) FROM ticket_types WHERE event_id = :id"), {"id": event.id}
            )
            if priced:
                raise InvalidInput.one(
                    "currency",
                    f"cannot change: the event's ticket types are priced in {event.currency.upper()}",
                    code=ErrorCode.CONFLICT_WITH,
                )
        for key, value in values.items():
            setattr(event, key, value)
        event.revision += 1  # the row is locked (FOR UPDATE): no concurrent edit can read the same revision
    return event


async def load_event(
    session: AsyncSession, event_id: str, *, organizer_id: str | None = None, for_update: bool = False
) -> Event:
    stmt = select(Event).where(Event.id == event_id)
    if organizer_id is not None:
        stmt = stmt.where(Event.organizer_id == organizer_id)
    if for_update:
        stmt = stmt.with_for_update()
    event = (await session.scalars(stmt)).one_or_none()
    if event is None:
        raise NotFound(f"event {event_id} not found")
    return event


async def get_event(db: Database, event_id: str, *, organizer_id: str | None = None) -> Event:
    async with db.read() as session:
        return await load_event(session, event_id, organizer_id=organizer_id)


async def get_public_event(db: Database, event_id: str) -> Event:
    """An event as the public sees it: a draft is as absent as an unknown id, with the same words (no id)."""
    try:
        event = await get_event(db, event_id)
    except NotFound:
        event = None
    if event is None or event.status == "draft":
        raise NotFound("event not found")
    return event


async def get_person(db: Database, person_id: str) -> Person:
    async with db.read() as session:
        person = await session.get(Person, person_id)
    if person is None:
        raise NotFound(f"person {person_id} not found")
    return person


class OrderLike(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def event_id(self) -> str: ...
    @property
    def person_id(self) -> str: ...


async def add_ticket_holder(session: AsyncSession, order: OrderLike) -> EventParticipant | None:
    """Make the order's buyer a ``ticket_holder`` of its event, within the caller's transaction.

    Creates the participant, or upgrades an existing one (an invitee who buys becomes a ticket holder with
    ``confirmed_with_order``; metadata merged; still one row). Idempotent per order. The event's own organizer is
    never made a participant by an order: ``None`` is returned for them.
    """
    organizer_id = await session.scalar(select(Event.organizer_id).where(Event.id == order.event_id))
    if organizer_id is None:
        raise NotFound(f"event {order.event_id} not found")
    if organizer_id == order.person_id:
        return None
    now = utcnow()
    created = (
        await session.scalars(
            insert_for(session, EventParticipant)
            .values(
                id=new_id("par"),
                event_id=order.event_id,
                person_id=order.person_id,
                role="ticket_holder",
                status="confirmed_with_order",
                source="order",
                meta={"order_ids": [order.id]},
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=["event_id", "person_id"])
            .returning(EventParticipant)
        )
    ).one_or_none()
    if created is not None:
        return created  # a new participant (the usual case): nothing to merge
    participant = (
        await session.scalars(
            select(EventParticipant)
            .where(EventParticipant.event_id == order.event_id, EventParticipant.person_id == order.person_id)
            .with_for_update()
        )
    ).one()
    meta = dict(participant.meta or {})
    order_ids = list(meta.get("order_ids", []))
    if order.id not in order_ids:
        order_ids.append(order.id)
    meta["order_ids"] = order_ids
    if participant.role != "ticket_holder" and "previous_role" not in meta:
        meta["previous_role"] = participant.role
        meta["previous_status"] = participant.status
    participant.meta = meta
    participant.role = "ticket_holder"
    participant.status = "confirmed_with_order"
    participant.updated_at = now
    return participant


async def remove_ticket_holder_order(session: AsyncSession, order: OrderLike) -> None:
    """The order no longer holds tickets (refunded or canceled): forget it, and when the buyer has no other order
    for the event, their participation becomes ``cancelled``."""
    participant = (
        await session.scalars(
            select(EventParticipant)
            .where(EventParticipant.event_id == order.event_id, EventParticipant.person_id == order.person_id)
            .with_for_update()
        )
    ).one_or_none()
    if participant is None:
        return
    meta = dict(participant.meta or {})
    order_ids = [oid for oid in meta.get("order_ids", []) if oid != order.id]
    meta["order_ids"] = order_ids
    participant.meta = meta
    if not order_ids and participant.role == "ticket_holder":
        participant.status = "cancelled"
    participant.updated_at = utcnow()


async def add_participant(
    db: Database,
    event_id: str,
    email: str,
    *,
    role: str,
    status: str,
    name: str = "",
    source: str = "manual",
    meta: dict[str, Any] | None = None,
) -> EventParticipant:
    """Invite or register a person for an event (one row per event and person)."""
    if role not in PARTICIPANT_ROLES:
        raise InvalidInput.one("role", f"must be one of {', '.join(PARTICIPANT_ROLES)}", code=ErrorCode.INVALID_CHOICE)
    if status not in PARTICIPANT_STATUSES:
        raise InvalidInput.one(
            "status", f"must be one of {', '.join(PARTICIPANT_STATUSES)}", code=ErrorCode.INVALID_CHOICE
        )
    async with db.transaction() as session:
        await load_event(session, event_id)
        person = await get_or_create_person(session, email, name)
        participant = (
            await session.scalars(
                select(EventParticipant).where(
                    EventParticipant.event_id == event_id, EventParticipant.person_id == person.id
                )
            )
        ).one_or_none()
        if participant is None:
            participant = EventParticipant(
                id=new_id("par"),
                event_id=event_id,
                person_id=person.id,
                role=role,
                status=status,
                source=source,
                meta=meta or {},
            )
            session.add(participant)
        else:
            participant.role, participant.status = role, status
            participant.meta = {**(participant.meta or {}), **(meta or {})}
    return participant


async def list_participants(
    db: Database, event_id: str, role: str | None = None
) -> list[tuple[EventParticipant, Person]]:
    async with db.read() as session:
        stmt = (
            select(EventParticipant, Person)
            .join(Person, Person.id == EventParticipant.person_id)
            .where(EventParticipant.event_id == event_id)
            .order_by(EventParticipant.created_at, EventParticipant.id)
        )
        if role is not None:
            stmt = stmt.where(EventParticipant.role == role)
        return [(p, person) for p, person in (await session.execute(stmt)).tuples()]
