"""Identifiers: short prefixed random ids, unguessable where a buyer can see them."""

from __future__ import annotations

import secrets


def new_id(prefix: str) -> str:
    """``prefix_`` followed by 20 random base32-ish characters (about 100 bits)."""
    return f"{prefix}_{secrets.token_hex(10)}"


def new_token() -> str:
    """A bearer secret for order access (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)
