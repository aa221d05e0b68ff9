"""Real-time updates: pub/sub brokers (in-process by default, Redis across processes) and SSE streams."""

from __future__ import annotations

from boxoffice.realtime.broker import RECONNECTED, RESYNC, Broker, Message, Subscription, SubscriptionClosed
from boxoffice.realtime.memory import InMemoryBroker
from boxoffice.realtime.redis import RedisBroker
from boxoffice.realtime.sse import sse_events
from boxoffice.topics import event_topic, order_topic


def make_broker(redis_url: str | None, *, prefix: str = "boxoffice:") -> Broker:
    """Redis when configured, else the in-process broker."""
    return RedisBroker(redis_url, channel_prefix=prefix) if redis_url else InMemoryBroker()


__all__ = [
    "RECONNECTED",
    "RESYNC",
    "Broker",
    "InMemoryBroker",
    "Message",
    "RedisBroker",
    "Subscription",
    "SubscriptionClosed",
    "event_topic",
    "make_broker",
    "order_topic",
    "sse_events",
]
