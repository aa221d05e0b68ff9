"""Pub/sub brokers: fan-out, isolation of topics, bounded queues, Redis across instances and reconnection."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as redis

from boxoffice.realtime import InMemoryBroker, RedisBroker, make_broker
from boxoffice.realtime.checks import LiveChecks
from boxoffice.realtime.sse import frame, sse_events
from tests.helpers import REDIS_URL, require_redis


async def test_in_memory_topics_and_fanout() -> None:
    broker = InMemoryBroker()
    async with broker.subscribe("event:a") as a1, broker.subscribe("event:a") as a2, broker.subscribe("event:b") as b:
        await broker.publish("event:a", {"type": "x", "n": 1})
        assert (await a1.get(1))["n"] == 1 and (await a2.get(1))["n"] == 1
        with pytest.raises(TimeoutError):
            await b.get(0.05)
    await broker.publish("event:a", {"type": "x"})  # nobody left: fine


async def test_slow_subscriber_never_blocks_the_publisher_and_is_told_to_resync() -> None:
    broker = InMemoryBroker(queue_size=3)
    async with broker.subscribe("t") as slow:
        for n in range(100):
            await asyncio.wait_for(broker.publish("t", {"type": "order.confirmed", "n": n}), 1)
        assert len(slow) <= 3
        taken = []
        while (message := slow.get_nowait()) is not None:
            taken.append(message.get("n", message["type"]))
        # the pending ones were replaced by the newest message and a resync (the state sent again holds the rest)
        assert taken == [99, "resync"]


async def test_make_broker_picks_by_url() -> None:
    assert isinstance(make_broker(None), InMemoryBroker)
    assert isinstance(make_broker(REDIS_URL), RedisBroker)


@contextlib.asynccontextmanager
async def redis_pair() -> AsyncIterator[tuple[RedisBroker, RedisBroker]]:
    """A listening and a publishing broker on one Redis, with a channel prefix of their own."""
    await require_redis()
    prefix = f"bo-test-{secrets.token_hex(4)}:"
    listener, publisher = RedisBroker(REDIS_URL, channel_prefix=prefix), RedisBroker(REDIS_URL, channel_prefix=prefix)
    await listener.start()
    await publisher.start()
    try:
        yield listener, publisher
    finally:
        await listener.stop()
        await publisher.stop()


@pytest.mark.integration  # Redis
async def test_redis_between_two_brokers_and_reconnect() -> None:
    async with redis_pair() as (listener, publisher), listener.subscribe("event:x") as sub:
        assert await sub.wait_active(10)
        await publisher.publish("event:x", {"type": "availability", "n": 1})
        assert (await sub.get(10))["n"] == 1
        assert listener.healthy
        admin = redis.from_url(REDIS_URL)
        await admin.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
        await admin.aclose()
        assert (await sub.get(15)) == {"type": "reconnected"}
        assert await sub.wait_active(10)
        await publisher.publish("event:x", {"type": "availability", "n": 2})
        assert (await sub.get(10))["n"] == 2


@pytest.mark.integration  # Redis
async def test_redis_publish_many_delivers_a_batch_in_order() -> None:
    async with (
        redis_pair() as (listener, publisher),
        listener.subscribe("event:x") as x,
        listener.subscribe("order:y") as y,
    ):
        assert await x.wait_active(10) and await y.wait_active(10)
        batch = [("event:x", {"n": 1}), ("order:y", {"n": 2}), ("event:x", {"n": 3}), ("event:x", {"n": 4})]
        await publisher.publish_many(batch)
        assert [(await x.get(10))["n"] for _ in range(3)] == [1, 3, 4]
        assert (await y.get(10))["n"] == 2
        assert publisher.healthy


@pytest.mark.integration  # Redis
async def test_redis_a_subscriber_arriving_while_its_channel_is_being_left_still_hears_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The last subscriber of a topic leaves (a buyer's page reconnects) and a new one arrives while the listener is
    still unsubscribing the channel in Redis: the new one must not count that channel as live. It waits for the next
    sync, which subscribes again, and then hears what is published."""
    from redis.asyncio.client import PubSub

    leaving, left = asyncio.Event(), asyncio.Event()
    unsubscribe = PubSub.unsubscribe

    async def slow_unsubscribe(self: PubSub, *args: object, **kwargs: object) -> object:
        leaving.set()
        await asyncio.sleep(0.3)  # a slow round trip to Redis
        try:
            return await unsubscribe(self, *args, **kwargs)  # type: ignore[arg-type]
        finally:
            left.set()

    monkeypatch.setattr(PubSub, "unsubscribe", slow_unsubscribe)
    async with redis_pair() as (listener, publisher):
        first = listener.subscribe("order:o1")
        assert await first.wait_active(10)
        first.close()
        await asyncio.wait_for(leaving.wait(), 10)
        async with listener.subscribe("order:o1") as second:
            await asyncio.wait_for(left.wait(), 10)  # the channel is gone from Redis now
            assert await second.wait_active(10)
            await publisher.publish("order:o1", {"type": "order.confirmed"})
            assert (await second.get(10)) == {"type": "order.confirmed"}


