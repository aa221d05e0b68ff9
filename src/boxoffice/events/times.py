"""An event's times as its organizer enters them: an instant with a UTC offset, or a wall-clock time in the event's
own time zone. Pure (no I/O); the zone database is the server's (``zoneinfo``).

A wall-clock time is refused where it names no single instant: inside the hour the clocks skip when daylight
saving time starts (it does not exist), or inside the hour they repeat when it ends (it happens twice, so it needs
an offset to say which)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from boxoffice.errors import ErrorCode, FieldError, InvalidInput

ZONE_EXAMPLE = "Europe/Berlin"


def zone_named(name: str, field: str = "timezone") -> ZoneInfo:
    """The IANA time zone ``name``; a field error when the server's zone database has no such zone."""
    try:
        if not name or name != name.strip():
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput.one(
            field, f"must be an IANA time zone such as {ZONE_EXAMPLE}", code=ErrorCode.INVALID_FORMAT
        ) from None


def is_local(value: datetime) -> bool:
    """A wall-clock time without a UTC offset."""
    return value.tzinfo is None or value.utcoffset() is None


def to_utc(value: datetime, zone: ZoneInfo | None, field: str) -> datetime:
    """``value`` as a UTC instant: one with an offset as it is; a wall-clock time as that time in ``zone`` (a field
    error without a zone, or where the time does not exist or happens twice there)."""
    if not is_local(value):
        return value.astimezone(UTC)
    if zone is None:
        raise InvalidInput.one(
            field,
            "has no UTC offset: give one (such as 2027-03-01T19:00:00+01:00) or the event's timezone",
            code=ErrorCode.NO_TIMEZONE,
        )
    first, second = value.replace(tzinfo=zone, fold=0), value.replace(tzinfo=zone, fold=1)
    if first.utcoffset() == second.utcoffset():
        return first.astimezone(UTC)
    shown = f"{value:%Y-%m-%d %H:%M}"
    if first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != value:
        raise InvalidInput.one(
            field,
            f"{shown} does not exist in {zone.key}: the clocks skip that hour (daylight saving time starts)",
            code=ErrorCode.NONEXISTENT_TIME,
        )
    raise InvalidInput.one(
        field,
        f"{shown} happens twice in {zone.key} (the clocks go back): give its UTC offset, "
        f"{first.isoformat()} or {second.isoformat()}",
        code=ErrorCode.AMBIGUOUS_TIME,
    )


def resolve(values: dict[str, datetime | None], zone: ZoneInfo | None) -> tuple[dict[str, datetime], list[FieldError]]:
    """Each of ``values`` (by field name) as a UTC instant, and the field errors of those that are none."""
    out: dict[str, datetime] = {}
    errors: list[FieldError] = []
    for field, value in values.items():
        if value is None:
            continue
        try:
            out[field] = to_utc(value, zone, field)
        except InvalidInput as exc:
            errors.extend(exc.errors)
    return out, errors
