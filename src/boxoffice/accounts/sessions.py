"""Console sessions, stored server-side: the browser holds a random token, the database its SHA-256, the user,
the organizer the session works for and the session's CSRF token. Signing out deletes the row; setting a password
deletes every row of the user; a removed membership takes effect on the next request (each request reads it).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, exists, func, select, update
from sqlalchemy.orm import aliased

from boxoffice.accounts.models import Membership, User, UserSession
from boxoffice.accounts.roles import Role
from boxoffice.accounts.users import digest
from boxoffice.clock import utcnow
from boxoffice.db import Database
from boxoffice.events.models import Person
from boxoffice.ids import new_id

MAX_TOKEN = 100  # longer cookie values are no session of ours: refused without a query


_others = aliased(Membership)
_organizer_count = (
    select(func.count())
    .select_from(_others)
    .where(_others.user_id == UserSession.user_id)
    .correlate(UserSession)
    .scalar_subquery()
)


@dataclass(frozen=True)
class SessionView:
    """A valid session as a request sees it: who, for which organizer (``None`` until chosen or when the
    membership is gone) and with which role there."""

    session_id: str
    user_id: str
    email: str
    csrf_token: str
    expires_at: datetime
    organizer_id: str | None
    organizer_name: str
    role: Role | None
    organizer_count: int = 0  # how many organizers the user belongs to (a chooser is offered from two)


async def start_session(db: Database, user_id: str, *, lifetime: timedelta) -> tuple[SessionView, str]:
    """A new session for the user, working for their organizer when they belong to exactly one. Returns the
    session and the cookie's value (shown once, stored hashed)."""
    raw = secrets.token_urlsafe(32)
    now = utcnow()
    async with db.transaction() as session:
        organizers = (
            await session.scalars(select(Membership.organizer_id).where(Membership.user_id == user_id).limit(2))
        ).all()
        row = UserSession(
            id=new_id("ses"),
            token_hash=digest(raw),
            user_id=user_id,
            organizer_id=organizers[0] if len(organizers) == 1 else None,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            expires_at=now + lifetime,
        )
        session.add(row)
    view = await load_session(db, raw)
    assert view is not None
    return view, raw


async def load_session(db: Database, raw: str | None, *, now: datetime | None = None) -> SessionView | None:
    """The session this cookie value opens (one query), or ``None``: unknown, expired or malformed."""
    if not raw or len(raw) > MAX_TOKEN:
        return None
    now = now or utcnow()
    async with db.read() as session:
        row = (
            await session.execute(
                select(UserSession, User.email, Membership.role, Person, _organizer_count)
                .join(User, User.id == UserSession.user_id)
                .outerjoin(
                    Membership,
                    and_(
                        Membership.user_id == UserSession.user_id, Membership.organizer_id == UserSession.organizer_id
                    ),
                )
                .outerjoin(Person, Person.id == Membership.organizer_id)
                .where(UserSession.token_hash == digest(raw), UserSession.expires_at > now)
            )
        ).one_or_none()
    if row is None:
        return None
    stored, email, role, person, count = row
    member = role is not None and person is not None
    return SessionView(
        session_id=stored.id,
        user_id=stored.user_id,
        email=email,
        csrf_token=stored.csrf_token,
        expires_at=stored.expires_at,
        organizer_id=stored.organizer_id if member else None,
        organizer_name=(person.name or person.email) if member else "",
        role=Role(role) if member else None,
        organizer_count=int(count or 0),
    )


async def choose_organizer(db: Database, session_id: str, user_id: str, organizer_id: str) -> bool:
    """Make the session work for ``organizer_id``; False (nothing changes) unless the user is its member. One
    conditional UPDATE."""
    is_member = exists().where(Membership.user_id == user_id, Membership.organizer_id == organizer_id)
    async with db.single() as session:
        result = await session.execute(
            update(UserSession)
            .where(UserSession.id == session_id, UserSession.user_id == user_id, is_member)
            .values(organizer_id=organizer_id)
        )
    return int(getattr(result, "rowcount", 0) or 0) == 1


async def end_session(db: Database, raw: str | None) -> None:
    if not raw or len(raw) > MAX_TOKEN:
        return
    async with db.single() as session:
        await session.execute(delete(UserSession).where(UserSession.token_hash == digest(raw)))


async def prune_expired(db: Database) -> int:
    return await db.delete_in_batches(UserSession, UserSession.expires_at < utcnow())