async def test_closing_a_subscription_ends_a_reader_waiting_on_it() -> None:
    broker = InMemoryBroker()
    subscription = broker.subscribe("t")

    async def read_all() -> list[object]:
        return [message async for message in subscription]

    reader = asyncio.create_task(read_all())
    await asyncio.sleep(0.05)
    subscription.close()
    assert await asyncio.wait_for(reader, 2) == []


async def test_in_memory_publish_many_keeps_the_order() -> None:
    broker = InMemoryBroker()
    async with broker.subscribe("t") as sub:
        await broker.publish_many([("t", {"n": n}) for n in range(5)] + [("other", {"n": 99})])
        assert [(await sub.get(1))["n"] for _ in range(5)] == [0, 1, 2, 3, 4]


async def test_unreachable_redis_publish_returns_and_reports_unhealthy() -> None:
    broker = RedisBroker("redis://127.0.0.1:1/0", socket_timeout=0.5)
    await broker.start()
    try:
        await asyncio.wait_for(broker.publish("event:x", {"type": "x"}), 5)
        assert not broker.healthy
        await asyncio.wait_for(broker.publish_many([("event:x", {"type": "x"})] * 3), 5)
        assert not broker.healthy
    finally:
        await broker.stop()


async def test_sse_snapshot_live_reconnect_and_heartbeat() -> None:
    broker = InMemoryBroker()
    state = {"available": 5}

    async def snapshot() -> list[dict[str, object]]:
        return [{"type": "availability", "available": state["available"]}]

    async with broker.subscribe("event:e") as sub:
        stream = sse_events(sub, snapshot, heartbeat=0.05)
        assert await anext(stream) == "retry: 3000\n\n"
        assert '"available":5' in await anext(stream)
        await broker.publish("event:e", {"type": "availability", "available": 4, "id": 7})
        live = await anext(stream)
        assert live.startswith("id: 7\nevent: availability\ndata: ") and live.endswith("\n\n")
        assert await anext(stream) == ": ping\n\n"
        state["available"] = 3
        await broker.publish("event:e", {"type": "reconnected"})
        again = await anext(stream)
        # after a reconnect (or an overflow) the state says so: messages may have been lost meanwhile
        assert '"available":3' in again and '"again":true' in again
        await broker.publish("event:e", {"type": "resync"})
        assert '"again":true' in await anext(stream)
        await stream.aclose()  # type: ignore[attr-defined]  # an async generator


async def test_sse_settle_sends_the_state_again_after_messages_once_per_interval() -> None:
    broker = InMemoryBroker()
    state = {"in": 0}

    async def snapshot() -> list[dict[str, object]]:
        return [{"type": "status", "in": state["in"]}]

    async with broker.subscribe("list:l") as sub:
        stream = sse_events(sub, snapshot, heartbeat=30, settle=0.05)
        assert await anext(stream) == "retry: 3000\n\n"
        assert '"in":0' in await anext(stream)
        # three check-ins arrive together; the state already holds them when the stream sends it again
        state["in"] = 3
        for n in range(3):
            await broker.publish("list:l", {"type": "checkin.created", "n": n})
        frames = [await anext(stream) for _ in range(4)]
        assert ['"n":0' in frames[0], '"n":1' in frames[1], '"n":2' in frames[2]] == [True, True, True]
        assert '"type":"status","in":3' in frames[3]  # once, after the burst
        await stream.aclose()  # type: ignore[attr-defined]  # an async generator


async def test_sse_ends_without_sending_once_its_credentials_no_longer_hold() -> None:
    broker = InMemoryBroker()
    valid = {"now": True}

    async def snapshot() -> list[dict[str, object]]:
        return [{"type": "status"}]

    async def is_valid() -> bool:
        return valid["now"]

    async with broker.subscribe("list:l") as sub:
        stream = sse_events(sub, snapshot, heartbeat=30, is_valid=is_valid)
        assert await anext(stream) == "retry: 3000\n\n"
        assert '"type":"status"' in await anext(stream)
        await broker.publish("list:l", {"type": "checkin.created", "n": 1})
        assert '"n":1' in await anext(stream)
        valid["now"] = False  # revoked
        await broker.publish("list:l", {"type": "checkin.created", "n": 2})
        assert [f async for f in stream] == []  # nothing more: the stream ended

    async with broker.subscribe("list:l") as sub:  # a quiet stream ends at its next heartbeat
        stream = sse_events(sub, snapshot, heartbeat=0.05, is_valid=is_valid)
        assert [f async for f in stream] == ["retry: 3000\n\n", 'event: status\ndata: {"type":"status"}\n\n']


async def test_live_checks_cache_each_answer_until_forgotten() -> None:
    checks = LiveChecks(seconds=60)
    probes: list[str] = []

    async def probe() -> bool:
        probes.append("asked")
        return len(probes) == 1  # valid the first time, not after

    assert await checks.check("session:a", probe) is True
    assert await checks.check("session:a", probe) is True  # cached: not asked again
    checks.forget()  # a sign-out in this process
    assert await checks.check("session:a", probe) is False
    assert len(probes) == 2


def test_frame_is_one_data_line() -> None:
    text = frame({"type": "order.confirmed", "note": "line1\nline2"})
    assert text.count("\ndata: ") == 1 and "line1\\nline2" in text
