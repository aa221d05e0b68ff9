"""One attempt of a delivery: the signed POST (``post``) and its outcome written down (``record``): the attempt in
the log, the delivery delivered or scheduled again (or failed past its retry window), and the endpoint's failing
streak, which disables it once it has lasted ``disable_after``."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Integer, Text, bindparam, select, text, update

from boxoffice.db import Database, UTCDateTime
from boxoffice.integrations.addresses import UrlPolicy, url_errors
from boxoffice.integrations.endpoints import DISABLED_FAILING, end_pending
from boxoffice.integrations.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from boxoffice.integrations.signing import SIGNATURE_HEADER, signature_header

if TYPE_CHECKING:
    import httpx

EXCERPT_CHARS = 500


@dataclass(frozen=True)
class Claimed:
    """A delivery a sender holds for one attempt (``attempt`` is its number)."""

    id: str
    attempt: int
    endpoint_id: str
    url: str
    secrets: tuple[str, ...]
    event_id: str
    body: str
    retry_until: datetime


@dataclass(frozen=True)
class Outcome:
    started_at: datetime
    duration_ms: int
    status_code: int | None = None
    error: str | None = None
    excerpt: str | None = None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300 and self.error is None


def retry_delay(attempt: int, base: float, cap: float) -> timedelta:
    """The wait after failed attempt number ``attempt``: doubling from ``base`` up to ``cap``, with jitter (between
    half and all of it), so the retries of a receiver that was down do not all come back at once."""
    delay = min(base * 2 ** min(max(attempt - 1, 0), 60), cap)
    return timedelta(seconds=delay / 2 + random.uniform(0, delay / 2))


async def post(
    client: httpx.AsyncClient,
    delivery: Claimed,
    *,
    policy: UrlPolicy,
    timeout: float,
    max_response_bytes: int,
    clock: Callable[[], datetime],
) -> Outcome:
    """POST the event, signed, within ``timeout`` for all of it; read at most ``max_response_bytes`` of the answer.
    Never raises: whatever goes wrong is the outcome's ``error``."""
    from boxoffice.integrations.network import AddressRefused  # with httpx, loaded by the sender's first client

    started_at = clock()
    started = time.monotonic()

    def outcome(status_code: int | None = None, error: str | None = None, excerpt: str | None = None) -> Outcome:
        return Outcome(started_at, int((time.monotonic() - started) * 1000), status_code, error, excerpt)

    problems = url_errors(delivery.url, policy)
    if problems:
        return outcome(error=f"refused: the URL {problems[0].message}")
    body = delivery.body.encode()
    headers = {
        "Content-Type": "application/json",
        # the wall clock, whatever clock schedules the retries: the receiver compares it with its own
        SIGNATURE_HEADER: signature_header(body, delivery.secrets, int(time.time())),
        "Boxoffice-Event-Id": delivery.event_id,
        "Boxoffice-Delivery-Attempt": str(delivery.attempt),
    }
    try:
        async with asyncio.timeout(timeout):
            async with client.stream("POST", delivery.url, content=body, headers=headers) as response:
                excerpt = await _read_capped(response, max_response_bytes)
                status = response.status_code
    except TimeoutError:
        return outcome(error=f"timeout: no complete answer within {timeout:g} s")
    except AddressRefused as exc:
        return outcome(error=f"refused: {exc}")
    except Exception as exc:  # network and protocol errors; a URL httpx cannot build; a name that cannot be encoded
        return outcome(error=f"{type(exc).__name__}: {exc}"[:500])
    return outcome(status_code=status, excerpt=excerpt)


async def _read_capped(response: httpx.Response, cap: int) -> str:
    """At most ``cap`` bytes of the answer; the rest is never read (the connection is then closed)."""
    chunks: list[bytes] = []
    size = 0
    if cap > 0:
        async for chunk in response.aiter_raw():
            chunks.append(chunk[: cap - size])
            size += len(chunks[-1])
            if size >= cap:
                break
    return b"".join(chunks)[: EXCERPT_CHARS * 4].decode("utf-8", "replace")[:EXCERPT_CHARS]


