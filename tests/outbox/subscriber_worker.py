"""Child process: subscribes to a topic through its own RedisBroker and prints each message as a JSON line."""

from __future__ import annotations

import asyncio
import json
import sys

from boxoffice.realtime import RedisBroker


async def main(url: str, prefix: str, topic: str, count: int) -> None:
    broker = RedisBroker(url, channel_prefix=prefix)
    await broker.start()
    async with broker.subscribe(topic) as subscription:
        assert await subscription.wait_active(30)
        print("ready", flush=True)
        seen = 0
        while seen < count:
            message = await subscription.get(timeout=30)
            if message.get("type") == "reconnected":
                continue
            print(json.dumps(message), flush=True)
            seen += 1
    await broker.stop()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
