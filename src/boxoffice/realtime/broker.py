"""The broker interface: topics (named in ``boxoffice.topics``), messages (JSON-serialisable dicts), subscriptions."""

from __future__ import annotations

import asyncio
import contextlib
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Sequence
from types import TracebackType
from typing import Any

Message = dict[str, Any]
RECONNECTED: Message = {"type": "reconnected"}


class Subscription:
    """A subscriber's bounded queue of messages for its topics. On overflow the oldest message is dropped, so a
    slow subscriber never blocks a publisher."""

    def __init__(self, topics: tuple[str, ...], on_close: Callable[[Subscription], object], maxsize: int = 256) -> None:
        self.topics = topics
        self._queue: asyncio.Queue[Message] = asyncio.Queue(maxsize=maxsize)
        self._on_close: Callable[[Subscription], object] = on_close
        self.closed = False
        self.active = asyncio.Event()

    async def wait_active(self, timeout: float = 5.0) -> bool:
        """Wait until the broker really listens on every topic (Redis subscribes asynchronously)."""
        try:
            await asyncio.wait_for(self.active.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def deliver(self, message: Message) -> None:
        if self.closed:
            return
        while True:
            try:
                self._queue.put_nowait(message)
                return
            except asyncio.QueueFull:
                with contextlib.suppress(asyncio.QueueEmpty):
                    self._queue.get_nowait()

    async def get(self, timeout: float | None = None) -> Message:
        if timeout is None:
            return await self._queue.get()
        return await asyncio.wait_for(self._queue.get(), timeout)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._on_close(self)

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __aiter__(self) -> AsyncIterator[Message]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Message]:
        while not self.closed:
            yield await self._queue.get()


class Broker(ABC):
    """Publish/subscribe on topics. ``publish`` never raises because the transport is down: pub/sub degrades,
    it never blocks a sale."""

    @abstractmethod
    async def start(self) -> None: ...

    @abstractmethod
    async def stop(self) -> None: ...

    @abstractmethod
    async def publish(self, topic: str, message: Message) -> None: ...

    async def publish_many(self, messages: Sequence[tuple[str, Message]]) -> None:
        """Publish several (topic, message) pairs in order; a transport may send them in one round trip."""
        for topic, message in messages:
            await self.publish(topic, message)

    @abstractmethod
    def subscribe(self, *topics: str) -> Subscription: ...

    @property
    @abstractmethod
    def healthy(self) -> bool: ...


class LocalFanout:
    """Topic -> local subscriptions; shared by both brokers."""

    def __init__(self) -> None:
        self.by_topic: dict[str, set[Subscription]] = {}

    def add(self, subscription: Subscription) -> list[str]:
        """Register; returns the topics that had no local subscriber before."""
        new = []
        for topic in subscription.topics:
            subs = self.by_topic.setdefault(topic, set())
            if not subs:
                new.append(topic)
            subs.add(subscription)
        return new

    def remove(self, subscription: Subscription) -> list[str]:
        """Unregister; returns the topics left with no local subscriber."""
        empty = []
        for topic in subscription.topics:
            subs = self.by_topic.get(topic)
            if subs is None:
                continue
            subs.discard(subscription)
            if not subs:
                del self.by_topic[topic]
                empty.append(topic)
        return empty

    def deliver(self, topic: str, message: Message) -> None:
        for subscription in list(self.by_topic.get(topic, ())):
            subscription.deliver(message)

    def deliver_all(self, message: Message) -> None:
        seen: set[int] = set()
        for subs in list(self.by_topic.values()):
            for subscription in list(subs):
                if id(subscription) not in seen:
                    seen.add(id(subscription))
                    subscription.deliver(message)
