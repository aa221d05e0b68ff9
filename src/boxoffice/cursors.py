"""Keyset page cursors: a row's position as (a time, a tie-breaking key), opaque to the client (URL-safe base64).

A cursor that cannot be read is the first page, not an error: a client that mangled one starts over."""

from __future__ import annotations

import base64
from datetime import datetime

MAX_LENGTH = 200


def encode(at: datetime, key: str) -> str:
    raw = f"{at.isoformat()}|{key}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(cursor: str | None) -> tuple[datetime, str] | None:
    """The cursor's position; None for no cursor or one that cannot be read (the first page)."""
    if not cursor or len(cursor) > MAX_LENGTH:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, _, key = raw.partition("|")
        parsed = datetime.fromisoformat(at)
    except ValueError:
        return None
    return (parsed, key) if key and parsed.tzinfo is not None else None
