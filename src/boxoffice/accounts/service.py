"""API keys: created for an organizer, shown once, stored as SHA-256, revocable; idempotent API requests."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from boxoffice.accounts.models import ApiKey, IdempotencyRecord
from boxoffice.clock import utcnow
from boxoffice.db import Database
from boxoffice.errors import Conflict, InvalidInput, NotFound, Unauthorized
from boxoffice.events import service as events
from boxoffice.events.models import Person
from boxoffice.ids import new_id

KEY_PREFIX = "bo_"
IDEMPOTENCY_TTL = timedelta(hours=24)
# A key whose first request never answered (its process was killed mid-request) is free again after this; no request
# runs this long (Stripe calls time out after BOXOFFICE_STRIPE_TIMEOUT_SECONDS, a few tries at most).
IDEMPOTENCY_IN_FLIGHT_TTL = timedelta(minutes=10)


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


def request_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


async def begin_idempotent(db: Database, scope: str, key: str, body_hash: str) -> tuple[int, dict[str, Any]] | None:
    """Claim ``key`` for this request, or return the stored (status, body) of the first one.

    Same key with another body: ``InvalidInput`` on ``Idempotency-Key``; the first request still running:
    ``Conflict``."""
    if not key or len(key) > 255:
        raise InvalidInput.one("Idempotency-Key", "must be 1 to 255 characters")
    insert = pg_insert if db.dialect == "postgresql" else sqlite_insert
    now = utcnow()
    async with db.transaction() as session:
        await session.execute(
            delete(IdempotencyRecord).where(
                IdempotencyRecord.scope == scope, IdempotencyRecord.key == key, _expired(now)
            )
        )
        inserted = await session.execute(
            insert(IdempotencyRecord)
            .values(scope=scope, key=key, request_hash=body_hash, created_at=utcnow())
            .on_conflict_do_nothing(index_elements=["scope", "key"])
        )
        if getattr(inserted, "rowcount", 0) == 1:
            return None
        record = (
            await session.scalars(
                select(IdempotencyRecord).where(IdempotencyRecord.scope == scope, IdempotencyRecord.key == key)
            )
        ).one()
    if record.request_hash != body_hash:
        raise InvalidInput.one("Idempotency-Key", "was already used with a different request body")
    if record.status_code is None or record.response is None:
        raise Conflict("a request with this Idempotency-Key is still being processed")
    return record.status_code, record.response


def _expired(now: datetime) -> ColumnElement[bool]:
    """Records past their 24 hours, and claims whose request died before it answered."""
    return or_(
        IdempotencyRecord.created_at < now - IDEMPOTENCY_TTL,
        and_(IdempotencyRecord.status_code.is_(None), IdempotencyRecord.created_at < now - IDEMPOTENCY_IN_FLIGHT_TTL),
    )


async def prune_idempotency(db: Database, *, batch: int = 1000) -> int:
    """Delete expired idempotency records in batches of short transactions; returns how many were deleted."""
    return await db.delete_in_batches(IdempotencyRecord, _expired(utcnow()), batch=batch)


async def finish_idempotent(db: Database, scope: str, key: str, status: int, body: dict[str, Any]) -> None:
    async with db.transaction() as session:
        await session.execute(
            update(IdempotencyRecord)
            .where(IdempotencyRecord.scope == scope, IdempotencyRecord.key == key)
            .values(status_code=status, response=body)
        )


async def abandon_idempotent(db: Database, scope: str, key: str) -> None:
    """The request failed before answering: forget the key so that a retry runs again."""
    async with db.transaction() as session:
        await session.execute(
            delete(IdempotencyRecord).where(
                IdempotencyRecord.scope == scope, IdempotencyRecord.key == key, IdempotencyRecord.status_code.is_(None)
            )
        )
