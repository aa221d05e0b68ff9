"""Vouchers and access codes, as organizers manage them: create (one code, or ``count`` generated ones), list, read,
change, delete, export the codes as CSV, and end the reservations of vouchers that expired.

A voucher's reservation sets tickets of its one ticket type aside (out of public availability) in the same
transaction that writes the voucher: ``reserved_count`` of the ticket type rises only if the public has that many
left. Changing or deleting a voucher locks its row first (before the ticket type's, as every sale does); tickets a
reservation no longer needs go back to sale, the waiting list first. Waiting-list offers are vouchers too (kind
``waitlist``), managed by the waiting list (``ticketing.waitlist``), not here.
"""

from __future__ import annotations

import csv
import io
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.clock import utcnow
from boxoffice.db import Database
from boxoffice.errors import Conflict, ErrorCode, FieldError, InvalidInput, NotFound, SoldOut
from boxoffice.events import service as events
from boxoffice.events.models import Event
from boxoffice.ids import new_id
from boxoffice.ticketing import vouchers as rules
from boxoffice.ticketing.inventory import PUBLIC_LEFT, Counters, _counters, _give_back, _record_availability, _rows
from boxoffice.ticketing.models import TicketType
from boxoffice.ticketing.voucher_models import Voucher, VoucherUse
from boxoffice.ticketing.voucher_uses import reservation_open


@dataclass(frozen=True)
class CreatedVouchers:
    vouchers: list[Voucher]
    batch_id: str | None  # codes generated together (``count``): exported with ``export_csv(batch_id=...)``


def generate_code(prefix: str = "") -> str:
    return prefix + "".join(secrets.choice(rules.CODE_ALPHABET) for _ in range(rules.GENERATED_LENGTH))


async def _check_ticket_types(session: AsyncSession, event_id: str, values: Mapping[str, Any]) -> None:
    """The ticket types a voucher names and unlocks are the event's (and not deleted)."""
    errors: list[FieldError] = []
    for name, column in (("ticket_ids", "ticket_type_ids"), ("unlocks", "unlocks")):
        ids = values.get(column) or []
        if not ids:
            continue
        found = set(
            (
                await session.scalars(
                    select(TicketType.id).where(
                        TicketType.event_id == event_id, TicketType.id.in_(ids), TicketType.deleted_at.is_(None)
                    )
                )
            ).all()
        )
        for i, tt_id in enumerate(ids):
            if tt_id not in found:
                errors.append(FieldError(f"{name}[{i}]", "no such ticket type in this event", code=ErrorCode.NOT_FOUND))
    if errors:
        raise InvalidInput(errors)


async def _code_taken(session: AsyncSession, event_id: str, normalized: str, but: str = "") -> bool:
    same = exists().where(
        Voucher.event_id == event_id,
        Voucher.code_normalized == normalized,
        Voucher.deleted_at.is_(None),
        Voucher.id != but,
    )
    return bool(await session.scalar(select(same)))


def _code_conflict() -> InvalidInput:
    return InvalidInput.one("code", "this event already has a voucher with this code", code=ErrorCode.CONFLICT_WITH)


async def _set_aside(session: AsyncSession, ticket_type_id: str, count: int, now: datetime, field: str) -> Counters:
    """Set ``count`` tickets of a ticket type aside for a reservation: only from what the public can buy."""
    row = (
        await session.execute(
            update(TicketType)
            .where(TicketType.id == ticket_type_id, TicketType.deleted_at.is_(None), count <= PUBLIC_LEFT)
            .values(reserved_count=TicketType.reserved_count + count, updated_at=now)
            .returning(TicketType.quantity, TicketType.sold_count, TicketType.held_count, TicketType.reserved_count)
            .execution_options(synchronize_session=False)
        )
    ).one_or_none()
    if row is None:
        left = max(int(await session.scalar(select(PUBLIC_LEFT).where(TicketType.id == ticket_type_id)) or 0), 0)
        raise SoldOut(
            f"only {left} tickets are left to set aside" if left else "no tickets are left to set aside",
            ticket_type_id=ticket_type_id,
            available=left,
            field=field,
        )
    return (row[0], row[1], row[2], row[3])


