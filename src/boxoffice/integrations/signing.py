"""Signing secrets and the ``Boxoffice-Signature`` header, as Stripe signs its webhooks. Pure: no I/O.

``v1`` is the hex HMAC-SHA256 of ``"<t>.<body>"`` keyed with the whole secret string (prefix included, UTF-8). While
a rolled secret's overlap lasts, the header carries one ``v1`` per valid secret. Integrators verify it with
``boxoffice.integrations.verify`` (the README shows it).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence

SIGNATURE_HEADER = "Boxoffice-Signature"
SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    """A fresh signing secret: the prefix and 32 random bytes, URL-safe base64."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(body: bytes, secret: str, timestamp: int) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(body: bytes, secrets_: Sequence[str], timestamp: int) -> str:
    """``t=<timestamp>,v1=<hex>[,v1=<hex>...]``: one ``v1`` per secret, in the order given."""
    return ",".join([f"t={timestamp}", *(f"v1={signature(body, s, timestamp)}" for s in secrets_)])
