"""Order access tokens and idempotency references: derived, never stored.

An order's token is ``HMAC-SHA256(secret key, "order-token" || order id)``, base64url: the database holds nothing
that opens an order (a copy of it, a backup or a log of its rows gives no access), the token in an emailed link can
be rebuilt by the worker at any time, and rotating ``BOXOFFICE_SECRET_KEY`` keeps old links working while the previous
key stays configured (every key given is tried). Orders created before tokens were derived keep a SHA-256 of their
old random token (``orders.token_hash``), checked in constant time too.

An ``Idempotency-Key`` is stored as a SHA-256 of the event it was used for and the key, and the request's body as a
SHA-256 fingerprint: a retry finds the order its key created by that hash, and gets the order's token only when it
sends the same key and the same body (buyer email included) as the first request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence

_TOKEN_CONTEXT = b"boxoffice-order-token\x00"
_ENTRY_CONTEXT = b"boxoffice-waiting-list-token\x00"


def order_token(order_id: str, key: bytes) -> str:
    """The access token of ``order_id`` under ``key`` (43 URL-safe characters, 256 bits)."""
    digest = hmac.new(key, _TOKEN_CONTEXT + order_id.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def entry_token(entry_id: str, key: bytes) -> str:
    """The token of a waiting-list entry's links (leaving the list): derived like an order's, never stored."""
    digest = hmac.new(key, _ENTRY_CONTEXT + entry_id.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def entry_token_opens(entry_id: str, token: str, keys: Sequence[bytes]) -> bool:
    given = token.encode()
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(entry_token(entry_id, key).encode(), given)
    return matched


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_opens(order_id: str, legacy_hash: str | None, token: str, keys: Sequence[bytes]) -> bool:
    """True when ``token`` is the order's token under any of ``keys`` (or its pre-derivation random token)."""
    given = token.encode()
    matched = False
    for key in keys:
        # every key is compared, whatever matched, so the time taken says nothing about which one
        matched |= hmac.compare_digest(order_token(order_id, key).encode(), given)
    if legacy_hash is not None:
        matched |= hmac.compare_digest(token_hash(token).encode(), legacy_hash.encode())
    return matched


def idempotency_ref(scope: str, key: str) -> str:
    """What is stored of an ``Idempotency-Key`` used in ``scope`` (an event, an order): a SHA-256."""
    return hashlib.sha256(f"{scope}\x00{key}".encode()).hexdigest()


def fingerprint(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()
