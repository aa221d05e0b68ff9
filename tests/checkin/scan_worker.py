"""Child process for the check-in concurrency tests: runs scanners at once against a PostgreSQL database.

Reads a JSON job from the file named by its argument: ``{"db", "list_id", "organizer_id", "secret", "scanners":
[[{"code", "nonce"?}, ...], ...]}``; each scanner scans its codes one after the other, all scanners at the same
time. Prints ``ready`` once connected, waits for a line on its standard input (so that a test can start several
processes at the same moment), then prints one JSON list of ``[result, checkin_id, replayed]`` per scan."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from boxoffice.checkin.rules import Scanner
from boxoffice.checkin.scan import ScanRequest, scan
from boxoffice.db import Database


async def main(job_file: str) -> None:
    job: dict[str, Any] = json.loads(Path(job_file).read_text())
    db = Database(job["db"], pool_size=4)  # scanners share a few connections: the server is shared too
    async with db.read() as session:  # connected before the start signal
        await session.connection()
    scanner = Scanner(organizer_id=job["organizer_id"], can_undo=True, can_manage=True)
    keys = (job["secret"].encode(),)
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)

    async def one_scanner(scans: list[dict[str, str]]) -> list[list[Any]]:
        out = []
        for item in scans:
            outcome = await scan(
                db, job["list_id"], ScanRequest(code=item["code"], nonce=item.get("nonce")), scanner, keys=keys
            )
            out.append([outcome.result.value, outcome.checkin.id if outcome.checkin else None, outcome.replayed])
        return out

    results = await asyncio.gather(*(one_scanner(scans) for scans in job["scanners"]))
    await db.dispose()
    print(json.dumps([r for scanner_results in results for r in scanner_results]), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
