"""The pub/sub topic names, in one place: the contexts record outbox messages to them (``ticketing``), the realtime
brokers carry them, and the web layer subscribes its SSE streams to them."""

from __future__ import annotations


def event_topic(event_id: str) -> str:
    """An event's availability and ticket type changes."""
    return f"event:{event_id}"


def event_sales_topic(event_id: str) -> str:
    """An event's orders changing status (paid, refunded in part or in full, canceled, ...): the console's live
    dashboard. Never a public stream: the messages name the buyer."""
    return f"event-sales:{event_id}"


def order_topic(order_id: str) -> str:
    """An order's status changes."""
    return f"order:{order_id}"


def checkin_list_topic(list_id: str) -> str:
    """A check-in list's admissions, duplicates and undos (the scanners' and the console's live counts)."""
    return f"checkin-list:{list_id}"
