"""Door devices: a token per paired phone, for one list of one event; shown once, stored as SHA-256, revocable.

``DeviceTokens`` authenticates a device's requests. A scanner sends one request per person at the door, so a
process keeps what a token opened for ``CACHE_SECONDS`` (a revocation is seen at once by the process that revokes
and within that time by the others), and writes ``last_used_at`` at most once a minute per device.

A door team member signed in to the console opens the scanner with a token of their own (``open_member_scanner``):
a device row with the member's ``user_id`` and console ``session_id``, for one list, expiring after
``MEMBER_HOURS`` (or with the session, if sooner). It authenticates like any device token, and only while its
session is alive and still works for the event's organizer with a role that may check in: signing out, a new
password, leaving the team or the session's expiry end it, with no other table to update. A member keeps at most
``MEMBER_SCANNERS`` scanners: opening one more revokes the oldest. Revoking a member's scanner ends the console
session it was opened from too (whoever holds that phone must sign in again, with the password, to open another).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Exists, and_, delete, select, update

from boxoffice.accounts.models import Membership, UserSession
from boxoffice.accounts.roles import Action, roles_permitted
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
MEMBER_HOURS = 16  # a team member's scanner lasts a long evening at the door, at most
MEMBER_SCANNERS = 5  # a member's scanners that may work at once (the oldest is revoked past it)


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def is_device_token(raw: str) -> bool:
    return raw.startswith(TOKEN_PREFIX)


def _label(label: str) -> str:
    label = " ".join((label or "").split())
    if not label:
        raise InvalidInput.one("label", "is required", code=ErrorCode.REQUIRED)
    if len(label) > MAX_LABEL:
        raise InvalidInput.one(
            "label", f"must be at most {MAX_LABEL} characters", (("maximum", MAX_LABEL),), code=ErrorCode.TOO_LONG
        )
    return label


def _new_device(event_id: str, list_id: str, label: str) -> tuple[CheckinDevice, str]:
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    device = CheckinDevice(
        id=new_id("dev"),
        event_id=event_id,
        list_id=list_id,
        label=label,
        prefix=raw[:12],
        token_hash=_hash(raw),
        created_at=utcnow(),
    )
    return device, raw


@dataclass(frozen=True)
class NewDevice:
    device: CheckinDevice
    token: str  # shown once


async def create_device(
    db: Database, event_id: str, label: str, scanner: Scanner, *, list_id: str | None = None
) -> NewDevice:
    """A device for ``list_id`` (the event's default list when not given) of the scanner's event."""
    require_manager(scanner)
    label = _label(label)
    async with db.read() as session:
        await load_event(session, event_id, organizer_id=scanner.organizer_id)
    if list_id is None:
        await ensure_default_list(db, event_id)
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
        device, raw = _new_device(event_id, chosen.id, label)
        session.add(device)
    return NewDevice(device, raw)


@dataclass(frozen=True)
class ConsoleSession:
    """The signed-in console member a scanner token is minted for."""

    user_id: str
    session_id: str
    label: str  # how their check-ins are recorded: the member's email
    session_expires_at: datetime


async def open_member_scanner(
    db: Database, list_id: str, scanner: Scanner, member: ConsoleSession, *, now: datetime | None = None
) -> NewDevice:
    """A scanner token of the member's own for ``list_id`` (any list the member's ``scanner`` reaches), living with
    their console session (see the module's docstring). ``NotFound`` for a list they do not reach. The member's
    scanners past the newest ``MEMBER_SCANNERS`` are revoked (other processes may accept them for up to
    ``CACHE_SECONDS`` more)."""
    now = now or utcnow()
    label = _label(member.label[:MAX_LABEL])
    async with db.transaction() as session:
        lst, _ = await load_list(session, list_id, scanner)
        device, raw = _new_device(lst.event_id, lst.id, label)
        device.user_id, device.session_id = member.user_id, member.session_id
        device.expires_at = min(now + timedelta(hours=MEMBER_HOURS), member.session_expires_at)
        session.add(device)
        await session.flush()
        older = (
            await session.scalars(
                select(CheckinDevice.id)
                .where(
                    CheckinDevice.user_id == member.user_id,
                    CheckinDevice.revoked_at.is_(None),
                    CheckinDevice.expires_at > now,
                )
                .order_by(CheckinDevice.created_at.desc(), CheckinDevice.id.desc())
                .offset(MEMBER_SCANNERS)
            )
        ).all()
        if older:
            await session.execute(
                update(CheckinDevice)
                .where(CheckinDevice.id.in_(older))
                .values(revoked_at=now)
                .execution_options(synchronize_session=False)
            )
    return NewDevice(device, raw)


async def list_devices(
    db: Database, event_id: str, scanner: Scanner, *, members: bool | None = None
) -> list[CheckinDevice]:
    """The event's devices, revoked ones included, newest first (``members``: only the team members' scanners, or
    only the paired devices)."""
    require_manager(scanner)
    async with db.read() as session:
        await load_event(session, event_id, organizer_id=scanner.organizer_id)
        stmt = select(CheckinDevice).where(CheckinDevice.event_id == event_id)
        if members is not None:
            stmt = stmt.where(CheckinDevice.user_id.is_not(None) if members else CheckinDevice.user_id.is_(None))
        rows = await session.scalars(stmt.order_by(CheckinDevice.created_at.desc(), CheckinDevice.id))
        return list(rows.all())


async def open_member_scanners(
    db: Database, event_id: str, scanner: Scanner, *, now: datetime | None = None
) -> list[CheckinDevice]:
    """The team members' scanners of the event that work now (session alive, not revoked, not expired)."""
    require_manager(scanner)
    now = now or utcnow()
    async with db.read() as session:
        await load_event(session, event_id, organizer_id=scanner.organizer_id)
        rows = await session.scalars(
            select(CheckinDevice)
            .join(Event, Event.id == CheckinDevice.event_id)
            .where(
                CheckinDevice.event_id == event_id,
                CheckinDevice.user_id.is_not(None),
                CheckinDevice.revoked_at.is_(None),
                CheckinDevice.expires_at > now,
                _session_alive(now),
            )
            .order_by(CheckinDevice.created_at.desc(), CheckinDevice.id)
        )
        return list(rows.all())


