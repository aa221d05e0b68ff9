"""Server-Sent Events: the current state first, then live messages; the state again after a broker reconnect or
when the subscription had to give up pending messages (``resync``, see ``realtime.broker``)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from boxoffice.realtime.broker import STATE_AGAIN, Subscription, SubscriptionClosed


def frame(message: dict[str, Any]) -> str:
    lines = []
    if message.get("id") is not None:
        lines.append(f"id: {message['id']}")
    lines.append(f"event: {message.get('type', 'message')}")
    payload = json.dumps(message, default=str, separators=(",", ":"))
    lines.append(f"data: {payload}")
    return "\n".join(lines) + "\n\n"


async def sse_events(
    subscription: Subscription,
    snapshot: Callable[[], Awaitable[list[dict[str, Any]]]],
    *,
    heartbeat: float = 15.0,
    is_disconnected: Callable[[], Awaitable[bool]] | None = None,
    settle: float | None = None,
    is_valid: Callable[[], Awaitable[bool]] | None = None,
) -> AsyncIterator[str]:
    """Formatted SSE frames. The subscription must be open before the snapshot is read, so nothing falls between.

    ``settle``: after live messages, the state (the snapshot) again, at most once every ``settle`` seconds, for
    clients that show totals: a total rebuilt from the messages would count twice a message whose change the first
    snapshot already held.

    ``is_valid``: whether the credentials the stream was opened with still hold, asked before every frame after the
    first snapshot (each message, heartbeat and state sent again): once it answers False the stream ends, sending
    nothing more. It runs per message, so it must be cheap (a cached answer: see ``realtime.checks``).

    After a broker reconnect or a subscription's overflow (``STATE_AGAIN``) the state's frames carry ``"again":
    true``: messages may have been lost, so a client that keeps state from single messages (the door's offline copy
    of the tickets) loads it again.

    The frames keep the format the pages and the door's scanner read: ``id:`` (live messages only: the outbox id),
    ``event:`` (the message's type) and one ``data:`` line (the message as JSON). A coalesced availability frame is
    an ordinary ``availability`` message whose ``ticket_types`` hold each type's newest figures and whose ``id`` is
    the newest merged message's; after a resync the state comes as at the start (for an event, an ``availability``
    frame with no ``id``; for an order, ``order.snapshot``)."""
    yield "retry: 3000\n\n"
    await subscription.wait_active()
    for message in await snapshot():
        yield frame(message)
    loop = asyncio.get_running_loop()
    due: float | None = None  # when the state is sent again (settle), if messages came since it was last sent
    while True:
        # Asked only before waiting: the question costs a turn of the event loop (Starlette's answer), and a stream
        # must send what is pending in one go, or a burst piles up. A client that left while frames are pending
        # ends the response itself (its send fails, or Starlette's disconnect listener cancels it).
        if is_disconnected is not None and not len(subscription) and await is_disconnected():
            return
        if due is not None and loop.time() >= due:
            due = None
            if is_valid is not None and not await is_valid():
                return
            for current in await snapshot():
                yield frame(current)
            continue
        wait = heartbeat if due is None else max(due - loop.time(), 0.001)
        try:
            message = await subscription.get(timeout=wait)
        except SubscriptionClosed:
            return
        except TimeoutError:
            if due is None:
                if is_valid is not None and not await is_valid():
                    return
                yield ": ping\n\n"
            continue
        if is_valid is not None and not await is_valid():
            return
        if message.get("type") in STATE_AGAIN:  # messages may be lost: the whole state again, marked as such
            due = None
            for current in await snapshot():
                yield frame({**current, "again": True})
            continue
        yield frame(message)
        if settle is not None and due is None:
            due = loop.time() + settle


__all__ = ["frame", "sse_events"]
