"""A slow subscriber under a burst: it never ends with a stale state.

Availability coalesces per ticket type (fewer frames, always the newest figures, never older ones after newer);
order status messages are never lost silently (every one arrives in order, or the stream is told to resync and sends
the state again). Both brokers, and the SSE stream on top of them.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator
from typing import Any

import pytest

from boxoffice.realtime import InMemoryBroker
from boxoffice.realtime.broker import Broker, Message, Subscription
from boxoffice.realtime.sse import sse_events
from tests.realtime.test_brokers import redis_pair

BURST = 5_000
TYPES = ("tt_a", "tt_b", "tt_c")
QUANTITY = 10_000


def sale(burst: int = BURST, *, seed: int = 15) -> tuple[list[Message], dict[str, dict[str, int]]]:
    """A sale's availability messages as the outbox publishes them (ids increasing; each one names the ticket types
    it changed, one or two of three), and each type's figures after the last one."""
    rng = random.Random(seed)
    sold = dict.fromkeys(TYPES, 0)
    messages = []
    for outbox_id in range(1, burst + 1):
        changed = sorted(rng.sample(TYPES, rng.choice((1, 1, 2))))
        for tt in changed:
            sold[tt] += 1
        messages.append(
            {
                "type": "availability",
                "id": outbox_id,
                "event_id": "ev",
                "ticket_types": [
                    {"id": tt, "quantity": QUANTITY, "sold": sold[tt], "held": 0, "available": QUANTITY - sold[tt]}
                    for tt in changed
                ],
            }
        )
    final = {tt: {"sold": n, "available": QUANTITY - n} for tt, n in sold.items()}
    return messages, final


def status(outbox_id: int, state: str) -> Message:
    return {"type": f"order.{state}", "id": outbox_id, "order_id": "ord", "status": state}


class Figures:
    """What a client shows: each ticket type's last figures, checked never to go back to older ones."""

    def __init__(self) -> None:
        self.shown: dict[str, dict[str, int]] = {}
        self.frames = 0
        self.statuses: list[str] = []
        self.states = 0  # whole states (the snapshot), first or again after a resync

    def take(self, message: Message) -> None:
        if message["type"] == "availability":
            self.frames += 1
            for entry in message["ticket_types"]:
                before = self.shown.get(entry["id"])
                assert before is None or entry["sold"] >= before["sold"], "figures went back to older ones"
                self.shown[entry["id"]] = {"sold": entry["sold"], "available": entry["available"]}
        elif message["type"].startswith("order."):
            self.statuses.append(message["status"])


async def read_slowly(subscription: Subscription, figures: Figures, *, until: int, every: float = 0.001) -> None:
    """A reader that takes a message now and then, until the message ``until`` (an outbox id) was taken."""
    while True:
        message = await subscription.get(10)
        figures.take(message)
        if message.get("id", 0) >= until:
            return
        await asyncio.sleep(every)


async def test_a_subscriber_that_reads_nothing_during_the_burst_ends_with_every_latest_figure() -> None:
    broker = InMemoryBroker()
    messages, final = sale()
    async with broker.subscribe("event:ev") as slow:
        for message in messages:
            await broker.publish("event:ev", message)
        assert len(slow) == 1  # one frame pending, however many messages
        figures = Figures()
        while (pending := slow.get_nowait()) is not None:
            figures.take(pending)
    assert figures.shown == final
    assert figures.frames == 1 and slow.coalesced == BURST - 1


async def test_a_slow_reader_during_the_burst_gets_fewer_frames_and_the_latest_figures() -> None:
    broker = InMemoryBroker()
    messages, final = sale()
    figures = Figures()
    async with broker.subscribe("event:ev") as slow:
        reader = asyncio.create_task(read_slowly(slow, figures, until=BURST))
        for n, message in enumerate(messages):
            await broker.publish("event:ev", message)
            if n % 50 == 0:
                await asyncio.sleep(0)  # the publisher's batches; the reader gets a turn now and then
        await asyncio.wait_for(reader, 30)
    assert figures.shown == final
    assert 1 < figures.frames < BURST


