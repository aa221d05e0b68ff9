"""Child process for the cross-process oversell test: fires N concurrent one-ticket reservations and prints
``held=<n> sold_out=<n> other=<n>``. It prints ``ready`` once connected and fires only when a line arrives on
its standard input, so that the test can start several at the same moment. Its buyers' emails carry its pid."""

from __future__ import annotations

import asyncio
import os
import sys

from boxoffice.db import Database
from boxoffice.errors import SoldOut
from boxoffice.ticketing.plan import LineRequest, OrderRequest
from boxoffice.ticketing.reserve import reserve


async def main(url: str, event_id: str, ticket_type_id: str, n: int) -> None:
    db = Database(url, pool_size=10)
    async with db.read() as session:  # connected before the start signal
        await session.connection()
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)

    async def one(i: int) -> str:
        try:
            await reserve(
                db,
                OrderRequest(
                    event_id=event_id,
                    email=f"proc-{i}-{os.getpid()}@example.com",
                    lines=[LineRequest(ticket_type_id, 1)],
                ),
            )
            return "held"
        except SoldOut:
            return "sold_out"

    results = await asyncio.gather(*(one(i) for i in range(n)), return_exceptions=True)
    await db.dispose()
    held = sum(1 for r in results if r == "held")
    sold_out = sum(1 for r in results if r == "sold_out")
    print(f"held={held} sold_out={sold_out} other={n - held - sold_out}")
    for r in results:
        if isinstance(r, BaseException):
            print(repr(r), file=sys.stderr)
            break


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
