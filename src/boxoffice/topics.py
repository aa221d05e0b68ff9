"""The pub/sub topic names, shared by the contexts that record messages and the realtime layer that serves them."""

from __future__ import annotations


def event_topic(event_id: str) -> str:
    return f"event:{event_id}"


def order_topic(order_id: str) -> str:
    return f"order:{order_id}"
