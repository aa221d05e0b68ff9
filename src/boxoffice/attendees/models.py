"""Attendees context tables: an event's questions, each ticket's attendee with its answers, each order's answers,
and the history of tickets handed to someone else."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from boxoffice.clock import utcnow
from boxoffice.db import Base


class Question(Base):
    """A question an event asks its buyers: once per order or once per ticket (``scope``), of one ``kind``."""

    __tablename__ = "questions"
    __table_args__ = (Index("ix_questions_event_position", "event_id", "position"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id"))
    label: Mapped[str] = mapped_column(String(200))
    help_text: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(16))
    required: Mapped[bool] = mapped_column(default=False)
    scope: Mapped[str] = mapped_column(String(8), default="ticket")
    options: Mapped[list[Any]] = mapped_column(default=list)  # choice, choices: the values offered, in order
    ticket_type_ids: Mapped[list[Any]] = mapped_column(default=list)  # empty: asked for every ticket type
    # {"question_id": ..., "values": [...]}: asked only when that question's answer is one of the values
    condition: Mapped[dict[str, Any] | None] = mapped_column()
    position: Mapped[int] = mapped_column(Integer, default=0)
    deleted_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Attendee(Base):
    """The person one ticket of an order is for (``unit``: its place in the order line, from 0), with the answers to
    the per-ticket questions. Written with the order; ``ticket_id`` is set when the ticket is issued."""

    __tablename__ = "attendees"
    __table_args__ = (UniqueConstraint("order_line_id", "unit", name="uq_attendees_line_unit"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id"), index=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    order_line_id: Mapped[str] = mapped_column(ForeignKey("order_lines.id"))
    unit: Mapped[int] = mapped_column(Integer)
    ticket_id: Mapped[str | None] = mapped_column(ForeignKey("tickets.id"), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(320), default="")
    # The attendee as a person (a ticket holder of the event), once the ticket is issued to someone with an email.
    person_id: Mapped[str | None] = mapped_column(ForeignKey("persons.id"))
    answers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class OrderAnswers(Base):
    """The answers to an event's per-order questions, one row per order that was asked any."""

    __tablename__ = "order_answers"

    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), primary_key=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id"), index=True)
    answers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class TicketTransfer(Base):
    """A ticket handed to someone else: who had it, who has it now, and the code version it got (the old code stops
    admitting). The emails to both people are rendered from this row."""

    __tablename__ = "ticket_transfers"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id"), index=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id"), index=True)
    code_version: Mapped[int] = mapped_column(Integer)
    from_name: Mapped[str] = mapped_column(String(200), default="")
    from_email: Mapped[str] = mapped_column(String(320))
    to_name: Mapped[str] = mapped_column(String(200))
    to_email: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
