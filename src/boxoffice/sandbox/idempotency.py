"""Idempotent requests as Stripe keeps them (``shared/stripe/README.md`` section 3).

The first result of a POST (status and body, 5xx included once the endpoint has started) is stored per
(API key, Idempotency-Key) and replayed for 24 hours. The same key with other parameters or another endpoint is an
``idempotency_error``; the same key while the first request still runs is ``idempotency_key_in_use`` (409).
Validation failures are not stored, so the request can be corrected and retried with its key.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

from boxoffice.sandbox.errors import SandboxError, idempotency_key_in_use, idempotency_mismatch

KEY_TTL_SECONDS = 24 * 60 * 60
MAX_KEY_LENGTH = 255
Slot = tuple[str, str]  # (API key, Idempotency-Key)


@dataclass(frozen=True)
class StoredResult:
    fingerprint: str
    status: int
    body: dict[str, Any]
    stored_at: float


def fingerprint(method: str, path: str, params: dict[str, Any]) -> str:
    """The request's identity: endpoint and decoded parameters (so that parameter order does not matter)."""
    canonical = json.dumps([method, path, params], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


class IdempotencyStore:
    def __init__(self) -> None:
        self._results: dict[Slot, StoredResult] = {}
        self._running: set[Slot] = set()

    def begin(self, slot: Slot, request_fingerprint: str) -> StoredResult | None:
        """The stored result to replay, or None after reserving the slot for this request (then call ``finish``
        or ``release``). Raises the idempotency errors."""
        key = slot[1]
        if len(key) > MAX_KEY_LENGTH:
            raise SandboxError(
                400,
                f"Idempotency-Key must be at most {MAX_KEY_LENGTH} characters long.",
                param="Idempotency-Key",
            )
        stored = self._results.get(slot)
        if stored is not None and time.time() - stored.stored_at >= KEY_TTL_SECONDS:
            del self._results[slot]  # pruned: the key makes a new request
            stored = None
        if stored is not None:
            if stored.fingerprint != request_fingerprint:
                raise idempotency_mismatch(key)
            return stored
        if slot in self._running:
            raise idempotency_key_in_use()
        self._running.add(slot)
        return None

    def finish(self, slot: Slot, request_fingerprint: str, status: int, body: dict[str, Any]) -> None:
        self._running.discard(slot)
        self._results[slot] = StoredResult(request_fingerprint, status, body, time.time())

    def release(self, slot: Slot) -> None:
        """Forget a request that stored nothing (it failed validation)."""
        self._running.discard(slot)

    def __len__(self) -> int:
        return len(self._results)
