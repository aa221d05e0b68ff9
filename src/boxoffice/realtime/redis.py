"""Redis pub/sub broker: messages shared by every process that points at the same Redis.

One pub/sub connection per process listens on the channels that local subscribers need and fans messages out to
their queues, so a thousand SSE clients do not open a thousand Redis connections. When Redis goes away, publishing
logs and drops (it never hangs a request), the listener reconnects with backoff and re-subscribes, and every local
subscription gets ``{"type": "reconnected"}`` so it can re-send the current state.

The listener keeps up with a burst: a message costs a JSON decode and a hand-over to each local subscription (where
availability coalesces, see ``realtime.broker``); the channels are re-synced only after a subscription came or went
(not once per message), and the listener gives the event loop a turn every ``YIELD_EVERY`` messages, as a socket
read may hold hundreds of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from boxoffice.realtime.broker import RECONNECTED, Broker, LocalFanout, Message, Subscription

log = logging.getLogger("boxoffice.realtime")

YIELD_EVERY = 256


class RedisBroker(Broker):
    def __init__(
        self,
        url: str,
        *,
        channel_prefix: str = "boxoffice:",
        queue_size: int = 256,
        socket_timeout: float = 2.0,
        poll_interval: float = 0.05,
    ) -> None:
        self.url = url
        self.prefix = channel_prefix
        self._queue_size = queue_size
        self._socket_timeout = socket_timeout
        self._poll = poll_interval
        self._publisher: aioredis.Redis = aioredis.from_url(
            url, socket_timeout=socket_timeout, socket_connect_timeout=socket_timeout
        )
        self._fanout = LocalFanout()
        self._subscribed: set[str] = set()
        self._changed = True  # a subscription came or went since the channels were last synced
        self._inactive: set[Subscription] = set()  # subscriptions waiting for their channels
        self._listener: asyncio.Task[None] | None = None
        self._connected = False
        self._publish_ok = True
        self._last_warning = 0.0

    def __repr__(self) -> str:
        return f"RedisBroker(prefix={self.prefix!r})"

    @property
    def healthy(self) -> bool:
        return self._connected and self._publish_ok

    async def start(self) -> None:
        if self._listener is None:
            self._listener = asyncio.create_task(self._listen(), name="redis-pubsub-listener")

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        with contextlib.suppress(RedisError, OSError):
            await self._publisher.aclose()

    def _warn(self, text: str, exc: BaseException) -> None:
        now = time.monotonic()
        if now - self._last_warning > 10:
            self._last_warning = now
            log.warning("%s: %s (live updates degraded; sales unaffected)", text, type(exc).__name__)

    async def publish(self, topic: str, message: Message) -> None:
        await self._send(self._publisher.publish(self.prefix + topic, json.dumps(message, default=str)))

    async def publish_many(self, messages: Sequence[tuple[str, Message]]) -> None:
        """One pipelined round trip for a batch (the outbox dispatcher publishes a whole batch at once)."""
        if not messages:
            return
        pipe = self._publisher.pipeline(transaction=False)
        for topic, message in messages:
            pipe.publish(self.prefix + topic, json.dumps(message, default=str))
        await self._send(pipe.execute())

    async def _send(self, sending: Awaitable[Any]) -> None:
        """Best effort within the socket timeout: a failure marks the broker unhealthy, never reaches the caller."""
        try:
            await asyncio.wait_for(sending, self._socket_timeout)
            self._publish_ok = True
        except (RedisError, OSError, TimeoutError) as exc:
            self._publish_ok = False
            self._warn("Redis publish failed", exc)

    def subscribe(self, *topics: str) -> Subscription:
        subscription = Subscription(tuple(topics), self._unsubscribe, self._queue_size)
        self._fanout.add(subscription)
        if self._connected and all(t in self._subscribed for t in topics):
            subscription.active.set()
        else:
            self._inactive.add(subscription)
            self._changed = True
        return subscription

    def _unsubscribe(self, subscription: Subscription) -> None:
        self._inactive.discard(subscription)
        if self._fanout.remove(subscription):
            self._changed = True

    async def _sync_channels(self, pubsub: Any) -> None:
        self._changed = False  # a change while this awaits sets it again
        wanted = set(self._fanout.by_topic)
        new = wanted - self._subscribed
        gone = self._subscribed - wanted
        if new:
            await pubsub.subscribe(*(self.prefix + t for t in new))
            self._subscribed |= new
        if gone:
            # forgotten before the round trip: a subscriber arriving meanwhile must not count a channel that is being
            # left as live (it waits, inactive, for the next sync, which subscribes again)
            self._subscribed -= gone
            await pubsub.unsubscribe(*(self.prefix + t for t in gone))
        for subscription in list(self._inactive):
            if all(t in self._subscribed for t in subscription.topics):
                subscription.active.set()
                self._inactive.discard(subscription)

    async def _listen(self) -> None:
        backoff = 0.1
        first = True
        while True:
            client: aioredis.Redis = aioredis.from_url(
                self.url, socket_timeout=None, socket_connect_timeout=self._socket_timeout
            )
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await client.ping()
                self._subscribed = set()
                # A placeholder channel keeps the connection in pub/sub mode even with no local subscriber.
                await pubsub.subscribe(self.prefix + "_")
                await self._sync_channels(pubsub)
                self._connected = True
                backoff = 0.1
                if not first:
                    log.info("Redis pub/sub reconnected")
                    self._fanout.deliver_all(dict(RECONNECTED))
                first = False
                handled = 0
                while True:
                    if self._changed:
                        await self._sync_channels(pubsub)
                    message = await pubsub.get_message(timeout=self._poll)
                    if message is None:
                        continue
                    handled += 1
                    if handled % YIELD_EVERY == 0:
                        await asyncio.sleep(0)  # the streams and requests of this process get their turn
                    if message.get("type") != "message":
                        continue
                    channel = (
                        message["channel"].decode() if isinstance(message["channel"], bytes) else message["channel"]
                    )
                    try:
                        data = json.loads(message["data"])
                    except (ValueError, TypeError):
                        continue
                    self._fanout.deliver(channel[len(self.prefix) :], data)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError, TimeoutError) as exc:
                self._connected = False
                self._warn("Redis pub/sub connection lost", exc)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
                with contextlib.suppress(Exception):
                    await client.aclose()
            for subs in self._fanout.by_topic.values():
                for subscription in subs:
                    subscription.active.clear()
                    self._inactive.add(subscription)
            self._changed = True
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)
