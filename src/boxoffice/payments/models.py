"""Payments tables: every Stripe event received, recorded once; Checkout Sessions to close when a short hold ends."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from boxoffice.clock import utcnow
from boxoffice.db import Base


class StripeEvent(Base):
    __tablename__ = "stripe_events"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(128))
    object_id: Mapped[str | None] = mapped_column(String(255))
    order_id: Mapped[str | None] = mapped_column(String(32), index=True)
    livemode: Mapped[bool] = mapped_column(default=False)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(Text)
    deliveries: Mapped[int] = mapped_column(default=1)


class CheckoutClosure(Base):
    """A Checkout Session that outlives its order's hold (a hold shorter than Stripe's 30-minute minimum): when the
    hold ends at ``close_at``, the worker expires the order and then the session at Stripe (outside any transaction),
    and records ``closed_at``. A payment completing in the same moment takes the paid-after-expiry path."""

    __tablename__ = "checkout_closures"
    __table_args__ = (
        Index(
            "ix_checkout_closures_due",
            "close_at",
            postgresql_where=text("closed_at IS NULL"),
            sqlite_where=text("closed_at IS NULL"),
        ),
    )

    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), primary_key=True)
    session_id: Mapped[str] = mapped_column(String(255))
    close_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
