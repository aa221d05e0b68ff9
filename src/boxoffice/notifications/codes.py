"""Signed ticket codes: ``<ticket id>.<HMAC-SHA256, 20 bytes, base32>``. A forged or altered code is detected."""

from __future__ import annotations

import base64
import hashlib
import hmac


class InvalidTicketCode(Exception):
    """The code was not issued by this server (forged, altered, or signed with another secret)."""


def _mac(ticket_id: str, secret: bytes) -> str:
    digest = hmac.new(secret, f"ticket:{ticket_id}".encode(), hashlib.sha256).digest()[:20]
    return base64.b32encode(digest).decode().rstrip("=")


def sign_ticket_code(ticket_id: str, secret: bytes) -> str:
    if not ticket_id or "." in ticket_id:
        raise ValueError("a ticket id is non-empty and has no dot")
    return f"{ticket_id}.{_mac(ticket_id, secret)}"


def verify_ticket_code(code: str, secret: bytes) -> str:
    """The ticket id of a genuine code; ``InvalidTicketCode`` otherwise."""
    ticket_id, sep, mac = code.strip().rpartition(".")
    if not sep or not ticket_id or not mac:
        raise InvalidTicketCode("malformed ticket code")
    if not hmac.compare_digest(_mac(ticket_id, secret), mac):
        raise InvalidTicketCode("ticket code signature does not match")
    return ticket_id