async def create_vouchers(
    db: Database, event_id: str, fields: Mapping[str, Any], *, organizer_id: str | None = None
) -> CreatedVouchers:
    """One voucher with the given ``code``, or ``count`` vouchers with generated codes (``prefix`` first), all with
    the same terms. A reservation (``reserve`` tickets each) is set aside from what the public can buy, for all of
    them or none."""
    fields = dict(fields)
    count_given, prefix = fields.pop("count", None), fields.pop("prefix", None)
    if (count_given is None) == (fields.get("code") is None):
        raise InvalidInput.one("code", "give either code or count (to generate codes)", code=ErrorCode.REQUIRED)
    count, prefix_text = rules.check_count(count_given, prefix) if count_given is not None else (1, "")
    values = rules.voucher_values({**fields, "code": fields.get("code") or "GENERATED"})
    now = utcnow()
    batch_id = new_id("vb") if count_given is not None else None
    reserved_type = _reserved_type(values)
    for attempt in range(3):
        try:
            async with db.transaction() as session:
                await events.load_event(session, event_id, organizer_id=organizer_id)
                await _check_ticket_types(session, event_id, values)
                if batch_id is None and await _code_taken(session, event_id, values["code_normalized"]):
                    raise _code_conflict()
                created = []
                for _ in range(count):
                    code = values["code"] if batch_id is None else generate_code(prefix_text)
                    voucher = Voucher(
                        id=new_id("vch"),
                        event_id=event_id,
                        kind="voucher",
                        batch_id=batch_id,
                        uses_taken=0,
                        reserved_left=values.get("reserve", 0),
                        reserved_ticket_type_id=reserved_type,
                        revision=0,
                        created_at=now,
                        updated_at=now,
                        **{
                            "discount": None,
                            "ticket_type_ids": None,
                            "unlocks": [],
                            "reserve": 0,
                            "note": "",
                            **values,
                            "code": code,
                            "code_normalized": rules.normalize_code(code),
                        },
                    )
                    session.add(voucher)
                    created.append(voucher)
                await session.flush()
                if reserved_type is not None:
                    counters = await _set_aside(session, reserved_type, values["reserve"] * count, now, "reserve")
                    _record_availability(session, event_id, _rows({reserved_type: counters}))
            return CreatedVouchers(created, batch_id)
        except IntegrityError:
            if batch_id is None or attempt == 2:  # a code taken at the same moment (generated ones: try new ones)
                raise _code_conflict() from None
    raise AssertionError("unreachable")


def _reserved_type(values: Mapping[str, Any]) -> str | None:
    """The ticket type a voucher's reservation sets aside (None without a reservation)."""
    if not values.get("reserve"):
        return None
    (only,) = rules.reserved_ticket_types(values)
    return only


async def _load(
    session: AsyncSession, voucher_id: str, organizer_id: str | None, *, for_update: bool = False
) -> Voucher:
    stmt = select(Voucher).where(Voucher.id == voucher_id, Voucher.deleted_at.is_(None))
    if organizer_id is not None:
        stmt = stmt.join(Event, Event.id == Voucher.event_id).where(Event.organizer_id == organizer_id)
    if for_update:
        stmt = stmt.with_for_update(of=Voucher)
    voucher = (await session.scalars(stmt.execution_options(populate_existing=True))).one_or_none()
    if voucher is None:
        raise NotFound("voucher not found")
    return voucher


async def get_voucher(db: Database, voucher_id: str, *, organizer_id: str | None = None) -> Voucher:
    async with db.read() as session:
        return await _load(session, voucher_id, organizer_id)


async def list_vouchers(
    db: Database, event_id: str, *, kind: str | None = None, batch_id: str | None = None
) -> list[Voucher]:
    async with db.read() as session:
        stmt = select(Voucher).where(Voucher.event_id == event_id, Voucher.deleted_at.is_(None))
        if kind is not None:
            stmt = stmt.where(Voucher.kind == kind)
        if batch_id is not None:
            stmt = stmt.where(Voucher.batch_id == batch_id)
        return list((await session.scalars(stmt.order_by(Voucher.created_at, Voucher.code_normalized))).all())


