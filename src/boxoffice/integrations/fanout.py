"""From domain events to deliveries: an outbox handler (``queue_deliveries``) that, in the transaction marking a
domain event handled, writes its webhook event (the body, made once) and one delivery per enabled endpoint of the
event's organizer subscribed to its type. Both are unique (per outbox message, per endpoint and event), so a
handler run twice writes them once; a delivery is queued for every committed change, at least once.
"""

from __future__ import annotations

import logging
import weakref
from collections import OrderedDict
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from boxoffice.clock import utcnow
from boxoffice.db import insert_for
from boxoffice.errors import NotFound
from boxoffice.events import service as events
from boxoffice.ids import new_id
from boxoffice.integrations import catalog
from boxoffice.integrations.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from boxoffice.outbox.dispatcher import Message
from boxoffice.ticketing.models import Order

log = logging.getLogger("boxoffice.integrations")

ORGANIZERS_KEPT = 4096  # an event's organizer never changes: kept per process, the least recently used dropped


class DeliveryQueue:
    """The outbox handler. ``retry_for``: how long each delivery is retried (``BOXOFFICE_WEBHOOK_RETRY_HOURS``)."""

    def __init__(self, *, retry_for: timedelta) -> None:
        self.retry_for = retry_for
        self._organizers: OrderedDict[str, str] = OrderedDict()
        self._batch: weakref.ReferenceType[AsyncSession] | None = None
        self._endpoints: dict[str, list[tuple[str, list[str]]]] = {}
        self.queued = False  # set when a delivery was queued; whoever wakes the sender reads and clears it

    def take_queued(self) -> bool:
        """Whether deliveries were queued since the last call (the sender need not look for work otherwise)."""
        queued, self.queued = self.queued, False
        return queued

    async def _organizer(self, session: AsyncSession, event_id: str) -> str | None:
        organizer = self._organizers.get(event_id)
        if organizer is None:
            try:
                organizer = (await events.load_event(session, event_id)).organizer_id
            except NotFound:
                return None
            self._organizers[event_id] = organizer
            if len(self._organizers) > ORGANIZERS_KEPT:
                self._organizers.popitem(last=False)
        else:
            self._organizers.move_to_end(event_id)
        return organizer

    async def _enabled_endpoints(self, session: AsyncSession, organizer: str) -> list[tuple[str, list[str]]]:
        """The organizer's enabled endpoints (id, event types), read once per dispatcher transaction: a batch of a
        busy sale's events costs one read per organizer, not one per event."""
        if self._batch is None or self._batch() is not session:
            self._batch = weakref.ref(session)
            self._endpoints = {}
        found = self._endpoints.get(organizer)
        if found is None:
            rows = await session.execute(
                select(WebhookEndpoint.id, WebhookEndpoint.event_types).where(
                    WebhookEndpoint.organizer_id == organizer, WebhookEndpoint.enabled.is_(True)
                )
            )
            found = self._endpoints[organizer] = [(row.id, list(row.event_types)) for row in rows]
        return found

    async def __call__(self, session: AsyncSession, message: Message) -> None:
        event_type = catalog.webhook_type(message.kind)
        event_id = message.payload.get("event_id")
        if event_type is None or not isinstance(event_id, str):
            return
        organizer = await self._organizer(session, event_id)
        if organizer is None:
            return
        endpoints = [
            endpoint_id
            for endpoint_id, types in await self._enabled_endpoints(session, organizer)
            if catalog.subscribed(types, event_type)
        ]
        if not endpoints:
            return
        webhook_event_id = await self._event(session, message, event_type, organizer)
        now = utcnow()
        key = catalog.order_key(message.payload, webhook_event_id)
        await session.execute(
            insert_for(session, WebhookDelivery)
            .values(
                [
                    {
                        "id": new_id("whd"),
                        "endpoint_id": endpoint_id,
                        "event_id": webhook_event_id,
                        "event_type": event_type,
                        "order_key": key,
                        "seq": message.id,
                        "status": "pending",
                        "attempts": 0,
                        "next_attempt_at": now,
                        "retry_until": now + self.retry_for,
                        "created_at": now,
                    }
                    for endpoint_id in endpoints
                ]
            )
            .on_conflict_do_nothing(index_elements=["endpoint_id", "event_id"])
        )
        self.queued = True

    async def _event(self, session: AsyncSession, message: Message, event_type: str, organizer: str) -> str:
        """The webhook event of this outbox message: written the first time, found every other time (a handler
        run again after its claim ran out)."""
        order = None
        order_id = message.payload.get("order_id")
        if message.kind.startswith("order.") and isinstance(order_id, str):
            order = (
                (await session.scalars(select(Order).where(Order.id == order_id).options(joinedload(Order.lines))))
                .unique()
                .one_or_none()
            )
        webhook_event_id = new_id("evt")
        body = catalog.event_body(
            webhook_event_id, event_type, message.created_at, catalog.event_data(message.kind, message.payload, order)
        )
        written = await session.scalar(
            insert_for(session, WebhookEvent)
            .values(
                id=webhook_event_id,
                outbox_id=message.id,
                type=event_type,
                organizer_id=organizer,
                body=body,
                created_at=utcnow(),
            )
            .on_conflict_do_nothing(index_elements=["outbox_id"])
            .returning(WebhookEvent.id)
        )
        if written is not None:
            return str(written)
        stored = await session.scalar(select(WebhookEvent.id).where(WebhookEvent.outbox_id == message.id))
        assert stored is not None
        return stored
