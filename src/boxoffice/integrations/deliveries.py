"""The delivery log of an endpoint (each delivery with its status, last answer and attempts), manual redelivery,
and the pruning of old history."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, exists, select, update

from boxoffice.clock import utcnow
from boxoffice.db import Database
from boxoffice.errors import Conflict, NotFound
from boxoffice.integrations.endpoints import get_endpoint
from boxoffice.integrations.models import WebhookAttempt, WebhookDelivery, WebhookEvent

DELIVERY_STATUSES = ("pending", "delivered", "failed")


@dataclass(frozen=True)
class DeliveryDetail:
    delivery: WebhookDelivery
    attempts: list[WebhookAttempt]
    event: dict[str, Any]


async def list_deliveries(
    db: Database,
    endpoint_id: str,
    organizer_id: str,
    *,
    status: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[WebhookDelivery]:
    """The endpoint's deliveries, newest first."""
    await get_endpoint(db, endpoint_id, organizer_id)
    async with db.read() as session:
        stmt = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
        if status is not None:
            stmt = stmt.where(WebhookDelivery.status == status)
        stmt = stmt.order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.seq.desc()).limit(limit).offset(offset)
        return list((await session.scalars(stmt)).all())


async def _delivery(db: Database, endpoint_id: str, delivery_id: str, organizer_id: str) -> WebhookDelivery:
    await get_endpoint(db, endpoint_id, organizer_id)
    async with db.read() as session:
        delivery = (
            await session.scalars(
                select(WebhookDelivery).where(
                    WebhookDelivery.id == delivery_id, WebhookDelivery.endpoint_id == endpoint_id
                )
            )
        ).one_or_none()
    if delivery is None:
        raise NotFound("delivery not found")
    return delivery


async def get_delivery(db: Database, endpoint_id: str, delivery_id: str, organizer_id: str) -> DeliveryDetail:
    """A delivery with every attempt (oldest first) and the event it sends."""
    delivery = await _delivery(db, endpoint_id, delivery_id, organizer_id)
    async with db.read() as session:
        attempts = list(
            (
                await session.scalars(
                    select(WebhookAttempt)
                    .where(WebhookAttempt.delivery_id == delivery_id)
                    .order_by(WebhookAttempt.attempt, WebhookAttempt.id)
                )
            ).all()
        )
        body = await session.scalar(select(WebhookEvent.body).where(WebhookEvent.id == delivery.event_id))
    return DeliveryDetail(delivery, attempts, json.loads(body or "{}"))


async def redeliver(
    db: Database,
    endpoint_id: str,
    delivery_id: str,
    organizer_id: str,
    *,
    retry_for: timedelta,
    now: datetime | None = None,
) -> WebhookDelivery:
    """Send a delivery again, now: a delivered or failed one goes back to pending (retried again for
    ``retry_for``, the same event id and body), a pending one is attempted at once. It keeps its place in its
    order's sequence. 409 when the endpoint is disabled (enable it first)."""
    now = now or utcnow()
    endpoint = await get_endpoint(db, endpoint_id, organizer_id)
    if not endpoint.enabled:
        raise Conflict("the endpoint is disabled: enable it first (PATCH with enabled true)")
    await _delivery(db, endpoint_id, delivery_id, organizer_id)
    async with db.transaction() as session:
        await session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id, WebhookDelivery.endpoint_id == endpoint_id)
            .values(status="pending", next_attempt_at=now, retry_until=now + retry_for)
        )
    return await _delivery(db, endpoint_id, delivery_id, organizer_id)


async def prune_deliveries(db: Database, *, older_than: timedelta, batch: int = 1000) -> int:
    """Delete the history: delivered and failed deliveries (with their attempts) queued more than ``older_than``
    ago, then events no delivery refers to any more. Pending deliveries are never deleted. Returns the deliveries
    deleted."""
    cutoff = utcnow() - older_than
    old = and_(WebhookDelivery.status.in_(("delivered", "failed")), WebhookDelivery.created_at < cutoff)
    deleted = 0
    while True:
        async with db.transaction() as session:
            ids = list((await session.scalars(select(WebhookDelivery.id).where(old).limit(batch))).all())
            if ids:
                await session.execute(delete(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(ids)))
                await session.execute(delete(WebhookDelivery).where(WebhookDelivery.id.in_(ids)))
        deleted += len(ids)
        if len(ids) < batch:
            break
    orphaned = and_(WebhookEvent.created_at < cutoff, ~exists().where(WebhookDelivery.event_id == WebhookEvent.id))
    await db.delete_in_batches(WebhookEvent, orphaned, batch=batch)
    return deleted
