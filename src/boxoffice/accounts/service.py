"""API keys: created for an organizer, shown once, stored as SHA-256, revocable."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select, update

from boxoffice.accounts.models import ApiKey
from boxoffice.clock import utcnow
from boxoffice.db import Database
from boxoffice.errors import NotFound, Unauthorized
from boxoffice.events import service as events
from boxoffice.events.models import Person
from boxoffice.ids import new_id

KEY_PREFIX = "bo_"


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


async def create_api_key(db: Database, organizer_email: str, *, name: str = "") -> tuple[ApiKey, str]:
    """A new key for the organizer (created when new). The plaintext is returned once and never stored."""
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    async with db.transaction() as session:
        person = await events.get_or_create_person(session, organizer_email)
        key = ApiKey(id=new_id("key"), person_id=person.id, name=name[:200], prefix=raw[:10], key_hash=_hash(raw))
        session.add(key)
    return key, raw


async def authenticate(db: Database, raw: str) -> Person:
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
    return row[1]


async def revoke_api_key(db: Database, key_id: str) -> None:
    async with db.transaction() as session:
        result = await session.execute(update(ApiKey).where(ApiKey.id == key_id).values(revoked_at=utcnow()))
        if getattr(result, "rowcount", 0) != 1:
            raise NotFound(f"API key {key_id} not found")
