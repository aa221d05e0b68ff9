"""The REST API's live streams (Server-Sent Events): an event's availability and an order's status."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from boxoffice.events import service as events
from boxoffice.events.models import Event
from boxoffice.realtime import sse_events
from boxoffice.realtime.shared_reads import SharedReads
from boxoffice.realtime.slots import StreamSlots
from boxoffice.ticketing.orders import get_order
from boxoffice.ticketing.ticket_types import availability
from boxoffice.topics import event_topic, order_topic
from boxoffice.web.api.deps import Box, Credentials, order_for_token, order_token_of
from boxoffice.web.api.routes import PROBLEMS
from boxoffice.web.clients import client_address
from boxoffice.web.problems import problem

router = APIRouter(prefix="/api/v1", responses=PROBLEMS)


async def availability_message(box: Box, event_id: str) -> dict[str, Any]:
    return {
        "type": "availability",
        "event_id": event_id,
        "ticket_types": [
            {
                "id": a.ticket_type_id,
                "quantity": a.quantity,
                "sold": a.sold,
                "held": a.held,
                "available": a.available,
                "price_cents": a.price_cents,
            }
            for a in await availability(box.db, event_id)
        ],
    }


class _Stream(StreamingResponse):
    """An SSE response that gives back its slot and closes its subscription however it ends (finished, client
    gone, or never started because the client left before the first byte)."""

    def __init__(self, frames: AsyncIterator[str], cleanup: Callable[[], None]) -> None:
        super().__init__(
            frames, media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        )
        self.cleanup = cleanup

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.cleanup()


def _too_many_streams() -> Response:
    return problem(
        429,
        "too-many-streams",
        "Too many streams",
        "too many live streams are open; close one or try again shortly",
        headers={"Retry-After": "10"},
    )


def _stream(
    request: Request,
    box: Box,
    topic: str | tuple[str, ...],
    snapshot: Callable[[], Awaitable[list[dict[str, Any]]]],
    *,
    settle: float | None = None,
    is_valid: Callable[[], Awaitable[bool]] | None = None,
) -> Response:
    """The SSE answer for ``topic`` (or several topics), within the caps on open streams (429 past them);
    ``settle`` and ``is_valid`` (the stream ends once its credentials no longer hold) as in
    ``realtime.sse_events``."""
    slots: StreamSlots = request.app.state.sse_slots
    slot = slots.take(client_address(request))
    if slot is None:
        return _too_many_streams()
    subscription = box.broker.subscribe(*((topic,) if isinstance(topic, str) else topic))

    def cleanup() -> None:
        subscription.close()
        slot.release()

    async def frames() -> AsyncIterator[str]:
        try:
            async with subscription:
                async for frame in sse_events(
                    subscription, snapshot, is_disconnected=request.is_disconnected, settle=settle, is_valid=is_valid
                ):
                    yield frame
        finally:
            cleanup()

    return _Stream(frames(), cleanup)


SSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events"},
    429: PROBLEMS[413] | {"description": "Too many live streams open (per address or in all); see Retry-After"},
}


@router.get(
    "/events/{event_id}/stream",
    tags=["buyers"],
    summary="Live availability (SSE)",
    response_class=StreamingResponse,
    responses=SSE,
)
async def event_stream(event_id: str, request: Request, box: Box) -> Response:
    # whether the event is public: one read for the streams asking together too (404 for an unknown id or a draft)
    checks: SharedReads[Event] = request.app.state.public_event_reads
    await checks.read(event_id, lambda: events.get_public_event(box.db, event_id))
    shared: SharedReads[dict[str, Any]] = request.app.state.availability_reads

    async def snapshot() -> list[dict[str, Any]]:
        # one read for the streams of this event that ask together (after their subscriptions: see shared_reads)
        return [await shared.read(event_id, lambda: availability_message(box, event_id))]

    return _stream(request, box, event_topic(event_id), snapshot)


@router.get(
    "/orders/{order_id}/stream",
    tags=["buyers"],
    summary="Live order status (SSE)",
    response_class=StreamingResponse,
    responses=SSE,
)
async def order_stream(
    order_id: str,
    request: Request,
    box: Box,
    credentials: Credentials,
    token: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    # the Bearer header, the cookie the order page set, or ?token= (EventSource cannot send headers)
    order = await order_for_token(box, order_id, order_token_of(request, order_id, credentials) or token)

    async def snapshot() -> list[dict[str, Any]]:
        current = await get_order(box.db, order.id)
        return [{"type": "order.snapshot", "order_id": current.id, "status": current.status}]

    return _stream(request, box, order_topic(order.id), snapshot)
