"""The webhook sender: a worker loop that claims due deliveries, POSTs each signed event to its endpoint and
records the attempt.

- **Claims** last ``claim_seconds`` (a lease, as the outbox's): a sender killed mid-request leaves its deliveries
  to the next claim after that, so none is lost (at least once; receivers dedupe on the event id).
- **Sequence**: a delivery is claimed only when no earlier delivery of the same order to the same endpoint is
  pending, so an order's events reach an endpoint in the order they happened, the next waiting while an earlier one
  is being retried. Nor while an earlier domain event of the same order is still unhandled in the outbox (its
  deliveries not written yet: another dispatcher's batch in flight, or a message whose handlers failed and wait for
  their retry): its delivery will come first. Deliveries of different orders go out side by side
  (``max_concurrency`` in flight).
- **Attempt** (``attempts.py``): one ``timeout`` for all of it (resolution, connection, answer), at most
  ``max_response_bytes`` of the answer read. A 2xx answer delivers; anything else (3xx included: redirects are not
  followed), a timeout, a refused address or a network error fails the attempt.
- **Retries**: exponential backoff with jitter from ``retry_base`` up to ``max_retry_delay``, until the delivery's
  ``retry_until`` (``BOXOFFICE_WEBHOOK_RETRY_HOURS`` after it was queued), then it is failed.
- **Disabling**: an endpoint whose attempts have all failed for ``disable_after`` (the first failure since its
  last success is ``failing_since``) is disabled, its pending deliveries end as failed, and its owners are emailed
  (``notices.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import ARRAY, ColumnElement, Integer, String, bindparam, exists, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, aliased

from boxoffice.clock import utcnow
from boxoffice.db import Database, in_index_order
from boxoffice.integrations.addresses import UrlPolicy
from boxoffice.integrations.attempts import Claimed, Outcome, post, retry_delay
from boxoffice.integrations.attempts import record as record_attempt
from boxoffice.integrations.catalog import FROM_DOMAIN
from boxoffice.integrations.endpoints import signing_secrets
from boxoffice.integrations.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from boxoffice.integrations.notices import send_notices
from boxoffice.notifications.transport import EmailTransport
from boxoffice.outbox.models import MESSAGE_KEY_SQL, OutboxMessage

if TYPE_CHECKING:
    import httpx

    from boxoffice.integrations.network import Resolver

log = logging.getLogger("boxoffice.integrations")

HOLD_BEHIND_ATTEMPTS = 3
"""A delivery waits behind an earlier unhandled outbox message of its order only while that message has been tried
fewer than this many times (with the outbox's growing retry delay, about 35 s): a message whose handlers keep failing
(an email template that chokes on the order, say) must not hold the order's later webhooks for good."""
NOTICE_INTERVAL = 30.0  # seconds between looks for disabled-endpoint emails still to send
# waits before recording an attempt again (the database out of connections a moment): an attempt that cannot be
# recorded at all is sent again once its claim runs out, so each retry here spares the receiver a duplicate
RECORD_RETRIES = (0.2, 1.0, 3.0)


@dataclass(frozen=True)
class SenderConfig:
    timeout: float = 10.0
    max_response_bytes: int = 16384
    retry_base: float = 60.0
    max_retry_delay: float = 6 * 3600.0
    disable_after: timedelta = timedelta(hours=24)
    claim_seconds: float = 60.0
    max_concurrency: int = 32
    policy: UrlPolicy = field(default_factory=UrlPolicy)


_WEBHOOK_KINDS = sorted(FROM_DOMAIN)  # the outbox kinds that become webhooks

CANDIDATES_PER_CLAIM = 4
"""A claim looks at up to this many due deliveries per free slot, so that those held back (``_held_keys``) do not
keep the others waiting."""


# The key written as the partial index of unpublished messages has it, so that a look-up of a few keys is a few
# index probes.
_HELD_PG = text(
    f"""
SELECT {MESSAGE_KEY_SQL} AS key, min(id) AS oldest FROM outbox_messages
WHERE published_at IS NULL AND {MESSAGE_KEY_SQL} = ANY(:keys) AND kind = ANY(:kinds) AND attempts < :attempts
GROUP BY 1
"""
).bindparams(bindparam("keys", type_=ARRAY(String)), bindparam("kinds", type_=ARRAY(String)))


async def _held_keys(session: AsyncSession, keys: Collection[str]) -> dict[str, int]:
    """Of ``keys`` (orders', else tickets'), those with a domain event that becomes a webhook and is not handled yet
    (tried fewer than HOLD_BEHIND_ATTEMPTS times), with the oldest such outbox id: a later delivery of that key
    waits, for its own delivery is still to be written (another dispatcher has it, or its handlers failed and wait
    for a retry). Only the candidates' keys are looked up: in a busy moment the dispatcher's backlog holds thousands
    of unpublished messages, which reading whole at every claim cost PostgreSQL and the worker more than everything
    else the sender does (``benchmarks/README.md``)."""
    if not keys:
        return {}
    if session.get_bind().dialect.name == "postgresql":
        rows = await session.execute(
            _HELD_PG, {"keys": list(keys), "kinds": _WEBHOOK_KINDS, "attempts": HOLD_BEHIND_ATTEMPTS}
        )
    else:
        key = func.coalesce(
            OutboxMessage.payload["order_id"].as_string(), OutboxMessage.payload["ticket_id"].as_string()
        )
        rows = await session.execute(
            select(key, func.min(OutboxMessage.id))
            .where(
                OutboxMessage.published_at.is_(None),
                key.in_(list(keys)),
                OutboxMessage.kind.in_(_WEBHOOK_KINDS),
                OutboxMessage.attempts < HOLD_BEHIND_ATTEMPTS,
            )
            .group_by(key)
        )
    return {held: oldest for held, oldest in rows if held is not None}


# The claim's statements, built once (an aliased entity and its columns cost more to build than the statement takes
# to run); ``now`` and the sizes are parameters.
_NOW = bindparam("now", type_=WebhookDelivery.__table__.c.locked_until.type)
_UNCLAIMED = or_(WebhookDelivery.locked_until.is_(None), WebhookDelivery.locked_until < _NOW)
_EARLIER = aliased(WebhookDelivery, name="earlier")


def _pending_unindexed(status: InstrumentedAttribute[str]) -> ColumnElement[bool]:
    """``status = 'pending'`` written so that the pending-only due index cannot serve it (through ``coalesce``: the
    column is never null): where PostgreSQL's statistics predate a burst of deliveries its planner takes that index
    for a handful of rows, and a look-up that has better ways in (by id, by endpoint and key) read every pending
    delivery instead (2,000 pending: 64,000 rows read for a claim of 32; 5,000 read to take 8 by id)."""
    return func.coalesce(status, "") == "pending"


# An earlier delivery of the same key to the same endpoint is pending: this one waits for it (looked up by
# ``ix_webhook_deliveries_sequence``: endpoint, key, seq).
_WAITING = exists().where(
    _EARLIER.endpoint_id == WebhookDelivery.endpoint_id,
    _EARLIER.order_key == WebhookDelivery.order_key,
    _pending_unindexed(_EARLIER.status),
    _EARLIER.seq < WebhookDelivery.seq,
)
DUE_CANDIDATES = (
    select(WebhookDelivery.id, WebhookDelivery.order_key, WebhookDelivery.seq)
    .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
    .where(
        WebhookDelivery.status == "pending",
        WebhookDelivery.next_attempt_at <= _NOW,
        _UNCLAIMED,
        WebhookEndpoint.enabled.is_(True),
        ~_WAITING,
    )
    .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.seq)
    .limit(bindparam("limit", type_=Integer))
)
"""The first ``limit`` due, unclaimed deliveries to enabled endpoints that wait for no earlier one, in the order they
are due at ``now`` (``ix_webhook_deliveries_due`` gives that order: the scan stops after ``limit`` of them)."""
TAKE = (
    update(WebhookDelivery)
    # ``~_WAITING`` again: an earlier delivery of the key written since the candidates were read (its message
    # handled between the two reads, so not among the held keys) keeps this one back
    .where(
        WebhookDelivery.id.in_(bindparam("due", expanding=True)),  # by the primary key
        _pending_unindexed(WebhookDelivery.status),
        _UNCLAIMED,
        ~_WAITING,
    )
    .values(locked_until=bindparam("until"), attempts=WebhookDelivery.attempts + 1)
    .returning(WebhookDelivery.id, WebhookDelivery.attempts)
)
_CLAIMED = (
    select(WebhookDelivery, WebhookEndpoint, WebhookEvent.body)
    .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
    .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
    .where(WebhookDelivery.id.in_(bindparam("claimed", expanding=True)))
)


