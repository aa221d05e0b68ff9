"""Domain events recorded with each change reach subscribers after commit: in-process, and across two OS
processes through Redis pub/sub."""

from __future__ import annotations

import asyncio
import json
import secrets
import sys
from pathlib import Path

from boxoffice.db import Database
from boxoffice.outbox.dispatcher import OutboxDispatcher
from boxoffice.realtime import InMemoryBroker, RedisBroker
from boxoffice.ticketing.orders import confirm_order
from boxoffice.ticketing.reserve import reserve
from boxoffice.topics import event_topic, order_topic
from tests.helpers import REDIS_URL, make_event, make_ticket, order_request, require_redis

ROOT = Path(__file__).resolve().parents[2]


async def test_subscriber_receives_availability_and_order_events(db: Database) -> None:
    broker = InMemoryBroker()
    await broker.start()
    dispatcher = OutboxDispatcher(db, publish=broker.publish_many)
    event = await make_event(db)
    tt = await make_ticket(db, event.id, quantity=5)
    async with broker.subscribe(event_topic(event.id)) as subscription:
        order = await reserve(db, order_request(event.id, (tt.id, 2)))
        async with broker.subscribe(order_topic(order.id)) as order_sub:
            while await dispatcher.drain_once():
                pass
            await confirm_order(db, order.id)
            while await dispatcher.drain_once():
                pass
            seen = [await subscription.get(timeout=5)]
            while (message := subscription.get_nowait()) is not None:
                seen.append(message)
            # availability coalesces per ticket type while unread (realtime/broker.py): the subscriber may get one
            # frame or two, but it ends with the newest figures, those after the confirmation
            availability = [m for m in seen if m["type"] == "availability"]
            assert availability and seen[-1]["type"] == "availability"
            assert availability[-1]["ticket_types"] == [
                {"id": tt.id, "quantity": 5, "sold": 2, "held": 0, "reserved": 0, "available": 3}
            ]
            created, confirmed = await order_sub.get(timeout=5), await order_sub.get(timeout=5)
            assert created["type"] == "order.created"
            assert confirmed["type"] == "order.confirmed" and confirmed["status"] == "confirmed"
    await broker.stop()


async def test_across_two_processes_with_redis(pg_db: Database) -> None:
    await require_redis()
    prefix = f"boxoffice-test-{secrets.token_hex(4)}:"
    event = await make_event(pg_db)
    tt = await make_ticket(pg_db, event.id, quantity=10)
    broker = RedisBroker(REDIS_URL, channel_prefix=prefix)
    await broker.start()
    dispatcher = OutboxDispatcher(pg_db, publish=broker.publish_many)
    while await dispatcher.drain_once():  # the ticket's own creation events go out before the child listens
        pass
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.outbox.subscriber_worker",
        REDIS_URL,
        prefix,
        event_topic(event.id),
        "6",  # the figure it waits for: 10 tickets, 3 then 1 held
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert child.stdout is not None
    ready = await asyncio.wait_for(child.stdout.readline(), 30)
    assert ready.strip() == b"ready"
    await reserve(pg_db, order_request(event.id, (tt.id, 3)))
    await reserve(pg_db, order_request(event.id, (tt.id, 1)))
    while await dispatcher.drain_once():
        pass
    out, err = await asyncio.wait_for(child.communicate(), 30)
    await broker.stop()
    assert child.returncode == 0, err.decode()
    messages = [json.loads(line) for line in out.decode().splitlines() if line.strip()]
    # one frame per order, or one for both when they arrived together (coalesced): never an older figure after a newer
    assert {m["type"] for m in messages} == {"availability"}
    assert [m["ticket_types"][0]["available"] for m in messages] in ([7, 6], [6])
