"""Console users: creating them (with a membership), one-time links (set a password, reset it, join a team),
signing in with a password, and the details an account email is rendered from.

One-time links: the secret of a link is derived from its token's id with the server's secret key
(``link_secret``), so the email rendered after the commit carries the same link without the secret ever being
stored; the database keeps its SHA-256 only. A link works once (one conditional UPDATE decides, whatever runs at the
same time) and for ``TOKEN_VALIDITY``. Rotating ``BOXOFFICE_SECRET_KEY`` makes links not yet emailed useless: ask
for another one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice import outbox
from boxoffice.accounts import passwords, throttle
from boxoffice.accounts.errors import InvalidCredentials, InvalidLink, SignInThrottled
from boxoffice.accounts.models import AccountToken, Membership, User, UserSession
from boxoffice.accounts.roles import Role
from boxoffice.clock import utcnow
from boxoffice.db import Database
from boxoffice.errors import InvalidInput
from boxoffice.events import service as events
from boxoffice.events.models import Person
from boxoffice.ids import new_id

TOKEN_VALIDITY = timedelta(hours=24)
PASSWORD_PATH = "/manage/password/"  # + the link's secret: the page that sets a password


class TokenPurpose(StrEnum):
    SET_PASSWORD = "set_password"  # a new user made with the command line
    RESET = "reset"  # "forgot your password?"
    INVITATION = "invitation"  # added to a team from the console


def link_secret(secret: bytes, token_id: str) -> str:
    """The secret part of a one-time link (256 bits, URL-safe), derived from the token's id."""
    digest = hmac.new(secret, b"account-token:" + token_id.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def password_link(public_url: str, raw: str) -> str:
    return f"{public_url.rstrip('/')}{PASSWORD_PATH}{raw}"


async def get_or_create_user(session: AsyncSession, db: Database, email: str) -> User:
    """The user with this email (case-insensitive), created (without a password) when new; one statement."""
    normalized = events.normalize_email(email)
    stmt = db.insert(User).values(
        id=new_id("usr"), email=email.strip(), email_normalized=normalized, created_at=utcnow()
    )
    upsert = stmt.on_conflict_do_update(
        index_elements=["email_normalized"], set_={"email_normalized": stmt.excluded.email_normalized}
    ).returning(User)
    user: User = (await session.scalars(upsert, execution_options={"populate_existing": True})).one()
    return user


async def find_user(db: Database, email: str) -> User | None:
    try:
        normalized = events.normalize_email(email)
    except InvalidInput:
        return None
    async with db.read() as session:
        return (await session.scalars(select(User).where(User.email_normalized == normalized))).one_or_none()


async def issue_token(
    session: AsyncSession,
    user_id: str,
    purpose: TokenPurpose,
    secret: bytes,
    *,
    organizer_id: str | None = None,
    role: Role | None = None,
    invited_by: str = "",
    now: datetime | None = None,
) -> tuple[AccountToken, str]:
    """A new one-time link for the user, in the caller's transaction: the token row and the link's secret."""
    now = now or utcnow()
    token_id = new_id("tok")
    raw = link_secret(secret, token_id)
    token = AccountToken(
        id=token_id,
        user_id=user_id,
        purpose=purpose.value,
        token_hash=digest(raw),
        organizer_id=organizer_id,
        role=role.value if role else None,
        invited_by=invited_by[:320],
        created_at=now,
        expires_at=now + TOKEN_VALIDITY,
    )
    session.add(token)
    await session.flush()
    return token, raw


async def user_with_membership(
    db: Database, organizer_email: str, user_email: str, role: Role, secret: bytes, *, organizer_name: str = ""
) -> tuple[User, Person, str]:
    """``boxoffice user create``: the organizer (created when new), the user (created when new) as a member with
    ``role``, and a new link to set the user's password. A member already there keeps their place; their role
    changes to ``role`` unless that would leave the organizer without an owner (``LastOwner``)."""
    from boxoffice.accounts import team

    async with db.transaction() as session:
        person = await events.get_or_create_person(session, organizer_email, organizer_name or None, own_name=True)
        await team.lock_organizer(session, person.id)
        user = await get_or_create_user(session, db, user_email)
        await team.put_member(session, db, person.id, user.id, role)
        _, raw = await issue_token(session, user.id, TokenPurpose.SET_PASSWORD, secret)
    return user, person, raw


@dataclass(frozen=True)
class LinkInfo:
    """What a valid one-time link is for (the page that opens it says so)."""

    token_id: str
    purpose: TokenPurpose
    email: str
    organizer_name: str
    expires_at: datetime


async def check_link(db: Database, raw: str, *, now: datetime | None = None) -> LinkInfo:
    """The link's details when it can still be used; ``InvalidLink`` otherwise (nothing changes)."""
    now = now or utcnow()
    if not raw or len(raw) > 100:
        raise InvalidLink("this link is not valid")
    async with db.read() as session:
        row = (
            await session.execute(
                select(AccountToken, User.email, Person)
                .join(User, User.id == AccountToken.user_id)
                .outerjoin(Person, Person.id == AccountToken.organizer_id)
                .where(AccountToken.token_hash == digest(raw))
            )
        ).one_or_none()
    if row is None or row[0].used_at is not None or row[0].expires_at <= now:
        raise InvalidLink("this link is not valid: it was used already or has expired")
    token, email, person = row
    organizer = (person.name or person.email) if person is not None else ""
    return LinkInfo(token.id, TokenPurpose(token.purpose), email, organizer, token.expires_at)


async def set_password_with_link(db: Database, raw: str, password: str, *, now: datetime | None = None) -> User:
    """Set the password a valid link is for, using the link up; every session of the user ends (a reset signs
    out everyone who had the old password). ``InvalidLink`` and nothing changes when the link is unknown, used or
    expired, also when two requests race with one link (one conditional UPDATE lets exactly one through)."""
    passwords.check_new_password(password)
    hashed = await passwords.hash_password(password)  # before the transaction: a tenth of a second of CPU
    now = now or utcnow()
    async with db.transaction() as session:
        used = (
            await session.execute(
                update(AccountToken)
                .where(
                    AccountToken.token_hash == digest(raw),
                    AccountToken.used_at.is_(None),
                    AccountToken.expires_at > now,
                )
                .values(used_at=now)
                .returning(AccountToken.user_id)
            )
        ).one_or_none()
        if used is None:
            raise InvalidLink("this link is not valid: it was used already or has expired")
        user_id = used[0]
        await session.execute(update(User).where(User.id == user_id).values(password_hash=hashed))
        await session.execute(delete(UserSession).where(UserSession.user_id == user_id))
        # the other links of this user that set a password are spent too: the password is chosen
        await session.execute(
            update(AccountToken)
            .where(AccountToken.user_id == user_id, AccountToken.used_at.is_(None))
            .values(used_at=now)
        )
        user = await session.get(User, user_id)
    assert user is not None
    return user


@dataclass(frozen=True)
class SignInRules:
    account: throttle.ThrottleRule
    address: throttle.ThrottleRule


async def sign_in(
    db: Database, email: str, password: str, *, secret: bytes, address_hash: str, rules: SignInRules
) -> User:
    """The user whose email and password these are. Every attempt is counted against the account, then the
    address, before the password is checked (``throttle.count_attempt``: atomic, so a burst of concurrent attempts
    cannot slip past the count); one past either limit is refused with ``SignInThrottled`` (429) without checking
    the password, even a right one. A wrong password is ``InvalidCredentials`` (its attempt stays counted); a
    right one clears the account's count and hands its attempt back to the address. A wrong password and an unknown
    email take the same time and get the same answer."""
    try:
        normalized = events.normalize_email(email)
    except InvalidInput:  # no account has it; still counted, under what was typed
        normalized = email.strip().lower()[:320]
    keys = [
        throttle.Key(throttle.account_key(secret, normalized), rules.account),
        throttle.Key(throttle.address_throttle_key(address_hash), rules.address),
    ]
    limits = ("sign-in-account", "sign-in-address")
    attempts = []
    for key, limit in zip(keys, limits, strict=True):
        # the account first: attempts it refuses do not use up the address's (others sign in from there too)
        attempt = await throttle.count_attempt(db, key)
        if attempt.refused:
            raise _throttled(limit, attempt.refused)
        attempts.append(attempt)
    async with db.read() as session:
        user = (await session.scalars(select(User).where(User.email_normalized == normalized))).one_or_none()
    if not await passwords.verify_password(user.password_hash if user else None, password):
        for attempt, limit in zip(attempts, limits, strict=True):
            if attempt.if_failed:  # the failure that reaches a limit answers 429 at once
                raise _throttled(limit, attempt.if_failed)
        raise InvalidCredentials("wrong email or password")
    assert user is not None and user.password_hash is not None
    values: dict[str, object] = {"last_sign_in_at": utcnow()}
    if passwords.needs_rehash(user.password_hash):
        values["password_hash"] = await passwords.hash_password(password)
    async with db.single() as session:
        await session.execute(update(User).where(User.id == user.id).values(**values))
    await throttle.clear(db, keys[0].value)
    await throttle.take_back(db, keys[1].value)
    return user


def _throttled(limit: str, wait: int) -> SignInThrottled:
    return SignInThrottled(f"too many failed sign-ins: try again in {wait} seconds", limit=limit, retry_after=wait)


RESET_RULE = throttle.ThrottleRule(max_failures=3, window=timedelta(hours=1))


async def request_password_reset(db: Database, email: str, secret: bytes) -> bool:
    """Email a reset link to the user with this address, if there is one: at most ``RESET_RULE.max_failures`` an
    hour per address (more are dropped quietly, so nobody can flood an inbox). The caller answers the same whether
    or not an email went out, so the page tells nobody which addresses have accounts. True when one was queued.

    Known address or not, the same work in one transaction: the request is counted first (an atomic upsert, so a
    burst cannot pass the limit), then the user is looked up; only the link and its outbox row (sent in the
    background) are added for a known one, so the answer's time tells nothing either."""
    try:
        normalized = events.normalize_email(email)
    except InvalidInput:
        return False
    key = throttle.Key("reset:" + throttle.account_key(secret, normalized), RESET_RULE)
    now = utcnow()
    async with db.transaction() as session:
        requests, started = await throttle.count_in(session, db, key, now)
        user = (await session.scalars(select(User).where(User.email_normalized == normalized))).one_or_none()
        if user is None or RESET_RULE.wait(requests - 1, started, now):
            return False
        token, _ = await issue_token(session, user.id, TokenPurpose.RESET, secret)
        outbox.record(session, "account.password_reset", [], {"token_id": token.id, "email": user.email})
    return True


@dataclass(frozen=True)
class TokenDetails:
    """What an account email is rendered from (``notifications.delivery``)."""

    token_id: str
    purpose: TokenPurpose
    email: str
    has_password: bool
    organizer_name: str
    organizer_email: str
    role: Role | None
    invited_by: str
    expires_at: datetime


async def token_details(db: Database, token_id: str) -> TokenDetails:
    async with db.read() as session:
        row = (
            await session.execute(
                select(AccountToken, User, Person)
                .join(User, User.id == AccountToken.user_id)
                .outerjoin(Person, Person.id == AccountToken.organizer_id)
                .where(AccountToken.id == token_id)
            )
        ).one_or_none()
    if row is None:
        raise InvalidLink(f"token {token_id} not found")
    token, user, person = row
    return TokenDetails(
        token_id=token.id,
        purpose=TokenPurpose(token.purpose),
        email=user.email,
        has_password=user.password_hash is not None,
        organizer_name=(person.name or person.email) if person is not None else "",
        organizer_email=person.email if person is not None else "",
        role=Role(token.role) if token.role else None,
        invited_by=token.invited_by,
        expires_at=token.expires_at,
    )


async def memberships_of(db: Database, user_id: str) -> list[tuple[Membership, Person]]:
    """The user's memberships with their organizers, by organizer name."""
    async with db.read() as session:
        rows = (
            await session.execute(
                select(Membership, Person)
                .join(Person, Person.id == Membership.organizer_id)
                .where(Membership.user_id == user_id)
                .order_by(Person.name, Person.email)
            )
        ).all()
    return [(m, p) for m, p in rows]
