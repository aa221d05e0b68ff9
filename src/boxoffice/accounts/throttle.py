"""Failed sign-in throttling, shared by every process through the database.

Failures are counted per key in a fixed window: one key per account (a keyed hash of the email typed, known
account or not) and one per client address (``web.clients.address_key``). Once a key has ``max_failures`` in its
window, sign-ins for it are refused (429) until the window ends, without the password being checked. A successful
sign-in clears its account's count, never its address's (one good password must not reset an attacker's count).

``ThrottleRule`` is the pure rule; ``count_attempt`` counts an attempt before it is tried, with one upsert (atomic
in both databases, whatever runs at the same time), so of a burst of concurrent attempts exactly ``max_failures``
are tried and the rest refused; ``record_failure`` counts failures the same way and ``wait_seconds`` reads where a
set of keys stands.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.accounts.models import SignInFailure
from boxoffice.clock import utcnow
from boxoffice.db import Database, UTCDateTime


@dataclass(frozen=True)
class ThrottleRule:
    max_failures: int
    window: timedelta

    def wait(self, failures: int, window_started_at: datetime, now: datetime) -> int:
        """Whole seconds until a key with ``failures`` in the window that started at ``window_started_at`` may try
        again (0: it may now)."""
        if self.max_failures <= 0 or failures < self.max_failures:
            return 0
        left = (window_started_at + self.window - now).total_seconds()
        return max(math.ceil(left), 0)

    def restarts(self, window_started_at: datetime, now: datetime) -> bool:
        """Whether a failure at ``now`` starts a new window (the old one has ended)."""
        return now >= window_started_at + self.window


@dataclass(frozen=True)
class Key:
    """A counted key and the rule it follows."""

    value: str
    rule: ThrottleRule


def account_key(secret: bytes, email_normalized: str) -> str:
    digest = hmac.new(secret, b"sign-in-account:" + email_normalized.encode(), hashlib.sha256).hexdigest()
    return "account:" + digest[:40]


def address_throttle_key(address_hash: str) -> str:
    return "address:" + address_hash


async def wait_seconds(db: Database, keys: Sequence[Key], *, now: datetime | None = None) -> int:
    """The longest wait any of ``keys`` is under (0: none is throttled)."""
    now = now or utcnow()
    by_key = {key.value: key.rule for key in keys}
    async with db.read() as session:
        rows = (await session.execute(select(SignInFailure).where(SignInFailure.key.in_(list(by_key))))).scalars()
        waits = [by_key[row.key].wait(row.failures, row.window_started_at, now) for row in rows]
    return max(waits, default=0)


async def count_in(session: AsyncSession, db: Database, key: Key, now: datetime) -> tuple[int, datetime]:
    """One more for ``key`` in its window (a new window when the last one ended): the count and the window's start."""
    restart = SignInFailure.window_started_at <= now - key.rule.window
    stmt = db.insert(SignInFailure).values(key=key.value, failures=1, window_started_at=now)
    upsert = stmt.on_conflict_do_update(
        index_elements=["key"],
        set_={
            "failures": case((restart, 1), else_=SignInFailure.failures + 1),
            "window_started_at": case((restart, literal(now, UTCDateTime())), else_=SignInFailure.window_started_at),
        },
    ).returning(SignInFailure.failures, SignInFailure.window_started_at)
    failures, started = (await session.execute(upsert)).one()
    return int(failures), started


async def record_failure(db: Database, keys: Sequence[Key], *, now: datetime | None = None) -> int:
    """Count a failure against each key; returns the longest wait this leaves (0 if none is throttled yet)."""
    now = now or utcnow()
    waits = []
    async with db.transaction() as session:
        for key in keys:
            failures, started = await count_in(session, db, key, now)
            waits.append(key.rule.wait(failures, started, now))
    return max(waits, default=0)


@dataclass(frozen=True)
class Attempt:
    """An attempt counted before it is tried: ``refused`` (seconds to wait) when it is past the rule's
    ``max_failures`` in the window, so it must not be tried; ``if_failed`` the wait a failure of it leaves (it is
    the last one allowed), 0 when none."""

    refused: int
    if_failed: int


async def count_attempt(db: Database, key: Key, *, now: datetime | None = None) -> Attempt:
    """Count an attempt against ``key`` BEFORE it is tried (one atomic upsert: concurrent attempts each get their
    own number, so of a burst exactly ``max_failures`` may be tried). A failed attempt stays counted; a good one is
    handed back (``clear`` or ``take_back``)."""
    now = now or utcnow()
    async with db.transaction() as session:
        attempts, started = await count_in(session, db, key, now)
    return Attempt(key.rule.wait(attempts - 1, started, now), key.rule.wait(attempts, started, now))


async def take_back(db: Database, key: str) -> None:
    """Uncount one attempt of ``key`` (it succeeded: a good sign-in is no failure of its address)."""
    async with db.single() as session:
        await session.execute(
            update(SignInFailure)
            .where(SignInFailure.key == key, SignInFailure.failures > 0)
            .values(failures=SignInFailure.failures - 1)
        )


async def clear(db: Database, key: str) -> None:
    async with db.single() as session:
        await session.execute(delete(SignInFailure).where(SignInFailure.key == key))


async def prune(db: Database, *, older_than: timedelta) -> int:
    """Delete counters whose window started longer ago than ``older_than`` (the longest window)."""
    return await db.delete_in_batches(SignInFailure, SignInFailure.window_started_at < utcnow() - older_than)
