"""An organizer's team: members with roles, invitations by email, role changes and removals.

Every change to a team takes the organizer's ``persons`` row lock first (``lock_organizer``; SQLite's write
transactions are serialized anyway), so two owners demoting or removing each other at the same time cannot leave
the organizer without an owner: the second change waits for the first and then sees one owner left.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice import outbox
from boxoffice.accounts.errors import AlreadyMember, LastOwner
from boxoffice.accounts.models import Membership, User, UserSession
from boxoffice.accounts.roles import Role
from boxoffice.accounts.users import TokenPurpose, get_or_create_user, issue_token
from boxoffice.clock import utcnow
from boxoffice.db import Database
from boxoffice.errors import NotFound
from boxoffice.events.models import Person
from boxoffice.ids import new_id


async def lock_organizer(session: AsyncSession, organizer_id: str) -> None:
    """Serialize the team changes of one organizer (a row lock on PostgreSQL, held until the commit)."""
    found = await session.scalar(select(Person.id).where(Person.id == organizer_id).with_for_update())
    if found is None:
        raise NotFound(f"organizer {organizer_id} not found")


async def _owners(session: AsyncSession, organizer_id: str) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(Membership)
        .where(Membership.organizer_id == organizer_id, Membership.role == Role.OWNER.value)
    )
    return int(count or 0)


async def put_member(session: AsyncSession, db: Database, organizer_id: str, user_id: str, role: Role) -> Membership:
    """The user's membership with ``role``: added when new, else its role changed (guarded against leaving no
    owner). The caller holds ``lock_organizer``."""
    current = (
        await session.scalars(
            select(Membership).where(Membership.organizer_id == organizer_id, Membership.user_id == user_id)
        )
    ).one_or_none()
    if current is None:
        membership = Membership(
            id=new_id("mem"), user_id=user_id, organizer_id=organizer_id, role=role.value, created_at=utcnow()
        )
        session.add(membership)
        await session.flush()
        return membership
    await _set_role(session, current, role)
    return current


async def _set_role(session: AsyncSession, membership: Membership, role: Role) -> None:
    if (
        membership.role == Role.OWNER.value
        and role != Role.OWNER
        and await _owners(session, membership.organizer_id) <= 1
    ):
        raise LastOwner("the organizer needs at least one owner: make someone else owner first")
    membership.role = role.value
    await session.flush()


@dataclass(frozen=True)
class TeamMember:
    membership_id: str
    user_id: str
    email: str
    role: Role
    joined_at: datetime
    last_sign_in_at: datetime | None
    has_password: bool


async def list_members(db: Database, organizer_id: str) -> list[TeamMember]:
    async with db.read() as session:
        rows = (
            await session.execute(
                select(Membership, User)
                .join(User, User.id == Membership.user_id)
                .where(Membership.organizer_id == organizer_id)
                .order_by(User.email_normalized)
            )
        ).all()
    return [
        TeamMember(m.id, u.id, u.email, Role(m.role), m.created_at, u.last_sign_in_at, u.password_hash is not None)
        for m, u in rows
    ]


async def invite(
    db: Database, organizer_id: str, email: str, role: Role, *, invited_by: str, secret: bytes
) -> TeamMember:
    """Add the person with this email to the team with ``role`` and email them: a link to choose a password
    (valid 24 hours) when they have none yet, else a note that they can sign in. ``AlreadyMember`` when they are
    one already (change their role instead)."""
    try:
        async with db.transaction() as session:
            await lock_organizer(session, organizer_id)
            user = await get_or_create_user(session, db, email)
            membership = Membership(
                id=new_id("mem"), user_id=user.id, organizer_id=organizer_id, role=role.value, created_at=utcnow()
            )
            session.add(membership)
            await session.flush()
            token, _ = await issue_token(
                session,
                user.id,
                TokenPurpose.INVITATION,
                secret,
                organizer_id=organizer_id,
                role=role,
                invited_by=invited_by,
            )
            outbox.record(session, "account.invited", [], {"token_id": token.id, "email": user.email})
    except IntegrityError:
        raise AlreadyMember(f"{email.strip()} is already a member of this team") from None
    return TeamMember(
        membership.id,
        user.id,
        user.email,
        role,
        membership.created_at,
        user.last_sign_in_at,
        user.password_hash is not None,
    )


async def _membership(session: AsyncSession, organizer_id: str, membership_id: str) -> Membership:
    membership = (
        await session.scalars(
            select(Membership).where(Membership.id == membership_id, Membership.organizer_id == organizer_id)
        )
    ).one_or_none()
    if membership is None:  # another organizer's member is "not found" too
        raise NotFound(f"member {membership_id} not found")
    return membership


async def change_role(db: Database, organizer_id: str, membership_id: str, role: Role) -> None:
    async with db.transaction() as session:
        await lock_organizer(session, organizer_id)
        await _set_role(session, await _membership(session, organizer_id, membership_id), role)


async def remove_member(db: Database, organizer_id: str, membership_id: str) -> None:
    """Remove a member (``LastOwner`` for the only owner). Their sessions working for this organizer stop at once:
    every request reads the membership."""
    async with db.transaction() as session:
        await lock_organizer(session, organizer_id)
        membership = await _membership(session, organizer_id, membership_id)
        if membership.role == Role.OWNER.value and await _owners(session, organizer_id) <= 1:
            raise LastOwner("the organizer needs at least one owner: make someone else owner first")
        await session.execute(delete(Membership).where(Membership.id == membership.id))
        await session.execute(
            update(UserSession)
            .where(UserSession.user_id == membership.user_id, UserSession.organizer_id == organizer_id)
            .values(organizer_id=None)
        )
