"""Child process: subscribes to an event's topic through its own RedisBroker and prints each message as a JSON line,
until one says its first ticket type has ``available`` left."""

from __future__ import annotations

import asyncio
import json
import sys

from boxoffice.realtime import RedisBroker


async def main(url: str, prefix: str, topic: str, available: int) -> None:
    broker = RedisBroker(url, channel_prefix=prefix)
    await broker.start()
    async with broker.subscribe(topic) as subscription:
        assert await subscription.wait_active(30)
        print("ready", flush=True)
        while True:
            message = await subscription.get(timeout=30)
            if message.get("type") == "reconnected":
                continue
            print(json.dumps(message), flush=True)
            if message.get("ticket_types", [{}])[0].get("available") == available:
                break
    await broker.stop()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