async def test_order_statuses_in_the_burst_all_arrive_in_order() -> None:
    """A stream of both topics (the console's dashboard): the statuses between the availability messages."""
    broker = InMemoryBroker()
    messages, final = sale()
    states = ["pending", "confirmed", "partially_refunded", "refunded"]
    async with broker.subscribe("event:ev", "order:ord") as slow:
        for n, message in enumerate(messages, start=1):
            await broker.publish("event:ev", message)
            if n % (BURST // len(states)) == 0:
                await broker.publish("order:ord", status(message["id"], states[n // (BURST // len(states)) - 1]))
        figures = Figures()
        while (pending := slow.get_nowait()) is not None:
            figures.take(pending)
    assert figures.statuses == states and slow.resyncs == 0
    assert figures.shown == final


async def test_more_statuses_than_the_queue_holds_end_in_a_resync_and_the_stream_sends_the_state_again() -> None:
    broker = InMemoryBroker(queue_size=8)
    current = {"status": "pending"}

    async def snapshot() -> list[dict[str, Any]]:
        return [{"type": "order.snapshot", "order_id": "ord", "status": current["status"]}]

    async with broker.subscribe("order:ord") as sub:
        stream = sse_events(sub, snapshot, heartbeat=30)
        assert await anext(stream) == "retry: 3000\n\n"
        assert '"status":"pending"' in await anext(stream)
        for n in range(1, 21):  # the stream is not read meanwhile
            current["status"] = "confirmed" if n % 2 else "partially_refunded"
            await broker.publish("order:ord", status(n, current["status"]))
        current["status"] = "refunded"
        await broker.publish("order:ord", status(21, "refunded"))
        frames: list[str] = []
        while not frames or not frames[-1].startswith("id: 21\n"):
            frames.append(await asyncio.wait_for(anext(stream), 5))
        await stream.aclose()  # type: ignore[attr-defined]  # an async generator
    # 8 pending, then the 9th: replaced by the 9th and the resync; again at the 16th; 17 to 21 after it
    assert sub.resyncs == 2
    snapshot_at = [n for n, f in enumerate(frames) if f.startswith("event: order.snapshot\n")]
    assert len(snapshot_at) == 1  # the second resync replaced the first before the stream read it
    # the newest status first (for clients that act on messages), then the state, as the page reads it at the start
    assert frames[snapshot_at[0] - 1].startswith("id: 16\n")
    assert '"status":"refunded"' in frames[snapshot_at[0]]  # the state when it was read: every change in it
    assert [f.split("\n")[0] for f in frames[snapshot_at[0] + 1 :]] == [f"id: {n}" for n in range(17, 22)]


async def test_a_stream_sends_a_burst_of_statuses_in_one_go_and_loses_none() -> None:
    """The outbox publishes batches of 200, one turn of the event loop apart; the stream (which asks whether its
    client left, a question that costs a turn, as Starlette's does) sends what is pending in one go, so 1,000
    statuses through a 256-message queue arrive every one, in order, with no resync."""
    broker = InMemoryBroker()

    async def snapshot() -> list[dict[str, Any]]:
        return [{"type": "order.snapshot", "order_id": "ord", "status": "pending"}]

    async def is_disconnected() -> bool:
        await asyncio.sleep(0)
        return False

    async with broker.subscribe("event-sales:ev") as sub:
        stream = sse_events(sub, snapshot, heartbeat=30, is_disconnected=is_disconnected)
        received: list[int] = []

        async def read() -> None:
            async for text in stream:
                if text.startswith("id: "):
                    received.append(int(text.split("\n")[0][4:]))
                    if received[-1] == 1000:
                        return

        reader = asyncio.create_task(read())
        await asyncio.sleep(0.05)  # the stream sent its state and waits
        for start in range(1, 1001, 200):
            await broker.publish_many([("event-sales:ev", status(n, "confirmed")) for n in range(start, start + 200)])
            await asyncio.sleep(0)
        await asyncio.wait_for(reader, 10)
        await stream.aclose()  # type: ignore[attr-defined]  # an async generator
    assert received == list(range(1, 1001)) and sub.resyncs == 0


async def test_older_figures_published_late_never_replace_newer_ones() -> None:
    """Two dispatchers may publish out of order: a reader keeps the figures of the newest outbox id."""
    broker = InMemoryBroker()
    newer = {"type": "availability", "id": 9, "event_id": "ev", "ticket_types": [{"id": "tt_a", "sold": 9}]}
    older = {"type": "availability", "id": 7, "event_id": "ev", "ticket_types": [{"id": "tt_a", "sold": 7}]}
    async with broker.subscribe("event:ev") as sub:
        await broker.publish("event:ev", newer)
        assert (await sub.get(1))["ticket_types"] == [{"id": "tt_a", "sold": 9}]
        await broker.publish("event:ev", older)  # after the newer one was sent
        await broker.publish("event:ev", {**older, "id": 8})
        assert sub.get_nowait() is None and sub.stale == 2


async def test_newer_figures_move_after_the_messages_queued_in_between() -> None:
    """Coalescing keeps the order of what was published: a type's newest figures come after the status queued
    between its older and its newer figures, and nothing else moves."""
    broker = InMemoryBroker()
    async with broker.subscribe("event:ev", "order:ord") as sub:
        both = [{"id": "a", "n": 1}, {"id": "b", "n": 1}]
        await broker.publish("event:ev", {"type": "availability", "id": 1, "event_id": "ev", "ticket_types": both})
        await broker.publish("order:ord", status(2, "confirmed"))
        a_again = [{"id": "a", "n": 3}]
        await broker.publish("event:ev", {"type": "availability", "id": 3, "event_id": "ev", "ticket_types": a_again})
        taken = [sub.get_nowait() for _ in range(3)]
    assert taken[0] is not None and taken[0]["ticket_types"] == [{"id": "b", "n": 1}] and taken[0]["id"] == 1
    assert taken[1] is not None and taken[1]["status"] == "confirmed"
    assert taken[2] is not None and taken[2]["ticket_types"] == [{"id": "a", "n": 3}] and taken[2]["id"] == 3


async def read_stream(frames: AsyncIterator[str], figures: Figures, until: int) -> None:
    """Parse SSE frames as the buyer page does (one ``data:`` line per frame), until the outbox id ``until``."""
    async for text in frames:
        data = [line[6:] for line in text.split("\n") if line.startswith("data: ")]
        if not data:
            continue
        message = json.loads(data[0])
        if "id" not in message and message["type"] == "availability":
            figures.states += 1
        figures.take(message)
        if message.get("id", 0) >= until:
            return
        await asyncio.sleep(0.002)  # a slow client


async def burst_through_a_stream(broker: Broker, subscription: Subscription, publish_batch: int) -> Figures:
    messages, final = sale()
    states = ["confirmed", "partially_refunded", "refunded"]
    step = BURST // len(states)
    batch: list[tuple[str, Message]] = []

    async def snapshot() -> list[dict[str, Any]]:
        return [{"type": "availability", "event_id": "ev", "ticket_types": []}]

    figures = Figures()
    assert await subscription.wait_active(10)
    frames = sse_events(subscription, snapshot, heartbeat=30)
    reader = asyncio.create_task(read_stream(frames, figures, until=BURST))
    for n, message in enumerate(messages, start=1):
        batch.append(("event:ev", message))
        if n % step == 0:
            batch.append(("order:ord", status(n, states[n // step - 1])))
        if len(batch) >= publish_batch:
            await broker.publish_many(batch)  # as the outbox dispatcher does, a batch at a time
            batch = []
    await broker.publish_many(batch)
    await asyncio.wait_for(reader, 60)
    await frames.aclose()  # type: ignore[attr-defined]  # an async generator
    assert figures.shown == final
    return figures


async def test_the_sse_stream_of_a_slow_client_ends_on_the_latest_figures_in_memory() -> None:
    broker = InMemoryBroker()
    async with broker.subscribe("event:ev", "order:ord") as sub:
        figures = await burst_through_a_stream(broker, sub, publish_batch=200)
    assert figures.statuses == ["confirmed", "partially_refunded", "refunded"] and sub.resyncs == 0
    assert figures.frames < BURST


@pytest.mark.integration  # Redis
async def test_the_sse_stream_of_a_slow_client_ends_on_the_latest_figures_over_redis() -> None:
    """The burst of 5,000 through Redis, in the outbox's batches of 200: the listener hands whole socket reads to
    the subscription (hundreds of messages at once), the slow client still ends on every latest figure, and every
    status arrives (or, had the queue overflowed, the state was sent again)."""
    async with redis_pair() as (listener, publisher), listener.subscribe("event:ev", "order:ord") as sub:
        figures = await burst_through_a_stream(publisher, sub, publish_batch=200)
        assert publisher.healthy
    assert figures.statuses == ["confirmed", "partially_refunded", "refunded"] or sub.resyncs > 0
    assert figures.frames < BURST


@pytest.mark.integration  # Redis
async def test_a_subscriber_that_reads_nothing_gets_the_latest_figures_over_redis() -> None:
    messages, final = sale()
    async with redis_pair() as (listener, publisher), listener.subscribe("event:ev") as slow:
        assert await slow.wait_active(10)
        for start in range(0, BURST, 500):
            await publisher.publish_many([("event:ev", m) for m in messages[start : start + 500]])
        figures = Figures()
        while "tt_a" not in figures.shown or figures.shown != final:  # the listener may still be reading
            figures.take(await slow.get(10))
    assert figures.frames < BURST and slow.resyncs == 0
