"""Webhook delivery: signed POSTs of events to the configured endpoint, retries with back-off, fault injection.

Signature as Stripe computes it (``shared/stripe/README.md`` section 8): ``Stripe-Signature: t=<unix>,v1=<hex>...``
with ``v1 = HMAC-SHA256(key=secret, msg=f"{t}.{body}")``, the whole ``whsec_`` string as the key, one ``v1`` per
active secret, a fresh ``t`` on every attempt, plus the fake ``v0`` that test-mode events carry. Any 2xx is a
delivery; anything else (3xx included, timeouts, connection errors) is retried after each entry of
``retry_schedule``, then given up.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import random
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from boxoffice.sandbox.config import SandboxConfig
from boxoffice.sandbox.faults import Faults
from boxoffice.sandbox.objects import new_id

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("boxoffice.sandbox.webhooks")
USER_AGENT = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"
MAX_CONCURRENT_ATTEMPTS = 16
POLL_SECONDS = 0.02


def sign(payload: bytes, webhook_secrets: Sequence[str], timestamp: int) -> str:
    """The ``Stripe-Signature`` header value for ``payload``."""
    signed = f"{timestamp}.".encode() + payload
    parts = [f"t={timestamp}"]
    parts += [f"v1={hmac.new(s.encode(), signed, hashlib.sha256).hexdigest()}" for s in webhook_secrets]
    parts.append(f"v0={secrets.token_hex(32)}")  # test mode's fake v0, ignored by verifiers
    return ",".join(parts)


@dataclass
class Delivery:
    """One delivery of one event (a duplicated event has two), with its attempts."""

    event_id: str
    event_type: str
    due: float
    id: str = field(default_factory=lambda: new_id("whdel", 16))
    attempts: int = 0
    statuses: list[int | str] = field(default_factory=list)
    """HTTP status of each attempt, or the exception's name when there was no response."""
    delivered: bool = False
    given_up: bool = False
    dropped: bool = False
    in_flight: bool = False

    @property
    def done(self) -> bool:
        return self.delivered or self.given_up or self.dropped

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "event_id": self.event_id,
            "event_type": self.event_type,
            "attempts": self.attempts,
            "statuses": list(self.statuses),
            "delivered": self.delivered,
            "given_up": self.given_up,
            "dropped": self.dropped,
        }


