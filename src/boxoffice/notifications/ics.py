"""iCalendar (RFC 5545) for an event: CRLF line endings, lines folded at 75 octets (never inside a UTF-8
character), TEXT values escaped, times in UTC (``...Z``)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

__all__ = ["build_ics", "escape_text", "fold_line"]

PRODID = "-//Boxoffice//Tickets//EN"
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # not allowed in TEXT (HTAB and newlines are handled)
_MAX_OCTETS = 75


def escape_text(text: str) -> str:
    """A TEXT value (RFC 5545 3.3.11): backslash, semicolon and comma escaped, newlines as ``\\n``."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _param(value: str) -> str:
    """A quoted parameter value (RFC 5545 3.2): no escaping exists there, so double quotes and controls go."""
    value = re.sub(r"[\r\n\t]+", " ", value)
    value = _CONTROL.sub("", value).replace('"', "'")
    return f'"{value}"'


def fold_line(line: str) -> list[str]:
    """Split a content line into physical lines of at most 75 octets; continuations start with a space."""
    data = line.encode("utf-8")
    parts: list[bytes] = []
    limit = _MAX_OCTETS
    while len(data) > limit:
        cut = limit
        while cut > 0 and (data[cut] & 0xC0) == 0x80:  # never split a UTF-8 character
            cut -= 1
        parts.append(data[:cut])
        data = data[cut:]
        limit = _MAX_OCTETS - 1  # room for the leading space
    parts.append(data)
    return [parts[0].decode("utf-8")] + [" " + part.decode("utf-8") for part in parts[1:]]


def _utc(value: datetime, name: str) -> str:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _uri(value: str) -> str:
    if re.search(r"[\x00-\x20\x7f]", value):
        raise ValueError("a URI in a calendar may not contain spaces or control characters")
    return value


def build_ics(
    uid: str,
    title: str,
    description: str,
    starts_at: datetime,
    ends_at: datetime,
    timezone: str,
    url: str,
    organizer_name: str,
    organizer_email: str,
    *,
    location: str = "",
    stamp: datetime | None = None,
) -> str:
    """A ``METHOD:PUBLISH`` calendar with one event. Times are written in UTC; ``timezone`` (IANA) is the
    event's own zone, given to clients as ``X-WR-TIMEZONE`` for display. ``location`` (where the event takes
    place, as one line of text) becomes ``LOCATION`` when given."""
    ZoneInfo(timezone)  # an unknown zone is a bug upstream: fail loudly rather than mislead clients
    start, end = _utc(starts_at, "starts_at"), _utc(ends_at, "ends_at")
    if ends_at < starts_at:
        raise ValueError("ends_at is before starts_at")
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "METHOD:PUBLISH",
        "CALSCALE:GREGORIAN",
        f"X-WR-TIMEZONE:{escape_text(timezone)}",
        "BEGIN:VEVENT",
        f"UID:{escape_text(uid)}",
        f"DTSTAMP:{_utc(stamp or datetime.now(UTC), 'stamp')}",
        f"DTSTART:{start}",
    ]
    if ends_at > starts_at:  # DTEND must be later than DTSTART; an instant event has none
        lines.append(f"DTEND:{end}")
    lines += [
        f"SUMMARY:{escape_text(title)}",
        f"DESCRIPTION:{escape_text(description)}",
        *([f"LOCATION:{escape_text(location)}"] if location.strip() else []),
        f"URL:{_uri(url)}",
        f"ORGANIZER;CN={_param(organizer_name)}:mailto:{_uri(organizer_email)}",
        "STATUS:CONFIRMED",
        "SEQUENCE:0",
        "TRANSP:OPAQUE",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "".join(part + "\r\n" for line in lines for part in fold_line(line))
