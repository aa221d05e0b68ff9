"""API keys: created for an organizer, shown once, stored as SHA-256, listed, revocable.

A key acts as its organizer with an owner's rights. Every request looks its key up in the database (no cache), so a
revoked key is refused at once by every process. ``last_used_at`` is written at most once a
``LAST_USED_PRECISION`` per key (one conditional UPDATE), not on every request.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update

from boxoffice.accounts.models import ApiKey
from boxoffice.clock import utcnow
from boxoffice.db import Database
from boxoffice.errors import ErrorCode, InvalidInput, NotFound, Unauthorized
from boxoffice.events import service as events
from boxoffice.events.models import Person
from boxoffice.ids import new_id

KEY_PREFIX = "bo_"
MAX_NAME = 200
LAST_USED_PRECISION = timedelta(minutes=1)


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _clean_name(name: str) -> str:
    value = (name or "").strip()
    if len(value) > MAX_NAME:
        raise InvalidInput.one(
            "name", f"must be at most {MAX_NAME} characters", (("maximum", MAX_NAME),), code=ErrorCode.TOO_LONG
        )
    if any(ord(ch) < 32 for ch in value):
        raise InvalidInput.one("name", "must not contain control characters", code=ErrorCode.INVALID_FORMAT)
    return value


def _new_key(person_id: str, name: str) -> tuple[ApiKey, str]:
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        id=new_id("key"), person_id=person_id, name=name, prefix=raw[:10], key_hash=_hash(raw), created_at=utcnow()
    )
    return key, raw


async def create_api_key(db: Database, organizer_email: str, *, name: str = "") -> tuple[ApiKey, str]:
    """A new key for the organizer (created when new). The plaintext is returned once and never stored."""
    async with db.transaction() as session:
        person = await events.get_or_create_person(session, organizer_email)
        key, raw = _new_key(person.id, name.strip()[:MAX_NAME])
        session.add(key)
    return key, raw


async def create_key_for(db: Database, organizer_id: str, *, name: str = "") -> tuple[ApiKey, str]:
    """A new key for an existing organizer (the console and the API); the plaintext is returned once."""
    key, raw = _new_key(organizer_id, _clean_name(name))
    async with db.transaction() as session:
        session.add(key)
    return key, raw


async def list_api_keys(db: Database, organizer_id: str, *, include_revoked: bool = False) -> list[ApiKey]:
    """The organizer's keys, newest first."""
    stmt = select(ApiKey).where(ApiKey.person_id == organizer_id)
    if not include_revoked:
        stmt = stmt.where(ApiKey.revoked_at.is_(None))
    async with db.read() as session:
        return list((await session.scalars(stmt.order_by(ApiKey.created_at.desc(), ApiKey.id))).all())


async def authenticate(db: Database, raw: str, *, now: datetime | None = None) -> Person:
    """The organizer a key belongs to; ``Unauthorized`` for an unknown or revoked key (looked up by hash)."""
    if not raw.startswith(KEY_PREFIX) or len(raw) > 200:
        raise Unauthorized("invalid API key")
    async with db.read() as session:
        row = (
            await session.execute(
                select(ApiKey, Person).join(Person, Person.id == ApiKey.person_id).where(ApiKey.key_hash == _hash(raw))
            )
        ).one_or_none()
    if row is None or row[0].revoked_at is not None:
        raise Unauthorized("invalid or revoked API key")
    key, person = row
    now = now or utcnow()
    if key.last_used_at is None or key.last_used_at <= now - LAST_USED_PRECISION:
        await _touch(db, key.id, now)
    return person


async def _touch(db: Database, key_id: str, now: datetime) -> None:
    """Record a use; of several requests in the same minute (in any process) only one writes."""
    async with db.single() as session:
        await session.execute(
            update(ApiKey)
            .where(
                ApiKey.id == key_id,
                or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at <= now - LAST_USED_PRECISION),
            )
            .values(last_used_at=now)
        )


async def revoke_api_key(db: Database, key_id: str, *, organizer_id: str | None = None) -> ApiKey:
    """Revoke a key (of ``organizer_id`` when given: another organizer's key is not found). Revoking a revoked key
    changes nothing and is no error."""
    now = utcnow()
    async with db.transaction() as session:
        scope = [ApiKey.id == key_id] + ([ApiKey.person_id == organizer_id] if organizer_id is not None else [])
        await session.execute(update(ApiKey).where(*scope, ApiKey.revoked_at.is_(None)).values(revoked_at=now))
        key = (await session.scalars(select(ApiKey).where(*scope))).one_or_none()
        if key is None:
            raise NotFound(f"API key {key_id} not found")
    return key


async def find_organizer(db: Database, organizer_email: str) -> Person | None:
    async with db.read() as session:
        return await events.find_person(session, organizer_email)
