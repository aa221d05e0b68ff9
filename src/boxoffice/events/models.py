"""Events context tables: events, people and event participants."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from boxoffice.clock import utcnow
from boxoffice.db import Base

# draft: only its organizer sees it (to buyers it is as absent as an unknown id); published: on sale; sales_paused:
# its page is visible but checkout is closed; canceled: its page says so and nothing is sold.
EVENT_STATUSES = ("draft", "published", "sales_paused", "canceled")
PUBLIC_STATUSES = ("published", "sales_paused", "canceled")  # the statuses buyers can see
NEW_EVENT_STATUS = "published"  # what an event gets when its creator names no status (the API's, the demo's)
ATTENDEE_DETAILS = ("off", "optional", "required")
PARTICIPANT_ROLES = ("invitee", "poll_voter", "ticket_holder", "organizer")
PARTICIPANT_STATUSES = ("pending", "accepted", "declined", "cancelled", "interested", "confirmed_with_order")


class Person(Base):
    """A buyer or user, unique by email (case-insensitive). Guest buyers become persons."""

    __tablename__ = "persons"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    email_normalized: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (
        # an organizer's events, newest first or by their start (GET /api/v1/events)
        Index("ix_events_organizer_created", "organizer_id", "created_at"),
        Index("ix_events_organizer_starts", "organizer_id", "starts_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    organizer_id: Mapped[str] = mapped_column(ForeignKey("persons.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    status: Mapped[str] = mapped_column(String(16), default=NEW_EVENT_STATUS)
    # Where it takes place, as the organizer writes it (both optional; shown on the pages, in the email, the .ics).
    venue_name: Mapped[str] = mapped_column(String(200), default="", server_default="")
    venue_address: Mapped[str] = mapped_column(String(1000), default="", server_default="")
    image_url: Mapped[str | None] = mapped_column(String(2000))  # an https URL, or none
    # The event's one currency (lowercase ISO 4217): every ticket type is priced in it. Set when the event is created
    # or by its first ticket type; changeable only while it has none.
    currency: Mapped[str | None] = mapped_column(String(3))
    # How long an order holds its tickets while the buyer pays (5 to 30 minutes); None: the server's
    # BOXOFFICE_HOLD_MINUTES. A hold shorter than Stripe's 30-minute Checkout minimum closes the Checkout Session.
    hold_minutes: Mapped[int | None] = mapped_column(Integer)
    # How long a waiting-list offer holds its tickets for the person it is sent to.
    waiting_list_offer_minutes: Mapped[int] = mapped_column(Integer, default=1440, server_default="1440")
    # Raised by every edit: a reservation made from a kept copy of the event checks it (see ticketing.reserve_pg).
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Attendees (attendees/): whether each ticket needs its own attendee name and email (ATTENDEE_DETAILS), until when
    # buyers may change their answers and hand tickets on (None: until the event starts), and how many questions it
    # asks. Changing any raises the revision, so a kept copy never sells without asking what the event asks.
    attendee_details: Mapped[str] = mapped_column(String(16), default="off", server_default="off")
    changes_until: Mapped[datetime | None]
    question_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class EventParticipant(Base):
    """One row per (event, person): how that person takes part."""

    __tablename__ = "event_participants"
    __table_args__ = (
        UniqueConstraint("event_id", "person_id", name="uq_event_participants_event_person"),
        Index("ix_event_participants_event_role", "event_id", "role"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id"))
    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id"), index=True)
    role: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(64), default="manual")
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
