"""Helpers for the sender tests: domain events fanned out by the real outbox handler (no worker running), endpoints
made through the service, a sender with a fake clock and a resolver of the test's own."""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from boxoffice.clock import utcnow
from boxoffice.db import Database
from boxoffice.integrations import endpoints
from boxoffice.integrations.addresses import UrlPolicy
from boxoffice.integrations.fanout import DeliveryQueue
from boxoffice.integrations.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from boxoffice.integrations.sender import SenderConfig, WebhookSender
from boxoffice.outbox.dispatcher import Message

LOOPBACK_OK = UrlPolicy(https_only=False, allow_loopback=True)
# outbox ids of the messages made here: far above any a test database reaches, so never one of a real message
# ids of outbox messages that no outbox row has (the handler never reads the outbox)
MESSAGE_IDS = itertools.count(10**12 + secrets.randbelow(10**9) * 1000)


class FakeClock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


async def fan_out(
    db: Database, kind: str, payload: dict[str, Any], *, retry_for: timedelta = timedelta(hours=72)
) -> int:
    """The outbox handler's work for one domain event, as the dispatcher runs it. Returns the message's id."""
    message = Message(next(MESSAGE_IDS), kind, (), payload, utcnow())
    async with db.transaction() as session:
        await DeliveryQueue(retry_for=retry_for)(session, [message])
    return message.id


async def add_endpoint(
    db: Database, organizer_id: str, url: str, event_types: list[str] | None = None
) -> endpoints.CreatedSecret:
    return await endpoints.create_endpoint(
        db, organizer_id, url=url, event_types=event_types or ["*"], policy=LOOPBACK_OK
    )


def make_sender(
    db: Database,
    *,
    resolve: Callable[[str, int], Awaitable[list[str]]] | None = None,
    clock: Callable[[], datetime] = utcnow,
    **config: Any,
) -> WebhookSender:
    values: dict[str, Any] = {"retry_base": 0.01, "max_retry_delay": 0.05, "timeout": 5.0, "claim_seconds": 10.0}
    values.update(config)
    values.setdefault("policy", LOOPBACK_OK)
    kwargs: dict[str, Any] = {"clock": clock}
    if resolve is not None:
        kwargs["resolve"] = resolve
    return WebhookSender(db, SenderConfig(**values), **kwargs)


async def deliveries_of(db: Database, endpoint_id: str) -> list[WebhookDelivery]:
    async with db.read() as session:
        stmt = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id).order_by(WebhookDelivery.seq)
        return list((await session.scalars(stmt)).all())


async def attempts_of(db: Database, delivery_id: str) -> list[WebhookAttempt]:
    async with db.read() as session:
        stmt = select(WebhookAttempt).where(WebhookAttempt.delivery_id == delivery_id).order_by(WebhookAttempt.id)
        return list((await session.scalars(stmt)).all())


async def endpoint_row(db: Database, endpoint_id: str) -> WebhookEndpoint:
    async with db.read() as session:
        row = await session.get(WebhookEndpoint, endpoint_id)
    assert row is not None
    return row
