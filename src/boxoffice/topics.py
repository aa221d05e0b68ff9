"""The pub/sub topic names, in one place: the contexts record outbox messages to them (``ticketing``), the realtime
brokers carry them, and the web layer subscribes its SSE streams to them."""

from __future__ import annotations


def event_topic(event_id: str) -> str:
    """An event's availability and ticket type changes."""
    return f"event:{event_id}"


def order_topic(order_id: str) -> str:
    """An order's status changes."""
    return f"order:{order_id}"
