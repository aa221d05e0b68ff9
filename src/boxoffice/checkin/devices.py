"""Door devices: a token per paired phone, for one list of one event; shown once, stored as SHA-256, revocable.

``DeviceTokens`` authenticates a device's requests. A scanner sends one request per person at the door, so a
process keeps what a token opened for ``CACHE_SECONDS`` (a revocation is seen at once by the process that revokes
and within that time by the others), and writes ``last_used_at`` at most once a minute per device.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from boxoffice.checkin.lists import ensure_default_list, load_list, require_manager
from boxoffice.checkin.models import CheckinDevice, CheckinList
from boxoffice.checkin.rules import Scanner
from boxoffice.clock import utcnow
from boxoffice.db import Database
from boxoffice.errors import ErrorCode, FieldError, InvalidInput, NotFound, Unauthorized
from boxoffice.events.models import Event
from boxoffice.events.service import load_event
from boxoffice.ids import new_id

TOKEN_PREFIX = "bodev_"
MAX_LABEL = 100
CACHE_SECONDS = 2.0
CACHE_ENTRIES = 10_000
LAST_USED_EVERY = timedelta(minutes=1)


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def is_device_token(raw: str) -> bool:
    return raw.startswith(TOKEN_PREFIX)


@dataclass(frozen=True)
class NewDevice:
    device: CheckinDevice
    token: str  # shown once


async def create_device(
    db: Database, event_id: str, label: str, scanner: Scanner, *, list_id: str | None = None
) -> NewDevice:
    """A device for ``list_id`` (the event's default list when not given) of the scanner's event."""
    require_manager(scanner)
    label = " ".join((label or "").split())
    if not label:
        raise InvalidInput.one("label", "is required", code=ErrorCode.REQUIRED)
    if len(label) > MAX_LABEL:
        raise InvalidInput.one(
            "label", f"must be at most {MAX_LABEL} characters", (("maximum", MAX_LABEL),), code=ErrorCode.TOO_LONG
        )
    async with db.read() as session:
        await load_event(session, event_id, organizer_id=scanner.organizer_id)
    if list_id is None:
        await ensure_default_list(db, event_id)
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    async with db.transaction() as session:
        if list_id is None:
            chosen = (
                await session.scalars(
                    select(CheckinList).where(
                        CheckinList.default_for_event == event_id, CheckinList.deleted_at.is_(None)
                    )
                )
            ).one_or_none()
            if chosen is None:
                raise InvalidInput.one(
                    "checkin_list_id", "the event's default list was deleted: name a list", code=ErrorCode.REQUIRED
                )
        else:
            try:
                chosen, _ = await load_list(session, list_id, scanner)
            except NotFound:
                chosen = None
            if chosen is None or chosen.event_id != event_id:
                raise InvalidInput(
                    FieldError("checkin_list_id", "is not a check-in list of this event", code=ErrorCode.NOT_FOUND)
                )
        device = CheckinDevice(
            id=new_id("dev"),
            event_id=event_id,
            list_id=chosen.id,
            label=label,
            prefix=raw[:12],
            token_hash=_hash(raw),
            created_at=utcnow(),
        )
        session.add(device)
    return NewDevice(device, raw)


async def list_devices(db: Database, event_id: str, scanner: Scanner) -> list[CheckinDevice]:
    """The event's devices, revoked ones included, newest first."""
    require_manager(scanner)
    async with db.read() as session:
        await load_event(session, event_id, organizer_id=scanner.organizer_id)
        rows = await session.scalars(
            select(CheckinDevice)
            .where(CheckinDevice.event_id == event_id)
            .order_by(CheckinDevice.created_at.desc(), CheckinDevice.id)
        )
        return list(rows.all())


class DeviceTokens:
    """Authenticates device tokens (see the module's docstring), and revokes them."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.clock = time.monotonic
        self._cache: dict[str, tuple[float, Scanner]] = {}
        self._last_used: dict[str, datetime] = {}

    async def authenticate(self, raw: str) -> Scanner:
        """The scanner a device token is; ``Unauthorized`` for an unknown or revoked one."""
        if not is_device_token(raw) or len(raw) > 200:
            raise Unauthorized("invalid device token")
        key = _hash(raw)
        cached = self._cache.get(key)
        if cached is not None and cached[0] > self.clock():
            return cached[1]
        async with self.db.read() as session:
            found = (
                await session.execute(
                    select(CheckinDevice, Event.organizer_id)
                    .join(Event, Event.id == CheckinDevice.event_id)
                    .where(CheckinDevice.token_hash == key)
                )
            ).one_or_none()
        if found is None or found[0].revoked_at is not None:
            self._cache.pop(key, None)
            raise Unauthorized("invalid or revoked device token")
        device, organizer_id = found
        scanner = Scanner(
            organizer_id=organizer_id,
            event_id=device.event_id,
            list_id=device.list_id,
            device_id=device.id,
            label=device.label,
        )
        if len(self._cache) >= CACHE_ENTRIES:
            self._cache.clear()
        self._cache[key] = (self.clock() + CACHE_SECONDS, scanner)
        await self._touch(device.id)
        return scanner

    async def _touch(self, device_id: str) -> None:
        now = utcnow()
        last = self._last_used.get(device_id)
        if last is not None and now - last < LAST_USED_EVERY:
            return
        self._last_used[device_id] = now
        if len(self._last_used) > CACHE_ENTRIES:
            self._last_used.clear()
        async with self.db.single() as session:
            await session.execute(
                update(CheckinDevice)
                .where(CheckinDevice.id == device_id)
                .values(last_used_at=now)
                .execution_options(synchronize_session=False)
            )

    async def revoke(self, device_id: str, scanner: Scanner) -> CheckinDevice:
        """Revoke a device of the scanner's organizer (again: no change). ``NotFound`` for anyone else's."""
        require_manager(scanner)
        async with self.db.transaction() as session:
            found = (
                await session.execute(
                    select(CheckinDevice, Event.organizer_id)
                    .join(Event, Event.id == CheckinDevice.event_id)
                    .where(CheckinDevice.id == device_id)
                    .with_for_update(of=CheckinDevice)
                )
            ).one_or_none()
            if found is None or found[1] != scanner.organizer_id:
                raise NotFound("device not found")
            device = found[0]
            if device.revoked_at is None:
                device.revoked_at = utcnow()
            token_hash = device.token_hash
        self._cache.pop(token_hash, None)
        return device
