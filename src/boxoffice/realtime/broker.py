"""The broker interface: topics (named in ``boxoffice.topics``), messages (JSON-serialisable dicts), subscriptions.

A subscription never blocks a publisher and never leaves its reader with a stale state, whatever the reader's pace:

- ``availability`` messages (the counts of some of an event's ticket types) coalesce: a ticket type's newest figures
  replace its older unsent ones, so a slow reader gets fewer frames but always the latest figures, in order. A
  message older (by its outbox ``id``) than figures already taken for a ticket type is dropped: two dispatchers may
  publish out of order, and a reader must never step back to older counts.
- Every other message (an order's status, a check-in) is kept in order, up to ``maxsize`` pending. One more, and the
  pending ones are replaced by that newest message and a ``{"type": "resync"}``: the reader sends its client the
  current state (the SSE streams send their snapshot again, as after a broker reconnect), which holds every change
  the dropped messages announced, since a message is published only after its change is committed. Nothing is
  dropped silently; the newest message before the resync is for clients that act on messages rather than on the
  state (the console's dashboard fetches its figures again on any sales message).
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from types import TracebackType
from typing import Any

Message = dict[str, Any]
RECONNECTED: Message = {"type": "reconnected"}
RESYNC: Message = {"type": "resync"}
STATE_AGAIN = frozenset({"reconnected", "resync"})
"""The types of the markers after which a reader sends the whole state again (messages may have been lost)."""


class _Figures:
    """One unsent availability frame: the newest figures of some ticket types of one event."""

    __slots__ = ("entries", "event_id", "id", "latest")

    def __init__(self, event_id: Any) -> None:
        self.event_id = event_id
        self.entries: dict[str, Message] = {}  # ticket type id -> its newest figures
        self.latest: Message = {}  # the newest message merged in (its fields other than the figures)
        self.id: int | None = None

    def message(self) -> Message:
        message = {**self.latest, "ticket_types": [self.entries[key] for key in sorted(self.entries)]}
        if self.id is not None:
            message["id"] = self.id
        return message


def _figures_of(message: Message) -> list[tuple[str, Message]] | None:
    """The (ticket type id, figures) pairs of an availability message, or None if it is not one that coalesces."""
    entries = message.get("ticket_types")
    if message.get("type") != "availability" or not isinstance(entries, list):
        return None
    pairs = []
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("id") is None:
            return None
        pairs.append((str(entry["id"]), entry))
    return pairs


class SubscriptionClosed(Exception):
    """``Subscription.get`` on a closed subscription."""


class Subscription:
    """A subscriber's pending messages for its topics (see the module's docstring): availability coalesced per
    ticket type, other messages kept in order up to ``maxsize``, then a resync."""

    def __init__(self, topics: tuple[str, ...], on_close: Callable[[Subscription], object], maxsize: int = 256) -> None:
        self.topics = topics
        self.maxsize = maxsize
        self._items: deque[Message | _Figures] = deque()
        self._unsent: dict[tuple[Any, str], _Figures] = {}  # (event id, ticket type id) -> the frame holding it
        self._newest: dict[tuple[Any, str], int] = {}  # (event id, ticket type id) -> newest message id taken
        self._ready = asyncio.Event()
        self._on_close: Callable[[Subscription], object] = on_close
        self.closed = False
        self.active = asyncio.Event()
        self.coalesced = 0  # availability messages merged into a frame not yet sent
        self.stale = 0  # availability figures dropped as older than figures already taken
        self.resyncs = 0  # times the pending messages were replaced by a resync (overflow or reconnect)

    async def wait_active(self, timeout: float = 5.0) -> bool:
        """Wait until the broker really listens on every topic (Redis subscribes asynchronously)."""
        try:
            await asyncio.wait_for(self.active.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def __len__(self) -> int:
        """Items pending (an availability frame counts once, however many messages it merged)."""
        return len(self._items)

    def deliver(self, message: Message) -> None:
        if self.closed:
            return
        if message.get("type") in STATE_AGAIN:
            self._resync(message)
            return
        figures = _figures_of(message)
        if figures is not None:
            self._coalesce(message, figures)
            return
        if len(self._items) >= self.maxsize:
            self._resync(RESYNC, newest=message)
            return
        self._items.append(message)
        self._ready.set()

    def _resync(self, marker: Message, newest: Message | _Figures | None = None) -> None:
        """Replace what is pending with ``newest`` (if any), then the marker: the state again."""
        self.resyncs += 1
        self._items.clear()
        self._unsent.clear()
        if newest is not None:
            self._items.append(newest)
        self._items.append(dict(marker))
        self._ready.set()

    def _coalesce(self, message: Message, figures: list[tuple[str, Message]]) -> None:
        event_id = message.get("event_id")
        message_id = message.get("id") if isinstance(message.get("id"), int) else None
        fresh = []
        for ticket_type, entry in figures:
            key = (event_id, ticket_type)
            if message_id is not None:
                newest = self._newest.get(key)
                if newest is not None and newest > message_id:
                    self.stale += 1
                    continue
                self._newest[key] = message_id
            fresh.append((key, entry))
        if not fresh:
            return
        tail = self._items[-1] if self._items else None
        merged = isinstance(tail, _Figures) and tail.event_id == event_id
        if isinstance(tail, _Figures) and merged:
            target = tail
        else:
            target = _Figures(event_id)
            if len(self._items) >= self.maxsize:
                self._resync(RESYNC, newest=target)  # filled below
            else:
                self._items.append(target)
        for key, entry in fresh:
            older = self._unsent.get(key)
            if older is not None and older is not target:
                # newer figures move to the end, in order with the messages queued in between; the older frame
                # keeps its other ticket types (or is skipped if none is left)
                del older.entries[key[1]]
                merged = True
            target.entries[key[1]] = entry
            self._unsent[key] = target
        target.latest = message
        self.coalesced += merged
        if message_id is not None and (target.id is None or message_id > target.id):
            target.id = message_id
        self._ready.set()

    def get_nowait(self) -> Message | None:
        """The next pending message, or None."""
        while self._items:
            item = self._items.popleft()
            if not isinstance(item, _Figures):
                return item
            if not item.entries:
                continue  # every figure it held moved to a later frame
            for ticket_type in item.entries:
                key = (item.event_id, ticket_type)
                if self._unsent.get(key) is item:
                    del self._unsent[key]
            return item.message()
        self._ready.clear()
        return None

    async def get(self, timeout: float | None = None) -> Message:
        """The next message, waiting at most ``timeout`` seconds (TimeoutError). Returns at once, without giving
        the event loop a turn, while messages are pending: a reader keeps up with a burst. ``SubscriptionClosed``
        once the subscription is closed, also for a reader already waiting."""
        message = self.get_nowait()
        if message is not None:
            return message
        async with asyncio.timeout(timeout):
            while True:
                if self.closed:
                    raise SubscriptionClosed
                await self._ready.wait()
                message = self.get_nowait()
                if message is not None:
                    return message

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._items.clear()
            self._unsent.clear()
            self._ready.set()  # a reader waiting in get() wakes up and is told
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
            try:
                message = await self.get()
            except SubscriptionClosed:
                return
            yield message


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
