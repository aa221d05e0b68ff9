"""An event's attendee settings: whether each ticket needs its attendee's name and email, until when buyers may
change their details and hand tickets on, and how many questions it asks (kept by the attendees context).

Every change raises the event's revision: a process that kept a copy of the event (``ticketing.reserve_pg``) then
reads it again before it sells, so no order skips what the event asks.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from boxoffice.clock import ensure_utc
from boxoffice.db import Database
from boxoffice.errors import ErrorCode, FieldError, InvalidInput
from boxoffice.events.models import ATTENDEE_DETAILS, Event
from boxoffice.events.service import load_event


def changes_close_at(event: Event) -> datetime:
    """When self-service changes end: the organizer's cut-off, and never later than the event's start."""
    if event.changes_until is not None and event.changes_until < event.starts_at:
        return event.changes_until
    return event.starts_at


async def update_attendee_settings(
    db: Database, event_id: str, changes: Mapping[str, Any], *, organizer_id: str | None = None
) -> Event:
    """Change ``attendee_details`` (off, optional, required) and ``changes_until`` (a time, or None for the event's
    start); the keys not in ``changes`` stay."""
    errors: list[FieldError] = []
    values: dict[str, Any] = {}
    if "attendee_details" in changes:
        if changes["attendee_details"] not in ATTENDEE_DETAILS:
            errors.append(
                FieldError(
                    "attendee_details", f"must be one of {', '.join(ATTENDEE_DETAILS)}", code=ErrorCode.INVALID_CHOICE
                )
            )
        values["attendee_details"] = changes["attendee_details"]
    if "changes_until" in changes:
        until = changes["changes_until"]
        if until is None:
            values["changes_until"] = None
        elif isinstance(until, datetime):
            try:
                values["changes_until"] = ensure_utc(until, "changes_until")
            except InvalidInput as exc:
                errors.extend(exc.errors)
        else:
            errors.append(FieldError("changes_until", "must be a date-time", code=ErrorCode.INVALID_TYPE))
    if errors:
        raise InvalidInput(errors)
    async with db.transaction() as session:
        event = await load_event(session, event_id, organizer_id=organizer_id, for_update=True)
        for key, value in values.items():
            setattr(event, key, value)
        event.revision += 1
    return event


def set_question_count(event: Event, count: int) -> None:
    """The event (loaded FOR UPDATE by the caller, in its transaction) asks ``count`` questions now."""
    event.question_count = count
    event.revision += 1
