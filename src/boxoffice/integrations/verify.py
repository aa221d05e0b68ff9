"""Verify a Boxoffice webhook (this module is the snippet the README shows: copy it into your receiver).

Only the standard library. Give it the raw request body (bytes, before any JSON parsing), the
``Boxoffice-Signature`` header and your endpoint's signing secret; it returns the event as a dict or raises
``WebhookSignatureError``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any


class WebhookSignatureError(Exception):
    """The header is missing, malformed, too old, or no signature in it matches the secret."""


def verify_webhook(payload: bytes, header: str | None, secret: str, tolerance: int = 300) -> dict[str, Any]:
    if not header:
        raise WebhookSignatureError("no Boxoffice-Signature header")
    timestamp = None
    signatures = []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t" and value.isascii() and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value.isascii():
            signatures.append(value)
    if timestamp is None or not signatures:
        raise WebhookSignatureError("no timestamp or no v1 signature in the header")
    if tolerance and abs(time.time() - timestamp) > tolerance:
        raise WebhookSignatureError("timestamp outside the tolerance (a replayed or delayed request?)")
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures):
        raise WebhookSignatureError("no v1 signature matches the secret")
    event: dict[str, Any] = json.loads(payload)
    return event