class WebhookDispatcher:
    def __init__(self, config: SandboxConfig, faults: Faults, events: Mapping[str, dict[str, Any]]) -> None:
        self.config = config
        self.faults = faults
        self._events = events
        self.deliveries: list[Delivery] = []
        """The delivery log: every delivery, in the order it was queued."""
        self._pending: list[Delivery] = []
        self._held: list[str] = []
        self._wake = asyncio.Event()
        self._attempts: set[asyncio.Task[None]] = set()
        self._worker: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None

    # -- queueing -------------------------------------------------------------------------------------------------

    def enqueue(self, event: dict[str, Any]) -> None:
        """Queue an event for the endpoint, as the faults say (drop, hold for reordering, duplicate, delay)."""
        if not self.config.webhook_url:
            return
        faults = self.faults
        if faults.webhook_drop or faults.webhook_drop_next > 0:
            faults.webhook_drop_next = max(0, faults.webhook_drop_next - 1)
            self.deliveries.append(Delivery(event["id"], event["type"], due=0.0, dropped=True))
            return
        if faults.webhook_reorder:
            self._held.append(event["id"])
            if 0 < faults.webhook_reorder_batch <= len(self._held):
                self.flush()
            return
        self._queue(event["id"])

    def _queue(self, event_id: str) -> None:
        event_type = self._events[event_id]["type"]
        due = time.monotonic() + self.faults.webhook_delay_ms / 1000
        for _ in range(2 if self.faults.webhook_duplicate else 1):
            delivery = Delivery(event_id, event_type, due=due)
            self.deliveries.append(delivery)
            self._pending.append(delivery)
        self._wake.set()

    @property
    def held(self) -> list[str]:
        """Ids of events held for reordering."""
        return list(self._held)

    def flush(self) -> int:
        """Release the events held for reordering, in ``webhook_reorder_mode`` order. Returns how many."""
        held, self._held = self._held, []
        if self.faults.webhook_reorder_mode == "shuffle":
            random.shuffle(held)
        else:
            held.reverse()
        for event_id in held:
            self._queue(event_id)
        return len(held)

    def retry_now(self) -> int:
        """Attempt every undelivered delivery now: waiting retries and given-up ones (a manual resend)."""
        count = 0
        for delivery in self.deliveries:
            if delivery.delivered or delivery.dropped or delivery.in_flight:
                continue
            if delivery.given_up:
                delivery.given_up = False
                delivery.attempts = 0
                self._pending.append(delivery)
            delivery.due = time.monotonic()
            count += 1
        self._wake.set()
        return count

    def pending(self) -> list[Delivery]:
        """Deliveries not yet delivered nor given up (held events are not deliveries yet)."""
        return list(self._pending)

    def idle(self) -> bool:
        in_flight = any(d.in_flight for d in self._pending)
        return not self._pending or (self.faults.webhook_paused and not in_flight)

    async def wait_idle(self, timeout: float) -> None:
        """Until every delivery is delivered or given up, or delivery is paused with no attempt under way."""
        deadline = time.monotonic() + timeout
        while not self.idle():
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{len(self._pending)} webhook deliveries still pending after {timeout} s")
            await asyncio.sleep(POLL_SECONDS)

    # -- the worker -----------------------------------------------------------------------------------------------

    async def start(self) -> None:
        if self._worker is not None:
            return
        import httpx  # here: importing the sandbox (as every web process does) does not load httpx

        self._client = httpx.AsyncClient(timeout=self.config.delivery_timeout, transport=self.config.webhook_transport)
        self._worker = asyncio.create_task(self._run(), name="sandbox-webhooks")

    async def stop(self) -> None:
        tasks = [t for t in (self._worker, *self._attempts) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for delivery in self._pending:
            delivery.in_flight = False
        self._worker = None
        self._attempts.clear()
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _run(self) -> None:
        limit = asyncio.Semaphore(MAX_CONCURRENT_ATTEMPTS)
        while True:
            self._wake.clear()
            if not self.faults.webhook_paused:
                moment = time.monotonic()
                for delivery in self._pending:
                    if not delivery.in_flight and delivery.due <= moment:
                        delivery.in_flight = True
                        task = asyncio.create_task(self._attempt(delivery, limit))
                        self._attempts.add(task)
                        task.add_done_callback(self._attempts.discard)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)

    async def _attempt(self, delivery: Delivery, limit: asyncio.Semaphore) -> None:
        async with limit:
            status = await self._post(delivery)
        delivery.in_flight = False
        delivery.attempts += 1
        delivery.statuses.append(status)
        if isinstance(status, int) and 200 <= status < 300:
            delivery.delivered = True
            self._events[delivery.event_id]["pending_webhooks"] = 0
            self._pending.remove(delivery)
            return
        schedule = self.config.retry_schedule
        if delivery.attempts > len(schedule):
            delivery.given_up = True
            self._pending.remove(delivery)
            log.warning("gave up delivering %s after %d attempts: %s", delivery.event_id, delivery.attempts, status)
            return
        delivery.due = time.monotonic() + schedule[delivery.attempts - 1]

    async def _post(self, delivery: Delivery) -> int | str:
        import httpx  # loaded by start() already

        url = self.config.webhook_url
        if not url or self._client is None:
            return "NoEndpoint"
        body = json.dumps(self._events[delivery.event_id], indent=2).encode()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": sign(body, self.config.webhook_secrets, int(time.time())),
            "User-Agent": USER_AGENT,
        }
        try:
            response = await self._client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return type(exc).__name__
        return response.status_code
