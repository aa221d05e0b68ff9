"""Notifications tables: one row per email to send, unique per order (or waiting-list) event, or per one-time link,
so it is never sent twice."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from boxoffice.clock import utcnow
from boxoffice.db import Base


class EmailMessage(Base):
    __tablename__ = "email_messages"
    __table_args__ = (Index("ix_email_messages_due", "status", "next_attempt_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    # What the email is about: an order, or a waiting-list entry (its offer, its confirmation). An account email (a
    # password reset, an invitation) is about none: order_id and event_id are "" and ``token_id`` names its one-time
    # link (accounts.models.AccountToken).
    order_id: Mapped[str | None] = mapped_column(String(32), index=True)
    waiting_list_entry_id: Mapped[str | None] = mapped_column(String(32), index=True)
    event_id: Mapped[str] = mapped_column(String(32), index=True)
    token_id: Mapped[str | None] = mapped_column(String(32))
    to_email: Mapped[str] = mapped_column(String(320))
    amount_cents: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    locked_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
