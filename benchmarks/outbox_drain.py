"""The worker's share of a webhook confirmation, in one process: the outbox handlers' work for ``--orders`` paid
orders (their ``order.confirmed`` and ``availability`` messages: the confirmation email queued, the webhook event
and its delivery written for one ``order.confirmed`` endpoint), and the webhook sender's claim once those deliveries
wait (not part of the test suite).

```
.venv/bin/python -m benchmarks.outbox_drain                                   # this checkout
PYTHONPATH=/tmp/base/src .venv/bin/python -m benchmarks.outbox_drain          # another checkout's src/
```

One PostgreSQL database of its own (found as the tests find it, dropped afterwards). The orders are reserved and
confirmed first and the messages that reserving them made are drained (not measured); then the dispatcher drains
the confirmations' messages in batches of its default size, as a worker facing a backlog does (no pub/sub: what is
measured is the handlers and the claim and mark statements). Reported: this process's CPU and the PostgreSQL
backends' CPU per confirmation, then the time of a sender's claim of 8 deliveries with all of them pending (the
deliveries table not analyzed since they were written, as in a sale's first minutes).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from datetime import timedelta
from typing import Any

from benchmarks.flash_sale import bench_database, make_sale
from benchmarks.web_cpu import backend_cpu
from boxoffice.db import Database
from boxoffice.events import service as events
from boxoffice.integrations import endpoints
from boxoffice.integrations.addresses import UrlPolicy
from boxoffice.integrations.fanout import DeliveryQueue
from boxoffice.integrations.sender import SenderConfig, WebhookSender
from boxoffice.notifications.delivery import queue_emails
from boxoffice.notifications.transfers import queue_transfer_emails
from boxoffice.outbox.dispatcher import DbHandler, OutboxDispatcher
from boxoffice.ticketing import reserve as reservations
from boxoffice.ticketing.confirm_pg import confirm_paid_in_one_statement
from boxoffice.ticketing.plan import LineRequest, OrderRequest

LOCAL = UrlPolicy(https_only=False, allow_loopback=True)


async def run(orders: int, claims: int) -> dict[str, Any]:
    async with bench_database() as (url, _):
        db = Database(url)
        try:
            event_id, (ticket_id,) = await make_sale(db, types=1, per_type=orders + 10)
            organizer = (await events.get_event(db, event_id)).organizer_id
            await endpoints.create_endpoint(
                db, organizer, url="http://127.0.0.1:9/hooks", event_types=["order.confirmed"], policy=LOCAL
            )
            reserved = [
                await reservations.reserve(
                    db,
                    OrderRequest(
                        event_id=event_id,
                        email=f"buyer{i}@example.com",
                        name=f"Buyer {i}",
                        tip_cents=0,
                        lines=[LineRequest(ticket_id, 1, None, [])],
                    ),
                )
                for i in range(orders)
            ]
            handlers: list[DbHandler] = [
                queue_emails,
                queue_transfer_emails,
                DeliveryQueue(retry_for=timedelta(hours=72)),
            ]
            dispatcher = OutboxDispatcher(db, handlers=handlers)
            while await dispatcher.drain_once():  # the reservations' own messages
                pass
            for order in reserved:
                paid = await confirm_paid_in_one_statement(
                    db, order.id, amount=order.total_cents, currency="usd", payment_intent_id=None
                )
                assert paid, order.id
            pg_before, cpu, wall, handled = await backend_cpu(db), time.process_time(), time.perf_counter(), 0
            while n := await dispatcher.drain_once():
                handled += n
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            pg_after = await backend_cpu(db)
            pg = sum(seconds - pg_before.get(pid, 0.0) for pid, seconds in pg_after.items())

            sender = WebhookSender(db, SenderConfig(policy=LOCAL))
            started = time.perf_counter()
            claimed = sum([len(await sender.claim(limit=8)) for _ in range(claims)])
            claim_ms = (time.perf_counter() - started) * 1000 / claims
            return {
                "confirmations": orders,
                "messages": handled,
                "worker_cpu_ms_per_confirmation": round(cpu * 1000 / orders, 3),
                "postgres_cpu_ms_per_confirmation": round(pg * 1000 / orders, 3),
                "drain_seconds": round(wall, 2),
                "claim_ms_with_all_pending": round(claim_ms, 2),
                "claimed": claimed,
            }
        finally:
            await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=5000, help="paid orders whose messages are drained")
    parser.add_argument("--claims", type=int, default=20, help="sender claims of 8 timed afterwards")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.orders, args.claims))))


if __name__ == "__main__":
    main()
