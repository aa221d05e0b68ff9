"""The event form of the console: what the organizer types (title, description, venue name and address, start and
end in the event's own time zone, the time zone, the currency, an image URL, the status, how long an order holds its
tickets and how long a waiting-list offer holds them, both in minutes) to ``events.service.EventInput``, and an event
back to the form's values. The rules themselves (lengths, the https image URL, the statuses, the hold's 5 to 30
minutes, the offer's 10 minutes to 7 days) are ``events.rules``: their error codes come back to the form in words
(``words``).

Left empty, the hold is the server's (``BOXOFFICE_HOLD_MINUTES``) and the offer time the default (24 hours); on an
edit, empty takes the event back to them.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from boxoffice.errors import ErrorCode, FieldError, InvalidInput
from boxoffice.events.models import Event
from boxoffice.events.rules import HOLD_MINUTES
from boxoffice.events.service import EventInput
from boxoffice.web.console.forms import ConsoleForm
from boxoffice.web.pages.forms import whole_number

LOCAL_FORMAT = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> sends
FIELDS = (
    "title",
    "description",
    "venue_name",
    "venue_address",
    "starts_at",
    "ends_at",
    "timezone",
    "currency",
    "image_url",
    "status",
    "hold_minutes",
    "waiting_list_offer_minutes",
)
# The statuses in the organizer's words, in the order the form offers them (events.models.EVENT_STATUSES).
STATUS_LABELS: list[tuple[str, str]] = [
    ("draft", "Draft: only your team sees it"),
    ("published", "Published: on sale"),
    ("sales_paused", "Sales paused: the page is visible, checkout is closed"),
    ("canceled", "Canceled: the page says so, nothing is sold"),
]
NEW_EVENT_VALUES = {"timezone": "UTC", "currency": "USD", "status": "draft"}  # a console event starts unseen
DEFAULT_OFFER_MINUTES = 24 * 60  # events.models.Event.waiting_list_offer_minutes' default


def zone_names() -> list[str]:
    return sorted(available_timezones())


def zone_of(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def parse_local(text: str, zone: ZoneInfo | None, name: str, errors: list[FieldError]) -> datetime | None:
    """``2026-03-14T19:00`` in ``zone`` -> an aware datetime; empty -> None; else an error on ``name``."""
    text = text.strip()
    if not text:
        return None
    try:
        naive = datetime.fromisoformat(text)
    except ValueError:
        errors.append(FieldError(name, "must be a date and time", code=ErrorCode.INVALID_FORMAT))
        return None
    if naive.tzinfo is not None:
        return naive
    if zone is None:
        return None  # the time zone's own error says what is wrong
    return naive.replace(tzinfo=zone)


def local_text(value: datetime | None, zone_name: str) -> str:
    if value is None:
        return ""
    zone = zone_of(zone_name) or ZoneInfo("UTC")
    return value.astimezone(zone).strftime(LOCAL_FORMAT)


def _minutes(form: ConsoleForm, name: str, errors: list[FieldError]) -> int | None:
    text = form.get(name)
    if not text:
        return None
    value = whole_number(text)
    if value is None:
        errors.append(FieldError(name, "must be a whole number of minutes", code=ErrorCode.NOT_INTEGER))
    return value


def _hold(form: ConsoleForm, errors: list[FieldError], *, creating: bool) -> int | None:
    """The typed hold; empty: the server's (on an edit, 0 takes the event back to it). A typed 0 is too short (the
    service reads 0 as "the server's", which the organizer did not write)."""
    value = _minutes(form, "hold_minutes", errors)
    if value == 0:
        low = HOLD_MINUTES[0]
        errors.append(
            FieldError(
                "hold_minutes",
                f"must be {low} to {HOLD_MINUTES[1]} minutes",
                (("minimum", low),),
                code=ErrorCode.BELOW_MINIMUM,
            )
        )
    if value is None and not form.get("hold_minutes"):
        return None if creating else 0
    return value


def event_input(form: ConsoleForm, *, creating: bool) -> EventInput:
    """The form as an ``EventInput``; ``InvalidInput`` for what the service cannot be asked (a bad date)."""
    errors: list[FieldError] = []
    zone_name = form.get("timezone") or "UTC"
    zone = zone_of(zone_name)
    if zone is None:
        errors.append(FieldError("timezone", "unknown time zone", code=ErrorCode.INVALID_FORMAT))
    starts = parse_local(form.get("starts_at"), zone, "starts_at", errors)
    ends = parse_local(form.get("ends_at"), zone, "ends_at", errors)
    if creating:
        for name, value in (("starts_at", starts), ("ends_at", ends)):
            if value is None and not form.get(name):
                errors.append(FieldError(name, "is required", code=ErrorCode.REQUIRED))
    hold = _hold(form, errors, creating=creating)
    offer = _minutes(form, "waiting_list_offer_minutes", errors)
    if offer is None and not form.get("waiting_list_offer_minutes") and not creating:
        offer = DEFAULT_OFFER_MINUTES
    if errors:
        raise InvalidInput(errors)
    return EventInput(
        title=form.get("title"),
        description=form.raw("description").strip(),
        venue_name=form.get("venue_name"),
        venue_address=form.raw("venue_address"),
        image_url=form.get("image_url"),
        status=form.get("status") or None,
        starts_at=starts,
        ends_at=ends,
        timezone=zone_name,
        currency=form.get("currency") or None,
        hold_minutes=hold,
        waiting_list_offer_minutes=offer,
    )


def event_values(event: Event) -> dict[str, str]:
    return {
        "title": event.title,
        "description": event.description,
        "venue_name": event.venue_name,
        "venue_address": event.venue_address,
        "image_url": event.image_url or "",
        "status": event.status,
        "starts_at": local_text(event.starts_at, event.timezone),
        "ends_at": local_text(event.ends_at, event.timezone),
        "timezone": event.timezone,
        "currency": (event.currency or "usd").upper(),
        "hold_minutes": str(event.hold_minutes) if event.hold_minutes is not None else "",
        "waiting_list_offer_minutes": str(event.waiting_list_offer_minutes),
    }