def in_use(device: CheckinDevice, now: datetime | None = None) -> bool:
    """Not revoked and not expired (a member's scanner also ends with its session, which this does not read)."""
    now = now or utcnow()
    return device.revoked_at is None and (device.expires_at is None or device.expires_at > now)


def _session_alive(now: datetime) -> Exists:
    """SQL: a member scanner's console session still works for the event's organizer, with a role that checks in."""
    return (
        select(UserSession.id)
        .join(
            Membership,
            and_(Membership.user_id == UserSession.user_id, Membership.organizer_id == UserSession.organizer_id),
        )
        .where(
            UserSession.id == CheckinDevice.session_id,
            UserSession.user_id == CheckinDevice.user_id,
            UserSession.organizer_id == Event.organizer_id,
            UserSession.expires_at > now,
            Membership.role.in_([role.value for role in roles_permitted(Action.CHECK_IN)]),
        )
        .exists()
    )


class DeviceTokens:
    """Authenticates device tokens (see the module's docstring), and revokes them."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.clock = time.monotonic
        self._cache: dict[str, tuple[float, Scanner, str | None]] = {}  # token hash: (until, scanner, session id)
        self._last_used: dict[str, datetime] = {}

    async def authenticate(self, raw: str) -> Scanner:
        """The scanner a device token is; ``Unauthorized`` for an unknown or revoked one."""
        if not is_device_token(raw) or len(raw) > 200:
            raise Unauthorized("invalid device token")
        key = _hash(raw)
        cached = self._cache.get(key)
        if cached is not None and cached[0] > self.clock():
            return cached[1]
        now = utcnow()
        async with self.db.read() as session:
            found = (
                await session.execute(
                    select(CheckinDevice, Event.organizer_id, _session_alive(now))
                    .join(Event, Event.id == CheckinDevice.event_id)
                    .where(CheckinDevice.token_hash == key)
                )
            ).one_or_none()
        if found is None or not in_use(found[0], now) or (found[0].session_id is not None and not found[2]):
            self._cache.pop(key, None)
            raise Unauthorized("invalid, revoked or expired device token")
        device, organizer_id, _ = found
        scanner = Scanner(
            organizer_id=organizer_id,
            event_id=device.event_id,
            list_id=device.list_id,
            device_id=device.id,
            label=device.label,
        )
        if len(self._cache) >= CACHE_ENTRIES:
            self._cache.clear()
        self._cache[key] = (self.clock() + CACHE_SECONDS, scanner, device.session_id)
        await self._touch(device.id)
        return scanner

    def forget_session(self, session_id: str) -> None:
        """A console session ended (sign-out): its members' scanners stop here at once (the others see it within
        ``CACHE_SECONDS``)."""
        for key in [k for k, (_, _, sid) in self._cache.items() if sid == session_id]:
            self._cache.pop(key, None)

    def forget_all(self) -> None:
        """A team changed (a member removed): every token is read again on its next request."""
        self._cache.clear()

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
        """Revoke a device of the scanner's organizer (again: no change). ``NotFound`` for anyone else's. A member's
        scanner takes its console session with it (deleted: signed out), so that session cannot open another."""
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
            if device.session_id is not None:
                await session.execute(delete(UserSession).where(UserSession.id == device.session_id))
            token_hash = device.token_hash
        self._cache.pop(token_hash, None)
        if device.session_id is not None:
            self.forget_session(device.session_id)
        return device
