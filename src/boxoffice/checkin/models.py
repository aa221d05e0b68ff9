"""Check-in context tables: check-in lists, check-ins (one admitted row per ticket and list) and door devices.

Exactly one admission per ticket and list is decided by the database: ``uq_checkins_admitted`` is a unique index on
``(list_id, ticket_id)`` over the rows that are neither undone nor flagged duplicates, and a scan writes its row with
``INSERT … ON CONFLICT DO NOTHING``; whoever inserts is the one ``ok``. ``uq_checkins_nonce`` makes a scanner's retry
of the same scan (same ``nonce``) find the first row instead of writing another.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from boxoffice.clock import utcnow
from boxoffice.db import Base


class CheckinList(Base):
    """Who may enter where: an event's tickets of all its ticket types, or of a chosen few, within an optional time
    window. Deleting a list hides it (``deleted_at``) and keeps its check-ins."""

    __tablename__ = "checkin_lists"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    all_ticket_types: Mapped[bool] = mapped_column(default=True)
    ticket_type_ids: Mapped[list[Any]] = mapped_column(default=list)  # the chosen ones when not all_ticket_types
    starts_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    # The event's id on its default list (created with the event), else null: unique, so creating it is idempotent.
    default_for_event: Mapped[str | None] = mapped_column(String(32), unique=True)
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # raised by every change
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[datetime | None]


class CheckinDevice(Base):
    """A door device (a phone paired by scanning a QR code): it scans on one list of one event, and nothing else.
    Its token is shown once and stored as a SHA-256.

    A team member's scanner (``user_id`` set: minted by the console's "Open the scanner") is the same, tied to the
    member's console session (``session_id``): it works while that session does, the member is in the team, and
    until ``expires_at``."""

    __tablename__ = "checkin_devices"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id"), index=True)
    list_id: Mapped[str] = mapped_column(ForeignKey("checkin_lists.id"))
    label: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))  # a team member's scanner
    session_id: Mapped[str | None] = mapped_column(String(32))  # the console session it lives with (no FK: it ends)
    expires_at: Mapped[datetime | None]


class Checkin(Base):
    """One admission at a list, or one flagged duplicate: a second admission of the same ticket made by a device
    while it was offline (recorded, since the person did walk in, and counted apart)."""

    __tablename__ = "checkins"
    __table_args__ = (
        Index(
            "uq_checkins_admitted",
            "list_id",
            "ticket_id",
            unique=True,
            postgresql_where=text("undone_at IS NULL AND NOT duplicate"),
            sqlite_where=text("undone_at IS NULL AND duplicate = 0"),
        ),
        Index(
            "uq_checkins_nonce",
            "list_id",
            "nonce",
            unique=True,
            postgresql_where=text("nonce IS NOT NULL"),
            sqlite_where=text("nonce IS NOT NULL"),
        ),
        Index("ix_checkins_ticket_id", "ticket_id"),
        Index("ix_checkins_list_received", "list_id", "received_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    list_id: Mapped[str] = mapped_column(ForeignKey("checkin_lists.id"))
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id"))
    ticket_type_id: Mapped[str] = mapped_column(String(32))  # the ticket's, kept for the counts per ticket type
    scanned_at: Mapped[datetime]  # when the door saw the ticket (the device's clock for an offline upload)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)  # when the server recorded it
    device_id: Mapped[str | None] = mapped_column(ForeignKey("checkin_devices.id"))
    device_label: Mapped[str] = mapped_column(String(100), default="")
    nonce: Mapped[str | None] = mapped_column(String(100))
    manual: Mapped[bool] = mapped_column(default=False)  # checked in from a search, not from a code
    duplicate: Mapped[bool] = mapped_column(default=False)
    undone_at: Mapped[datetime | None]