# PostgreSQL, an attempt that delivered (nearly every one): what the transaction below writes for it, in one
# statement in autocommit (one round trip and one commit instead of six round trips): the attempt in the log while
# the delivery exists, the delivery delivered if this is still its claim's attempt, the endpoint's failing streak
# ended.
_DELIVERED = text(
    """
WITH d AS (
    SELECT id FROM webhook_deliveries WHERE id = :delivery_id
), logged AS (
    INSERT INTO webhook_attempts (delivery_id, attempt, started_at, duration_ms, status_code, error, response_excerpt)
    SELECT d.id, :attempt, :started_at, :duration_ms, :status_code, NULL, :excerpt FROM d
), delivered AS (
    UPDATE webhook_deliveries SET status = 'delivered', delivered_at = :now, last_attempt_at = :started_at,
        last_status_code = :status_code, last_error = NULL, locked_until = NULL
    WHERE id = :delivery_id AND attempts = :attempt
)
UPDATE webhook_endpoints SET failing_since = NULL
WHERE id = :endpoint_id AND failing_since IS NOT NULL AND EXISTS (SELECT 1 FROM d)
"""
).bindparams(
    bindparam("started_at", type_=UTCDateTime()),
    bindparam("now", type_=UTCDateTime()),
    bindparam("excerpt", type_=Text()),
    bindparam("status_code", type_=Integer()),
)


async def record(
    db: Database,
    delivery: Claimed,
    outcome: Outcome,
    *,
    now: datetime,
    retry_wait: timedelta,
    disable_after: timedelta,
) -> bool:
    """Write the attempt down. Only the claim's own attempt (``attempts`` unchanged since the claim) moves the
    delivery; a failure moves only a pending one (not one ended meanwhile by its endpoint's disabling). Returns
    whether this failure disabled the endpoint. A delivery deleted meanwhile (its endpoint was) is left alone."""
    if outcome.delivered and db.dialect == "postgresql":
        await db.execute_one(
            _DELIVERED,
            {
                "delivery_id": delivery.id,
                "attempt": delivery.attempt,
                "endpoint_id": delivery.endpoint_id,
                "started_at": outcome.started_at,
                "duration_ms": outcome.duration_ms,
                "status_code": outcome.status_code,
                "excerpt": outcome.excerpt or None,
                "now": now,
            },
        )
        return False
    last = {
        "last_attempt_at": outcome.started_at,
        "last_status_code": outcome.status_code,
        "last_error": outcome.error,
        "locked_until": None,
    }
    mine = (WebhookDelivery.id == delivery.id, WebhookDelivery.attempts == delivery.attempt)
    endpoint = WebhookEndpoint.id == delivery.endpoint_id
    async with db.transaction() as session:
        if await session.scalar(select(WebhookDelivery.id).where(WebhookDelivery.id == delivery.id)) is None:
            return False
        session.add(
            WebhookAttempt(
                delivery_id=delivery.id,
                attempt=delivery.attempt,
                started_at=outcome.started_at,
                duration_ms=outcome.duration_ms,
                status_code=outcome.status_code,
                error=outcome.error,
                response_excerpt=outcome.excerpt or None,
            )
        )
        if outcome.delivered:
            await session.execute(
                update(WebhookDelivery).where(*mine).values(status="delivered", delivered_at=now, **last)
            )
            await session.execute(
                update(WebhookEndpoint)
                .where(endpoint, WebhookEndpoint.failing_since.is_not(None))
                .values(failing_since=None)
            )
            return False
        retry_at = now + retry_wait
        await session.execute(
            update(WebhookDelivery)
            .where(*mine, WebhookDelivery.status == "pending")
            .values(status="failed" if retry_at > delivery.retry_until else "pending", next_attempt_at=retry_at, **last)
        )
        await session.execute(
            update(WebhookEndpoint)
            .where(endpoint, WebhookEndpoint.failing_since.is_(None))
            .values(failing_since=outcome.started_at)
        )
        disabled = (
            await session.execute(
                update(WebhookEndpoint)
                .where(
                    endpoint, WebhookEndpoint.enabled.is_(True), WebhookEndpoint.failing_since <= now - disable_after
                )
                .values(
                    enabled=False,
                    disabled_reason=DISABLED_FAILING,
                    disabled_at=now,
                    notice_pending=True,
                    updated_at=now,
                )
                .returning(WebhookEndpoint.id)
            )
        ).first() is not None
        if disabled:
            await end_pending(session, delivery.endpoint_id, "the endpoint was disabled after a day of failures")
        return disabled
