"""Drill: a ``boxoffice worker`` process is SIGKILLed while its webhook requests are in flight (the receiver holds
them unanswered, so the kill lands inside the delivery), and another worker is started. Every delivery is delivered
(the ones in flight again, once their claim has run out, with the same event), each order's events still in
sequence, and the log shows the attempts that finished."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from boxoffice.clock import utcnow
from boxoffice.db import Database
from boxoffice.integrations import endpoints
from boxoffice.integrations.addresses import UrlPolicy
from boxoffice.ticketing.reserve import reserve
from tests.helpers import eventually, make_event, make_ticket, order_request
from tests.integrations.receiver import Receiver
from tests.integrations.support import attempts_of, deliveries_of
from tests.processes import Proc, free_port, server_env

ORDERS = 3


def worker(database_url: str, tmp: Path, name: str) -> Proc:
    env = server_env(
        database_url,
        free_port(),
        tmp,
        BOXOFFICE_WEBHOOK_ALLOW_LOOPBACK="true",
        BOXOFFICE_WEBHOOK_TIMEOUT_SECONDS="10",
        BOXOFFICE_WEBHOOK_CLAIM_SECONDS="12",
        BOXOFFICE_WEBHOOK_RETRY_SECONDS="0.2",
    )
    return Proc(["-m", "boxoffice.cli", "worker"], env, tmp / f"{name}.log")


async def test_a_worker_killed_mid_delivery_loses_no_delivery(fresh_pg: tuple[str, Database], tmp_path: Path) -> None:
    pg_url, db = fresh_pg
    receiver = await Receiver(hold=True).start()
    first = worker(pg_url, tmp_path, "worker-1")
    second = worker(pg_url, tmp_path, "worker-2")
    try:
        event = await make_event(db)
        created = await endpoints.create_endpoint(
            db,
            event.organizer_id,
            url=receiver.url,
            event_types=["order.created", "order.confirmed"],
            policy=UrlPolicy(https_only=False, allow_loopback=True),
        )
        free = await make_ticket(db, event.id, base_price_cents=0)
        orders = [await reserve(db, order_request(event.id, (free.id, 1))) for _ in range(ORDERS)]
        first.start()

        async def all_heads_in_flight() -> bool:
            return len(receiver.hits) >= ORDERS

        await eventually(all_heads_in_flight, timeout=60)
        in_flight = await deliveries_of(db, created.endpoint.id)
        heads = [d for d in in_flight if d.event_type == "order.created"]
        assert len(in_flight) == 2 * ORDERS and len(heads) == ORDERS
        assert all(d.attempts == 1 and d.locked_until and d.locked_until > utcnow() for d in heads)
        assert all(d.attempts == 0 for d in in_flight if d.event_type == "order.confirmed")  # waiting their turn
        first.kill()

        receiver.hold = False
        receiver.release.set()
        second.start()

        async def all_delivered() -> bool:
            found = await deliveries_of(db, created.endpoint.id)
            return all(d.status == "delivered" for d in found)

        await eventually(all_delivered, timeout=90)
    finally:
        first.kill()
        second.stop()
        receiver.release.set()
        await receiver.stop()

    arrivals: dict[str, list[str]] = defaultdict(list)
    for sent in receiver.first_arrivals():
        arrivals[sent["data"]["object"]["id"]].append(sent["type"])
    assert arrivals == {order.id: ["order.created", "order.confirmed"] for order in orders}
    assert len(receiver.hits) == 3 * ORDERS  # the heads twice (killed, then sent again), the rest once
    for delivery in await deliveries_of(db, created.endpoint.id):
        logged = [(a.attempt, a.status_code) for a in await attempts_of(db, delivery.id)]
        if delivery.event_type == "order.created":
            assert delivery.attempts == 2 and logged == [(2, 200)]  # the killed attempt never finished
        else:
            assert delivery.attempts == 1 and logged == [(1, 200)]
