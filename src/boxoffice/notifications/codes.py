"""Signed ticket codes: ``<ticket id>.<HMAC-SHA256 truncated to 20 bytes, unpadded base32>``.

The code is printable ASCII, short enough for a QR code and for reading out at the door. A forged code, a code
signed with another secret, or any alteration of a genuine one (of the id or of the signature) is rejected. New codes
are signed with the current key; codes signed with a previous key keep verifying while that key is configured.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Sequence

__all__ = ["InvalidTicketCode", "read_ticket_code", "sign_ticket_code", "ticket_code", "verify_ticket_code"]

_MAC_BYTES = 20  # 160 bits; base32 without padding is exactly 32 characters
_MAC_CHARS = 32
_DOMAIN = b"boxoffice:ticket:"  # keeps these MACs apart from anything else signed with the same secret
_TICKET_ID = re.compile(r"[!-~]{1,128}")  # printable ASCII, no spaces
_MAX_CODE = 128 + 1 + _MAC_CHARS


class InvalidTicketCode(Exception):
    """The code was not issued by this server (forged, altered, or signed with another secret)."""


def _mac(ticket_id: str, secret: bytes) -> bytes:
    digest = hmac.new(secret, _DOMAIN + ticket_id.encode("ascii"), hashlib.sha256).digest()[:_MAC_BYTES]
    return base64.b32encode(digest)


def _check_secret(secret: bytes) -> None:
    if not isinstance(secret, bytes | bytearray) or not secret:
        raise ValueError("the signing secret must be non-empty bytes")


def sign_ticket_code(ticket_id: str, secret: bytes) -> str:
    """The printable code for a ticket, e.g. ``tkt_0a1b2c.MZXW6YTBOI...``."""
    _check_secret(secret)
    if not _TICKET_ID.fullmatch(ticket_id) or "." in ticket_id:
        raise ValueError("a ticket id is 1 to 128 printable ASCII characters without spaces or dots")
    return f"{ticket_id}.{_mac(ticket_id, secret).decode('ascii')}"


def verify_ticket_code(code: str, secret: bytes, previous: Sequence[bytes] = ()) -> str:
    """The ticket id of a genuine code; ``InvalidTicketCode`` otherwise.

    ``secret`` is the current key; ``previous`` are keys rotated away (``BOXOFFICE_PREVIOUS_SECRET_KEYS``) whose codes
    still verify while they are configured. Strict: the code must be exactly as issued (callers strip what a scanner
    adds, such as a trailing newline). The signature is compared in constant time, against every key.
    """
    keys = (secret, *previous)
    for key in keys:
        _check_secret(key)
    if not isinstance(code, str) or len(code) > _MAX_CODE or not code.isascii():
        raise InvalidTicketCode("malformed ticket code")
    ticket_id, sep, mac = code.rpartition(".")
    if not sep or len(mac) != _MAC_CHARS or not _TICKET_ID.fullmatch(ticket_id) or "." in ticket_id:
        raise InvalidTicketCode("malformed ticket code")
    matched = False
    for key in keys:  # no early exit: the time taken does not tell which key matched
        matched |= hmac.compare_digest(_mac(ticket_id, key), mac.encode("ascii"))
    if not matched:
        raise InvalidTicketCode("ticket code signature does not match")
    return ticket_id


_VERSION_MARK = "~"


def ticket_code(ticket_id: str, version: int, secret: bytes) -> str:
    """The code of a ticket at its code version (``tickets.code_version``).

    Version 0 is the ticket's first code (exactly ``sign_ticket_code(ticket_id)``, so every code issued before
    versions existed stays valid); a ticket given a new code (handed to someone else) gets ``<id>~<version>`` signed,
    and only the code of its current version admits it at the door.
    """
    if version < 0:
        raise ValueError("a code version is 0 or more")
    return sign_ticket_code(ticket_id if version == 0 else f"{ticket_id}{_VERSION_MARK}{version}", secret)


def read_ticket_code(code: str, secret: bytes, previous: Sequence[bytes] = ()) -> tuple[str, int]:
    """``(ticket id, code version)`` of a genuine code; ``InvalidTicketCode`` otherwise. The caller compares the
    version with the ticket's current ``code_version``: an older one is a code that was replaced."""
    signed = verify_ticket_code(code, secret, previous)
    ticket_id, mark, version = signed.partition(_VERSION_MARK)
    if not mark:
        return ticket_id, 0
    if not ticket_id or not version.isdigit() or version.startswith("0") or len(version) > 9:
        raise InvalidTicketCode("malformed ticket code")
    return ticket_id, int(version)
