"""Ticketing context tables: ticket types with their inventory counters, orders, order lines and issued tickets."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, Text, false, text, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from boxoffice.clock import utcnow
from boxoffice.db import Base


class OrderStatus(StrEnum):
    """Where an order is in its lifecycle (stored as the plain string)."""

    PENDING = "pending"
    CONFIRMED = "confirmed"
    CANCELED = "canceled"
    EXPIRED = "expired"
    FAILED = "failed"
    REFUNDED = "refunded"
    PARTIALLY_REFUNDED = "partially_refunded"


ORDER_STATUSES = tuple(status.value for status in OrderStatus)
HOLDING_STATUSES = (OrderStatus.PENDING,)
SOLD_STATUSES = (OrderStatus.CONFIRMED, OrderStatus.PARTIALLY_REFUNDED)
# The only transitions an order can take. Each is a guarded UPDATE ... WHERE status IN (sources).
TRANSITIONS: dict[str, tuple[str, ...]] = {
    OrderStatus.CONFIRMED: (OrderStatus.PENDING,),
    OrderStatus.CANCELED: (OrderStatus.PENDING, *SOLD_STATUSES),
    OrderStatus.EXPIRED: (OrderStatus.PENDING,),
    OrderStatus.FAILED: (OrderStatus.PENDING,),
    OrderStatus.REFUNDED: SOLD_STATUSES,
    OrderStatus.PARTIALLY_REFUNDED: SOLD_STATUSES,
}


class TicketType(Base):
    __tablename__ = "ticket_types"
    __table_args__ = (
        CheckConstraint("quantity >= 1", name="quantity_positive"),
        CheckConstraint("sold_count >= 0 AND held_count >= 0", name="counters_non_negative"),
        # The database itself refuses an oversell, whatever the code above it does (tickets set aside count).
        CheckConstraint("sold_count + held_count + reserved_count <= quantity", name="no_oversell"),
        CheckConstraint(
            "reserved_count >= 0 AND waitlist_count >= 0 AND waitlist_count <= reserved_count", name="reserved_counters"
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    pricing_model: Mapped[str] = mapped_column(String(16), default="fixed")
    base_price_cents: Mapped[int | None] = mapped_column(Integer)
    minimum_price_cents: Mapped[int | None] = mapped_column(Integer)
    suggested_price_cents: Mapped[int | None] = mapped_column(Integer)
    price_tiers: Mapped[list[Any] | None] = mapped_column()
    currency: Mapped[str] = mapped_column(String(3), default="usd")
    quantity: Mapped[int] = mapped_column(Integer)
    sold_count: Mapped[int] = mapped_column(Integer, default=0)
    held_count: Mapped[int] = mapped_column(Integer, default=0)
    # Set aside, not sold to the public: the reservations of vouchers (waiting-list offers included) and, of those,
    # ``waitlist_count`` returned tickets held back for the waiting list before they are offered.
    reserved_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    waitlist_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Shown and sold only with a voucher that unlocks it.
    hidden: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Buyers may join a waiting list when it is sold out; returned tickets go to that list first.
    waiting_list: Mapped[bool] = mapped_column(default=True, server_default=true())
    starts_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    tippable: Mapped[bool] = mapped_column(default=False)
    max_per_order: Mapped[int | None] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer, default=0)
    deleted_at: Mapped[datetime | None]
    # Raised by every organizer edit (not by sales): a reservation made from a kept copy of the ticket checks it.
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        Index("ix_orders_event_status", "event_id", "status"),
        # An event's orders newest first (the console's orders pages by keyset, its dashboard's latest orders).
        Index("ix_orders_event_created", "event_id", "created_at", "id"),
        # An event's first payment (the start of the console dashboard's sales chart): one index probe. Orders not
        # paid have no entry, nor in the unique indexes below orders with no value there yet (an order's writes then
        # skip them: migration 0028).
        Index(
            "ix_orders_event_confirmed",
            "event_id",
            "confirmed_at",
            postgresql_where=text("confirmed_at IS NOT NULL"),
            sqlite_where=text("confirmed_at IS NOT NULL"),
        ),
        *(
            Index(
                f"uq_orders_{column}",
                column,
                unique=True,
                postgresql_where=text(f"{column} IS NOT NULL"),
                sqlite_where=text(f"{column} IS NOT NULL"),
            )
            for column in ("idempotency_key", "stripe_checkout_session_id", "stripe_payment_intent_id")
        ),
        Index("ix_orders_status_expires", "status", "expires_at"),
        # The held-tickets cap per client address counts an address's pending orders in an event.
        Index(
            "ix_orders_pending_client",
            "client_key",
            "event_id",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id"))
    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id"), index=True)
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(200), default="")
    # A keyed hash of the buyer's network address (web.clients.address_key), never the address itself.
    client_key: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(24), default=OrderStatus.PENDING.value)
    currency: Mapped[str] = mapped_column(String(3))
    subtotal_cents: Mapped[int] = mapped_column(Integer)
    tip_cents: Mapped[int] = mapped_column(Integer, default=0)
    total_cents: Mapped[int] = mapped_column(Integer)
    refunded_cents: Mapped[int] = mapped_column(Integer, default=0)
    pricing_snapshot: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Tokens are derived from the order id and the secret key (ticketing/tokens.py), never stored; orders created
    # before that keep a SHA-256 of their random token here.
    token_hash: Mapped[str | None] = mapped_column(String(64))
    # The Idempotency-Key that created the order (a SHA-256 of event and key) and its request's fingerprint: the
    # order is its own idempotency record, written in the reservation's statement, so a retry after any crash finds it.
    idempotency_key: Mapped[str | None] = mapped_column(String(64))
    request_fingerprint: Mapped[str | None] = mapped_column(String(64))
    expires_at: Mapped[datetime]
    confirmed_at: Mapped[datetime | None]
    canceled_at: Mapped[datetime | None]
    expired_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]
    refunded_at: Mapped[datetime | None]
    failure_reason: Mapped[str | None] = mapped_column(Text)
    stripe_checkout_session_id: Mapped[str | None] = mapped_column(String(255))
    stripe_payment_intent_id: Mapped[str | None] = mapped_column(String(255))
    checkout_url: Mapped[str | None] = mapped_column(Text)
    checkout_attempt: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", order_by="OrderLine.position", lazy="selectin"
    )


class OrderLine(Base):
    __tablename__ = "order_lines"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    ticket_type_id: Mapped[str] = mapped_column(ForeignKey("ticket_types.id"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    title: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_cents: Mapped[int] = mapped_column(Integer)
    unit_prices: Mapped[list[Any]] = mapped_column(default=list)
    line_total_cents: Mapped[int] = mapped_column(Integer)

    order: Mapped[Order] = relationship(back_populates="lines")


REFUND_STATUSES = ("requested", "pending", "succeeded", "failed", "canceled")
# Refunds whose money is on its way or gone: they count against what an order can still refund.
REFUND_COUNTING = ("requested", "pending", "succeeded")


class Refund(Base):
    """A refund asked of Stripe by an organizer. ``requested`` is written before the Stripe call (its id is the
    Stripe idempotency key, so a retry after a crash moves the money once); Stripe's answer sets its status."""

    __tablename__ = "refunds"
    __table_args__ = (CheckConstraint("amount_cents > 0", name="amount_positive"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    amount_cents: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16), default="requested")
    stripe_refund_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    request_fingerprint: Mapped[str | None] = mapped_column(String(64))
    failure_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Ticket(Base):
    """One issued ticket (one unit of a confirmed order line): what the buyer shows at the door."""

    __tablename__ = "tickets"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    order_line_id: Mapped[str] = mapped_column(ForeignKey("order_lines.id"))
    ticket_type_id: Mapped[str] = mapped_column(ForeignKey("ticket_types.id"))
    unit_price_cents: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="valid")
    # Raised when the ticket gets a new code (handed to someone else): only the code of the current version admits
    # (notifications.codes.ticket_code / read_ticket_code).
    code_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OrderEvent(Base):
    """One status change of an order (its history), written by the transition itself, in its transaction
    (``orders._record_status``): one INSERT beside the conditional UPDATE. Its creation is the order's
    ``created_at``; an order's refunds are here with the refunded total they reached."""

    __tablename__ = "order_events"
    __table_args__ = (Index("ix_order_events_order", "order_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"))
    from_status: Mapped[str] = mapped_column(String(24))
    to_status: Mapped[str] = mapped_column(String(24))
    refunded_cents: Mapped[int] = mapped_column(Integer, default=0)  # the order's refunded total after the change
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
