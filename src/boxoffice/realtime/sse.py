"""Server-Sent Events: the current state first, then live messages; the state again after a broker reconnect."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from boxoffice.realtime.broker import Subscription


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
) -> AsyncIterator[str]:
    """Formatted SSE frames. The subscription must be open before the snapshot is read, so nothing falls between."""
    yield "retry: 3000\n\n"
    await subscription.wait_active()
    for message in await snapshot():
        yield frame(message)
    while True:
        if is_disconnected is not None and await is_disconnected():
            return
        try:
            message = await subscription.get(timeout=heartbeat)
        except TimeoutError:
            yield ": ping\n\n"
            continue
        if message.get("type") == "reconnected":
            for current in await snapshot():
                yield frame(current)
            continue
        yield frame(message)


__all__ = ["frame", "sse_events"]
