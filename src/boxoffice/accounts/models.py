"""Accounts tables: organizer API keys, console users, their memberships in organizers, one-time tokens, sessions
and the failed sign-in counters.

An organizer is a ``persons`` row (``events.organizer_id``); a user is someone who signs in to the console and
belongs to one or more organizers through ``memberships``, each with a role (``accounts.roles.Role``). Every secret
is stored as its SHA-256 only: API keys, session cookies and one-time tokens.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from boxoffice.clock import utcnow
from boxoffice.db import Base


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id"), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    # Written at most once a minute per key (accounts.service.LAST_USED_PRECISION), not on every request.
    last_used_at: Mapped[datetime | None]


class User(Base):
    """Someone who signs in to the console; unique by email (case-insensitive). No password until they set one."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    email_normalized: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))  # argon2id, in its PHC string form
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_sign_in_at: Mapped[datetime | None]


class Membership(Base):
    """A user's place in an organizer's team, with a role (``owner``, ``manager`` or ``door``)."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "organizer_id", name="uq_memberships_user_organizer"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    organizer_id: Mapped[str] = mapped_column(ForeignKey("persons.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AccountToken(Base):
    """A one-time link: set a password (``set_password``), reset it (``reset``) or join a team (``invitation``).

    The link's secret is derived from the id with the server's secret key (so an email rendered later carries the
    same link) and only its SHA-256 is stored; it works once (``used_at``), until ``expires_at``."""

    __tablename__ = "account_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    organizer_id: Mapped[str | None] = mapped_column(ForeignKey("persons.id"))  # the team an invitation is to
    role: Mapped[str | None] = mapped_column(String(16))  # the role an invitation gives
    invited_by: Mapped[str] = mapped_column(String(320), default="")  # the inviting member's email
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    used_at: Mapped[datetime | None]


class UserSession(Base):
    """A signed-in browser: the cookie's SHA-256, the organizer it works for, and its CSRF token."""

    __tablename__ = "user_sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    organizer_id: Mapped[str | None] = mapped_column(String(32))  # chosen among the user's memberships
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class SignInFailure(Base):
    """Failed sign-ins counted per key (an account's or a client address's keyed hash) in a fixed window."""

    __tablename__ = "sign_in_failures"
    __table_args__ = (Index("ix_sign_in_failures_window_started_at", "window_started_at"),)

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[datetime]
