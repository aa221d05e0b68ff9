"""Ticketing tables of vouchers and the waiting list: vouchers (and access codes), the uses each order line took,
and the waiting-list entries with their offers.

A voucher's ``uses_taken`` and ``reserved_left`` change only by conditional updates in the transactions that take
or give back tickets (``ticketing.voucher_uses``), and each order line's use is a row of its own, so an order gives
back exactly what it took, once (the order's guarded transition decides).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from boxoffice.clock import utcnow
from boxoffice.db import Base

VOUCHER_KINDS = ("voucher", "waitlist")
WAITING_STATUSES = ("waiting", "offered", "converted", "left", "expired")
# Entries still on the list: one per ticket type and email address.
ACTIVE_WAITING = ("waiting", "offered")


class Voucher(Base):
    __tablename__ = "vouchers"
    __table_args__ = (
        CheckConstraint("uses_taken >= 0 AND reserved_left >= 0 AND reserve >= 0", name="counters_non_negative"),
        # The database itself refuses a use beyond the voucher's limit, whatever the code above it does.
        CheckConstraint("max_uses IS NULL OR uses_taken <= max_uses", name="within_max_uses"),
        CheckConstraint("reserved_left <= reserve", name="reserved_within_reserve"),
        # One live code per event, whatever its case (a deleted voucher frees its code).
        Index(
            "uq_vouchers_event_code",
            "event_id",
            "code_normalized",
            unique=True,
            postgresql_where=text("deleted_at IS NULL"),
            sqlite_where=text("deleted_at IS NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="voucher")  # voucher | waitlist (an offer's code)
    code: Mapped[str] = mapped_column(String(64))
    code_normalized: Mapped[str] = mapped_column(String(64))
    batch_id: Mapped[str | None] = mapped_column(String(32), index=True)  # codes generated together
    discount: Mapped[dict[str, Any] | None] = mapped_column()  # {"percent": 20} | {"amount_cents": 500} | ...
    ticket_type_ids: Mapped[list[Any] | None] = mapped_column()  # None: every ticket type that is not hidden
    unlocks: Mapped[list[Any]] = mapped_column(default=list)  # hidden ticket types it makes visible and buyable
    max_uses: Mapped[int | None] = mapped_column(Integer)  # tickets, across orders; None: no limit
    uses_taken: Mapped[int] = mapped_column(Integer, default=0)
    max_per_order: Mapped[int | None] = mapped_column(Integer)
    valid_from: Mapped[datetime | None]
    valid_until: Mapped[datetime | None]
    # Tickets of one type set aside for the code's holders: ``reserve`` as configured, ``reserved_left`` of them still
    # set aside (the rest are held or sold through the code); counted in the ticket type's ``reserved_count``.
    reserve: Mapped[int] = mapped_column(Integer, default=0)
    reserved_ticket_type_id: Mapped[str | None] = mapped_column(String(32))
    reserved_left: Mapped[int] = mapped_column(Integer, default=0)
    note: Mapped[str] = mapped_column(Text, default="")
    # Raised by every organizer edit: a reservation priced from a kept copy of the voucher checks it.
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    deleted_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class VoucherUse(Base):
    """The tickets one order line took with a voucher: given back exactly (``quantity`` uses, ``reserved`` of them
    from the voucher's reservation) when the order releases its tickets, taken again if a late payment retakes
    them."""

    __tablename__ = "voucher_uses"
    __table_args__ = (CheckConstraint("quantity >= 1 AND reserved >= 0 AND reserved <= quantity", name="quantities"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    voucher_id: Mapped[str] = mapped_column(ForeignKey("vouchers.id"), index=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    order_line_id: Mapped[str] = mapped_column(ForeignKey("order_lines.id"))
    ticket_type_id: Mapped[str] = mapped_column(String(32))
    quantity: Mapped[int] = mapped_column(Integer)
    reserved: Mapped[int] = mapped_column(Integer, default=0)
    discount_cents: Mapped[int] = mapped_column(Integer, default=0)  # the line's total discount
    released_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WaitingListEntry(Base):
    """Someone waiting for a sold-out ticket type, in order of joining (``created_at``, then ``id``). An offer is a
    single-use voucher (kind ``waitlist``) holding the entry's quantity until ``offer_expires_at``."""

    __tablename__ = "waiting_list_entries"
    __table_args__ = (
        CheckConstraint("quantity >= 1", name="quantity_positive"),
        Index("ix_waiting_list_entries_queue", "ticket_type_id", "status", "created_at"),
        Index("ix_waiting_list_entries_offers", "status", "offer_expires_at"),
        Index(
            "uq_waiting_list_entries_active_email",
            "ticket_type_id",
            "email_normalized",
            unique=True,
            postgresql_where=text("status IN ('waiting', 'offered')"),
            sqlite_where=text("status IN ('waiting', 'offered')"),
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id"), index=True)
    ticket_type_id: Mapped[str] = mapped_column(ForeignKey("ticket_types.id"))
    email: Mapped[str] = mapped_column(String(320))
    email_normalized: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(200), default="")
    quantity: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="waiting")
    voucher_id: Mapped[str | None] = mapped_column(ForeignKey("vouchers.id"))  # the current or last offer's code
    offered_at: Mapped[datetime | None]
    offer_expires_at: Mapped[datetime | None]
    order_id: Mapped[str | None] = mapped_column(String(32))  # the order that bought the offer's tickets
    left_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
