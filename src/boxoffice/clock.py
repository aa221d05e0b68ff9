"""Time: timezone-aware UTC everywhere."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def ensure_utc(value: datetime, field: str = "datetime") -> datetime:
    from boxoffice.errors import ErrorCode, InvalidInput

    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput.one(
            field, "must include a timezone offset (e.g. 2027-03-01T19:00:00Z)", code=ErrorCode.NO_TIMEZONE
        )
    return value.astimezone(UTC)