def _stored(voucher: Voucher) -> dict[str, Any]:
    return {
        "code": voucher.code,
        "discount": voucher.discount,
        "ticket_type_ids": voucher.ticket_type_ids,
        "unlocks": voucher.unlocks,
        "max_uses": voucher.max_uses,
        "max_per_order": voucher.max_per_order,
        "valid_from": voucher.valid_from,
        "valid_until": voucher.valid_until,
        "reserve": voucher.reserve,
        "note": voucher.note,
    }


def _managed_here(voucher: Voucher) -> None:
    if voucher.kind != "voucher":
        raise Conflict("this code is a waiting-list offer: it is managed through the waiting list")


async def _move_reservation(
    session: AsyncSession,
    voucher: Voucher,
    old: tuple[str | None, int],
    new: tuple[str | None, int],
    now: datetime,
) -> dict[str, Counters]:
    """A voucher's reservation goes from ``old`` (ticket type, tickets set aside) to ``new``: tickets no longer
    needed go back to sale (the waiting list first), more are set aside only from what the public can buy."""
    (old_type, old_left), (new_type, new_left) = old, new
    counters: dict[str, Counters] = {}
    if old_type is not None and old_left and (old_type != new_type or new_left < old_left):
        give = old_left if old_type != new_type else old_left - new_left
        counters[old_type] = await _give_back(session, old_type, returned=give, reserved=-give, now=now)
    if new_type is not None and new_left and (old_type != new_type or new_left > old_left):
        take = new_left if old_type != new_type else new_left - old_left
        counters[new_type] = await _set_aside(session, new_type, take, now, "reserve")
    return counters


async def update_voucher(
    db: Database, voucher_id: str, changes: Mapping[str, Any], *, organizer_id: str | None = None
) -> Voucher:
    """Change a voucher's terms (its revision rises, so a kept copy is never used to price an order). ``max_uses``
    cannot go below the uses taken; the reservation follows ``reserve``, counting the tickets already taken through
    it, and its ticket type."""
    if "count" in changes or "prefix" in changes:
        raise InvalidInput.one(
            "count" if "count" in changes else "prefix", "only when creating vouchers", code=ErrorCode.NOT_APPLICABLE
        )
    now = utcnow()
    async with db.transaction() as session:
        voucher = await _load(session, voucher_id, organizer_id, for_update=True)  # first, as every sale does
        _managed_here(voucher)
        values = rules.voucher_values(changes, _stored(voucher))
        await _check_ticket_types(session, voucher.event_id, values)
        if "code_normalized" in values and await _code_taken(
            session, voucher.event_id, values["code_normalized"], but=voucher.id
        ):
            raise _code_conflict()
        max_uses = values.get("max_uses", voucher.max_uses)
        if max_uses is not None and max_uses < voucher.uses_taken:
            raise InvalidInput.one(
                "max_uses",
                f"cannot be lower than the {voucher.uses_taken} uses already taken",
                (("minimum", voucher.uses_taken),),
                code=ErrorCode.BELOW_MINIMUM,
            )
        merged = {**_stored(voucher), **values}
        old = (voucher.reserved_ticket_type_id, voucher.reserved_left)
        new_type = _reserved_type(merged)
        taken_out = voucher.reserve - voucher.reserved_left  # tickets held or sold through the reservation
        new_left = max(int(merged.get("reserve") or 0) - taken_out, 0) if new_type == old[0] else merged["reserve"]
        for key, value in values.items():
            setattr(voucher, key, value)
        voucher.reserved_ticket_type_id = new_type
        if new_type is None or not reservation_open(voucher, now):
            new_left = 0
        voucher.reserved_left = new_left
        voucher.revision += 1
        voucher.updated_at = now
        await session.flush()
        counters = await _move_reservation(session, voucher, old, (new_type, new_left), now)
        if counters:
            _record_availability(session, voucher.event_id, _rows(counters))
    return voucher