class WebhookSender:
    def __init__(
        self,
        db: Database,
        config: SenderConfig,
        *,
        mail: EmailTransport | None = None,
        mail_from: str = "",
        public_url: str = "",
        resolve: Resolver | None = None,
        clock: Callable[[], datetime] = utcnow,
        idle_interval: float = 1.0,
    ) -> None:
        self.db = db
        self.config = config
        self.mail = mail
        self.mail_from = mail_from
        self.public_url = public_url
        self.clock = clock
        self.idle_interval = idle_interval
        self._resolve = resolve  # None: the system's resolver
        self._client: httpx.AsyncClient | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._notices_due = True
        self._last_notice_look = 0.0

    @property
    def client(self) -> httpx.AsyncClient:
        """The HTTP client of the deliveries, made on first use: a process that never sends a webhook (a web worker
        with the worker apart) never loads httpx and the network module."""
        if self._client is None:
            from boxoffice.integrations.network import make_client, system_resolver

            self._client = make_client(
                timeout=self.config.timeout,
                max_connections=self.config.max_concurrency,
                allow_loopback=self.config.policy.allow_loopback,
                resolve=self._resolve or system_resolver,
            )
        return self._client

    # -- the loop ------------------------------------------------------------------------------------------------

    def kick(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._run(), name="webhook-sender")

    async def stop(self) -> None:
        """Stop claiming; let the attempts in flight finish (each is bounded by the timeout)."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout=self.config.timeout + 5)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
            self._task = None
        if self._client is not None:
            await self._client.aclose()

    async def _run(self) -> None:
        inflight: set[asyncio.Task[None]] = set()
        try:
            while not self._stopping:
                self._wake.clear()
                free = self.config.max_concurrency - len(inflight)
                claimed: list[Claimed] = []
                if free > 0:
                    try:
                        claimed = await self.claim(limit=free)
                    except Exception:
                        log.exception("webhook claim failed; retrying shortly")
                for delivery in claimed:
                    inflight.add(asyncio.create_task(self._deliver_logged(delivery)))
                await self._maybe_send_notices()
                if claimed and len(inflight) < self.config.max_concurrency:
                    continue  # more may be due
                waker = asyncio.create_task(self._wake.wait())
                done, _ = await asyncio.wait(
                    {*inflight, waker}, timeout=self.idle_interval, return_when=asyncio.FIRST_COMPLETED
                )
                waker.cancel()
                inflight -= done
        finally:
            if inflight:
                await asyncio.gather(*inflight, return_exceptions=True)

    async def _maybe_send_notices(self) -> None:
        if self.mail is None:
            return
        if not self._notices_due and time.monotonic() - self._last_notice_look < NOTICE_INTERVAL:
            return
        self._notices_due = False
        self._last_notice_look = time.monotonic()
        try:
            await self.send_notices()
        except Exception:
            log.exception("disabled-endpoint emails failed; retrying later")

    async def send_notices(self) -> int:
        if self.mail is None:
            return 0
        return await send_notices(self.db, self.mail, sender=self.mail_from, public_url=self.public_url)

    async def deliver_due(self, *, limit: int | None = None) -> int:
        """One round: claim what is due (up to ``limit``), attempt it all, record it. Returns how many."""
        claimed = await self.claim(limit=limit or self.config.max_concurrency)
        await asyncio.gather(*(self._deliver_logged(d) for d in claimed))
        return len(claimed)

    # -- claim, attempt, record ----------------------------------------------------------------------------------

    async def claim(self, *, limit: int) -> list[Claimed]:
        now = self.clock()
        async with self.db.transaction() as session:
            await in_index_order(session)  # the due index, in the claim's order (db.in_index_order)
            candidates = (
                await session.execute(DUE_CANDIDATES, {"now": now, "limit": limit * CANDIDATES_PER_CLAIM})
            ).all()
            held = await _held_keys(session, {key for _, key, _ in candidates if key is not None})
            due = [
                delivery_id
                for delivery_id, key, seq in candidates
                if key is None or held.get(key, seq) >= seq  # no earlier domain event of its key still unhandled
            ][:limit]
            if not due:
                return []
            until = now + timedelta(seconds=self.config.claim_seconds)
            taken = await session.execute(TAKE, {"due": due, "now": now, "until": until})
            claimed = dict(taken.all())
            if not claimed:
                return []
            rows = (await session.execute(_CLAIMED, {"claimed": list(claimed)})).all()
        return [
            Claimed(
                id=delivery.id,
                attempt=claimed[delivery.id],
                endpoint_id=endpoint.id,
                url=endpoint.url,
                secrets=tuple(signing_secrets(endpoint, now)),
                event_id=delivery.event_id,
                body=body,
                retry_until=delivery.retry_until,
            )
            for delivery, endpoint, body in rows
        ]

    async def _deliver_logged(self, delivery: Claimed) -> None:
        outcome = await self.attempt(delivery)
        for wait in RECORD_RETRIES:
            try:
                await self.record(delivery, outcome)
                return
            except Exception:
                log.warning("webhook attempt not recorded yet; trying again", extra={"delivery_id": delivery.id})
                await asyncio.sleep(wait)
        try:
            await self.record(delivery, outcome)
        except Exception:
            # Its claim runs out and the delivery is attempted again (at least once): nothing is lost.
            log.exception("webhook attempt could not be recorded", extra={"delivery_id": delivery.id})

    async def attempt(self, delivery: Claimed) -> Outcome:
        return await post(
            self.client,
            delivery,
            policy=self.config.policy,
            timeout=self.config.timeout,
            max_response_bytes=self.config.max_response_bytes,
            clock=self.clock,
        )

    def backoff(self, attempt: int) -> timedelta:
        return retry_delay(attempt, self.config.retry_base, self.config.max_retry_delay)

    async def record(self, delivery: Claimed, outcome: Outcome) -> None:
        disabled = await record_attempt(
            self.db,
            delivery,
            outcome,
            now=self.clock(),
            retry_wait=self.backoff(delivery.attempt),
            disable_after=self.config.disable_after,
        )
        extra = {
            "delivery_id": delivery.id,
            "endpoint_id": delivery.endpoint_id,
            "event_id": delivery.event_id,
            "attempt": delivery.attempt,
            "status_code": outcome.status_code,
        }
        if outcome.delivered:
            log.info("webhook delivered", extra=extra)
        else:
            log.warning("webhook attempt failed", extra={**extra, "error": outcome.error})
        if disabled:
            log.error("webhook endpoint disabled after a day of failures", extra={"endpoint_id": delivery.endpoint_id})
            self._notices_due = True
            self._wake.set()
