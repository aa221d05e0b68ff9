"""The rules of an event's fields: what an organizer may set, checked all at once so that every field at fault is
named in one answer. Pure (no I/O): the service reads and writes the rows."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from boxoffice import money
from boxoffice.errors import ErrorCode, FieldError, InvalidInput
from boxoffice.events import times
from boxoffice.events.models import EVENT_STATUSES, NEW_EVENT_STATUS, Event

MAX_TITLE = 200
MAX_DESCRIPTION = 20_000
MAX_VENUE_NAME = 200
MAX_VENUE_ADDRESS = 1000
MAX_IMAGE_URL = 2000
_CONTROL = re.compile(r"[\x00-\x1f]")
_CONTROL_BUT_NEWLINES = re.compile(r"[\x00-\x09\x0b-\x1f]")  # after \r and \r\n became \n
_PORT = "(?:[0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
_HOST = r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?"
# An https URL: a host name (ASCII letters, digits, dots and hyphens; no user name or password), an optional port,
# then a path, query or fragment without spaces, controls or the characters URLs must escape. ECMA-262 and Python
# read it alike (the API's schema states it; web/api/fields.py).
IMAGE_URL_PATTERN = (
    rf"^[Hh][Tt][Tt][Pp][Ss]://{_HOST}(?::{_PORT})?"
    r'(?:[/?#][^\u0000-\u0020\u007f-\u009f"<>\\^`{|}]*)?$'
)
_IMAGE_URL = re.compile(IMAGE_URL_PATTERN.replace("$", r"\Z"))

# The organizer's quick status actions (the console's dashboard): the statuses each may start from, and its result.
# Any other change of status (cancel, back to draft) goes through the event's fields like the rest.
STATUS_ACTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "publish": (("draft",), "published"),
    "pause": (("published",), "sales_paused"),
    "resume": (("sales_paused",), "published"),
}


@dataclass
class EventInput:
    """What an organizer sends; ``None`` leaves a field as it is (on a new event: its default). ``starts_at`` and
    ``ends_at`` are instants with an offset, or wall-clock times in the event's ``timezone``. An empty
    ``image_url`` removes the image."""

    title: str | None = None
    description: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    timezone: str | None = None
    status: str | None = None
    currency: str | None = None
    venue_name: str | None = None
    venue_address: str | None = None
    image_url: str | None = None
    hold_minutes: int | None = None  # 5 to 30; 0: back to the server's default (None: unchanged)
    waiting_list_offer_minutes: int | None = None  # how long a waiting-list offer holds its tickets


HOLD_MINUTES = (5, 30)
OFFER_MINUTES = (10, 7 * 24 * 60)


def _too_long(field: str, maximum: int) -> FieldError:
    return FieldError(field, f"must be at most {maximum} characters", (("maximum", maximum),), code=ErrorCode.TOO_LONG)


def _text(field: str, value: str, maximum: int, errors: list[FieldError], *, lines: bool = False) -> str:
    """A trimmed line (or, with ``lines``, several: newlines kept as ``\\n``) without control characters."""
    text = value.replace("\r\n", "\n").replace("\r", "\n").strip() if lines else value.strip()
    if len(text) > maximum:
        errors.append(_too_long(field, maximum))
    elif (_CONTROL_BUT_NEWLINES if lines else _CONTROL).search(text):
        errors.append(FieldError(field, "must not contain control characters", code=ErrorCode.INVALID_FORMAT))
    return text


def image_url(value: str, field: str = "image_url") -> str | None:
    """An https URL (``IMAGE_URL_PATTERN``), or ``None`` for an empty value (no image)."""
    url = value.strip()
    if not url:
        return None
    if len(url) > MAX_IMAGE_URL:
        raise InvalidInput(_too_long(field, MAX_IMAGE_URL))
    if not _IMAGE_URL.match(url):
        raise InvalidInput.one(
            field, "must be an https URL, such as https://example.com/poster.jpg", code=ErrorCode.INVALID_FORMAT
        )
    return url


def event_values(data: EventInput, current: Event | None) -> dict[str, Any]:
    """The columns to write for ``data`` (on ``current``, or on a new event when it is ``None``); every field at
    fault in one ``InvalidInput``. Wall-clock times are read in the ``timezone`` sent, else the event's own."""
    errors: list[FieldError] = []
    values: dict[str, Any] = {}
    if data.title is not None or current is None:
        title = (data.title or "").strip()
        if not title:
            errors.append(FieldError("title", "is required", code=ErrorCode.REQUIRED))
        elif len(title) > MAX_TITLE:
            errors.append(_too_long("title", MAX_TITLE))
        values["title"] = title
    if data.description is not None:
        if len(data.description) > MAX_DESCRIPTION:
            errors.append(_too_long("description", MAX_DESCRIPTION))
        values["description"] = data.description
    if data.venue_name is not None:
        values["venue_name"] = _text("venue_name", data.venue_name, MAX_VENUE_NAME, errors)
    if data.venue_address is not None:
        values["venue_address"] = _text("venue_address", data.venue_address, MAX_VENUE_ADDRESS, errors, lines=True)
    if data.image_url is not None:
        try:
            values["image_url"] = image_url(data.image_url)
        except InvalidInput as exc:
            errors.extend(exc.errors)
    zone: ZoneInfo | None = None
    zone_broken = False
    if data.timezone is not None:
        try:
            zone = times.zone_named(data.timezone)
            values["timezone"] = zone.key
        except InvalidInput as exc:
            errors.extend(exc.errors)
            zone_broken = True
    elif current is not None:
        zone = times.zone_named(current.timezone)
    for name in ("starts_at", "ends_at"):
        value: datetime | None = getattr(data, name)
        if value is None:
            if current is None:
                errors.append(FieldError(name, "is required", code=ErrorCode.REQUIRED))
            continue
        if zone_broken and times.is_local(value):
            continue  # read in a time zone that is not one: the time zone's error says it
        try:
            values[name] = times.to_utc(value, zone, name)
        except InvalidInput as exc:
            errors.extend(exc.errors)
    starts = values.get("starts_at", current.starts_at if current else None)
    ends = values.get("ends_at", current.ends_at if current else None)
    if starts is not None and ends is not None and ends <= starts:
        errors.append(FieldError("ends_at", "must be after starts_at", code=ErrorCode.NOT_ORDERED))
    if data.currency is not None:
        code = money.normalize_currency(data.currency)
        if not money.is_supported(code):
            errors.append(
                FieldError("currency", "must be a supported three-letter ISO 4217 code", code=ErrorCode.INVALID_CHOICE)
            )
        values["currency"] = code
    if data.status is not None:
        if data.status not in EVENT_STATUSES:
            errors.append(
                FieldError("status", f"must be one of {', '.join(EVENT_STATUSES)}", code=ErrorCode.INVALID_CHOICE)
            )
        values["status"] = data.status
    elif current is None:
        values["status"] = NEW_EVENT_STATUS
    for name, (low, high), zero in (
        ("hold_minutes", HOLD_MINUTES, True),
        ("waiting_list_offer_minutes", OFFER_MINUTES, False),
    ):
        value = getattr(data, name)
        if value is None:
            continue
        if zero and value == 0:
            values[name] = None  # the server's BOXOFFICE_HOLD_MINUTES
        elif not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            bound = (("minimum", low),) if isinstance(value, int) and value < low else (("maximum", high),)
            code = ErrorCode.BELOW_MINIMUM if bound[0][0] == "minimum" else ErrorCode.ABOVE_MAXIMUM
            errors.append(FieldError(name, f"must be {low} to {high} minutes", bound, code=code))
        else:
            values[name] = value
    if errors:
        raise InvalidInput(errors)
    return values