async def delete_voucher(db: Database, voucher_id: str, *, organizer_id: str | None = None) -> None:
    """Delete a voucher: its code stops working at once and its reservation's tickets go back to sale. A voucher
    that orders used stays (hidden) for their records; its code can be given to a new voucher."""
    now = utcnow()
    async with db.transaction() as session:
        voucher = await _load(session, voucher_id, organizer_id, for_update=True)
        _managed_here(voucher)
        counters = await _move_reservation(
            session, voucher, (voucher.reserved_ticket_type_id, voucher.reserved_left), (None, 0), now
        )
        used = await session.scalar(select(exists().where(VoucherUse.voucher_id == voucher.id)))
        if used:
            voucher.deleted_at = now
            voucher.reserved_left = 0
            voucher.revision += 1
        else:
            await session.delete(voucher)
        if counters:
            _record_availability(session, voucher.event_id, _rows(counters))


async def end_lapsed_reservations(db: Database, *, now: datetime | None = None, limit: int = 200) -> int:
    """Vouchers whose validity ended give the tickets still set aside for them back to sale (the waiting list
    first). Waiting-list offers are ended by the waiting list. Returns how many reservations ended."""
    now = now or utcnow()
    async with db.read() as session:
        ids = list(
            (
                await session.scalars(
                    select(Voucher.id)
                    .where(
                        Voucher.kind == "voucher",
                        Voucher.reserved_left > 0,
                        Voucher.valid_until.is_not(None),
                        Voucher.valid_until <= now,
                    )
                    .limit(limit)
                )
            ).all()
        )
    ended = 0
    for voucher_id in ids:
        async with db.transaction() as session:
            voucher = (
                await session.scalars(
                    select(Voucher)
                    .where(Voucher.id == voucher_id)
                    .with_for_update()
                    .execution_options(populate_existing=True)
                )
            ).one()
            if voucher.reserved_left <= 0 or reservation_open(voucher, now):
                continue
            counters = await _move_reservation(
                session, voucher, (voucher.reserved_ticket_type_id, voucher.reserved_left), (None, 0), now
            )
            voucher.reserved_left = 0
            _record_availability(session, voucher.event_id, _rows(counters))
            ended += 1
    return ended


CSV_COLUMNS = (
    "code",
    "batch",
    "discount",
    "ticket_ids",
    "max_uses",
    "uses",
    "remaining",
    "max_per_order",
    "valid_from",
    "valid_until",
    "reserve",
)


def _iso(value: datetime | None) -> str:
    return value.isoformat().replace("+00:00", "Z") if value is not None else ""


async def export_csv(db: Database, event_id: str, *, batch_id: str | None = None) -> str:
    """The event's voucher codes (one batch of generated codes, or all) as CSV, one voucher per row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    event = await events.get_event(db, event_id)
    for v in await list_vouchers(db, event_id, kind="voucher", batch_id=batch_id):
        discount = rules.discount_from_json(v.discount)
        remaining = "" if v.max_uses is None else max(v.max_uses - v.uses_taken, 0)
        writer.writerow(
            [
                _csv_safe(v.code),
                v.batch_id or "",
                discount.describe(event.currency or "usd") if discount else "",
                " ".join(v.ticket_type_ids) if v.ticket_type_ids is not None else "",
                "" if v.max_uses is None else v.max_uses,
                v.uses_taken,
                remaining,
                "" if v.max_per_order is None else v.max_per_order,
                _iso(v.valid_from),
                _iso(v.valid_until),
                v.reserve,
            ]
        )
    return out.getvalue()


def _csv_safe(value: str) -> str:
    """A cell a spreadsheet never reads as a formula (codes start with a letter or digit; kept as a guard)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


async def counters_of(db: Database, ticket_type_ids: list[str]) -> dict[str, Counters]:
    async with db.read() as session:
        return await _counters(session, ticket_type_ids)
