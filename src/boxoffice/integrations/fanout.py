"""From domain events to deliveries: an outbox handler (``DeliveryQueue``) that, in the transaction marking a batch
of domain events handled, writes each one's webhook event (the body, made once) and one delivery per enabled
endpoint of the event's organizer subscribed to its type, one INSERT per batch for each. Both are unique (per outbox
message, per endpoint and event), so a handler run twice writes them once; a delivery is queued for every committed
change, at least once.
"""

from __future__ import annotations

import logging
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from boxoffice.clock import utcnow
from boxoffice.db import insert_new
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

    async def __call__(self, session: AsyncSession, messages: Sequence[Message]) -> None:
        wanted: list[_Wanted] = []
        for message in messages:
            event_type = catalog.webhook_type(message.kind)
            event_id = message.payload.get("event_id")
            if event_type is None or not isinstance(event_id, str):
                continue
            organizer = await self._organizer(session, event_id)
            if organizer is None:
                continue
            endpoints = [
                endpoint_id
                for endpoint_id, types in await self._enabled_endpoints(session, organizer)
                if catalog.subscribed(types, event_type)
            ]
            if endpoints:
                wanted.append(_Wanted(message, event_type, organizer, endpoints))
        if not wanted:
            return
        webhook_events = await self._events(session, wanted)
        now = utcnow()
        rows = [
            {
                "id": new_id("whd"),
                "endpoint_id": endpoint_id,
                "event_id": webhook_events[one.message.id],
                "event_type": one.event_type,
                "order_key": catalog.order_key(one.message.payload, webhook_events[one.message.id]),
                "seq": one.message.id,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "retry_until": now + self.retry_for,
                "created_at": now,
            }
            for one in wanted
            for endpoint_id in one.endpoints
        ]
        await insert_new(session, WebhookDelivery, rows, unique=["endpoint_id", "event_id"])
        self.queued = True

    async def _events(self, session: AsyncSession, wanted: Sequence[_Wanted]) -> dict[int, str]:
        """The webhook event of each outbox message (by its id): written the first time, found every other time (a
        handler run again after its claim ran out). The orders the events are about are read in one query."""
        order_ids = {order_id for one in wanted if (order_id := _order_of(one.message)) is not None}
        orders: dict[str, Order] = {}
        if order_ids:
            found = await session.scalars(
                select(Order).where(Order.id.in_(order_ids)).options(selectinload(Order.lines))
            )
            orders = {order.id: order for order in found}
        now = utcnow()
        rows = []
        for one in wanted:
            message = one.message
            order_id = _order_of(message)
            order = orders.get(order_id) if order_id is not None else None
            webhook_event_id = new_id("evt")
            data = catalog.event_data(message.kind, message.payload, order)
            rows.append(
                {
                    "id": webhook_event_id,
                    "outbox_id": message.id,
                    "type": one.event_type,
                    "organizer_id": one.organizer,
                    "body": catalog.event_body(webhook_event_id, one.event_type, message.created_at, data),
                    "created_at": now,
                }
            )
        await insert_new(session, WebhookEvent, rows, unique=["outbox_id"])
        stored = await (await session.connection()).execute(
            select(WebhookEvent.outbox_id, WebhookEvent.id).where(
                WebhookEvent.outbox_id.in_([one.message.id for one in wanted])
            )
        )
        return {outbox_id: webhook_event_id for outbox_id, webhook_event_id in stored.all()}


def _order_of(message: Message) -> str | None:
    """The order an ``order.*`` message is about (its webhook event describes it as stored), else None."""
    order_id = message.payload.get("order_id")
    return order_id if message.kind.startswith("order.") and isinstance(order_id, str) else None


@dataclass(frozen=True)
class _Wanted:
    """A message of the batch that goes out as ``event_type`` to ``endpoints`` of ``organizer``."""

    message: Message
    event_type: str
    organizer: str
    endpoints: list[str]
