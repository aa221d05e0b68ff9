"""In-process broker: the embedded default."""

from __future__ import annotations

from boxoffice.realtime.broker import Broker, LocalFanout, Message, Subscription


class InMemoryBroker(Broker):
    def __init__(self, queue_size: int = 256) -> None:
        self._fanout = LocalFanout()
        self._queue_size = queue_size

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def publish(self, topic: str, message: Message) -> None:
        self._fanout.deliver(topic, message)

    def subscribe(self, *topics: str) -> Subscription:
        subscription = Subscription(tuple(topics), self._fanout.remove, self._queue_size)
        self._fanout.add(subscription)
        subscription.active.set()
        return subscription

    @property
    def healthy(self) -> bool:
        return True
