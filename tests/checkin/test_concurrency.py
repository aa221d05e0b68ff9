"""Exactly one admission per ticket and list, on a real PostgreSQL, with scanners racing in several processes."""

from __future__ import annotations

import asyncio
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from boxoffice.checkin.models import Checkin
from boxoffice.checkin.rules import Result
from boxoffice.db import Database
from boxoffice.outbox.models import OutboxMessage
from boxoffice.topics import checkin_list_topic
from tests.checkin.conftest import SECRET, Sold, sold_event

pytestmark = pytest.mark.postgres
ROOT = Path(__file__).resolve().parents[2]


async def run_processes(
    pg_url: str, sold: Sold, per_process: list[list[list[dict[str, str]]]], tmp_path: Path
) -> list[list[Any]]:
    """Start one worker per entry of ``per_process`` (its scanners), fire them at once, gather every answer."""
    procs = []
    for n, scanners in enumerate(per_process):
        job = tmp_path / f"job-{n}.json"
        job.write_text(
            json.dumps(
                {
                    "db": pg_url,
                    "list_id": sold.default_list.id,
                    "organizer_id": sold.event.organizer_id,
                    "secret": SECRET.decode(),
                    "scanners": scanners,
                }
            )
        )
        procs.append(
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tests.checkin.scan_worker",
                str(job),
                cwd=ROOT,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        )
    for p in procs:  # all connected, then all fire at once
        assert p.stdout is not None
        assert (await asyncio.wait_for(p.stdout.readline(), 60)).strip() == b"ready"
    outputs = await asyncio.gather(*(p.communicate(b"go\n") for p in procs))
    answers: list[list[Any]] = []
    for (out, err), proc in zip(outputs, procs, strict=True):
        assert proc.returncode == 0, err.decode()[-4000:]
        answers.extend(json.loads(out))
    return answers


async def admitted(db: Database, list_id: str) -> list[Checkin]:
    async with db.read() as session:
        return list((await session.scalars(select(Checkin).where(Checkin.list_id == list_id))).all())


async def messages(db: Database, list_id: str) -> int:
    async with db.read() as session:
        topics = (await session.scalars(select(OutboxMessage.topics))).all()
    return sum(1 for t in topics if checkin_list_topic(list_id) in t)


async def test_50_scans_of_one_code_from_five_processes_admit_once(
    pg_url: str, pg_db: Database, tmp_path: Path
) -> None:
    sold = await sold_event(pg_db, n=1)
    code = sold.code()
    per_process = [[[{"code": code}] for _ in range(10)] for _ in range(5)]  # 5 processes x 10 scanners
    answers = await run_processes(pg_url, sold, per_process, tmp_path)
    assert Counter(result for result, _, _ in answers) == {"ok": 1, "already_checked_in": 49}
    (row,) = await admitted(pg_db, sold.default_list.id)
    assert [checkin_id for result, checkin_id, _ in answers if result == "ok"] == [row.id]
    assert await messages(pg_db, sold.default_list.id) == 1


async def test_1000_tickets_scanned_twice_by_20_scanners_admit_each_once(
    pg_url: str, pg_db: Database, tmp_path: Path
) -> None:
    sold = await sold_event(pg_db, n=1000, quantity=1000)
    codes = [sold.code(i) for i in range(1000)]
    # 20 scanners in two processes; every ticket goes past two of them (its second scan a racing double)
    scanners = [[{"code": codes[i]} for i in range(s, 1000, 20)] for s in range(20)]
    doubles = [[{"code": codes[i]} for i in reversed(range((s + 7) % 20, 1000, 20))] for s in range(20)]
    per_process = [scanners[:10] + doubles[:10], scanners[10:] + doubles[10:]]
    answers = await run_processes(pg_url, sold, per_process, tmp_path)
    assert Counter(result for result, _, _ in answers) == {"ok": 1000, "already_checked_in": 1000}
    rows = await admitted(pg_db, sold.default_list.id)
    assert len(rows) == 1000 and len({r.ticket_id for r in rows}) == 1000
    assert {checkin_id for result, checkin_id, _ in answers if result == "ok"} == {r.id for r in rows}
    status_total = await messages(pg_db, sold.default_list.id)
    assert status_total == 1000


async def test_retries_with_one_nonce_racing_write_one_row(pg_url: str, pg_db: Database, tmp_path: Path) -> None:
    sold = await sold_event(pg_db, n=2)
    retry = {"code": sold.code(0), "nonce": "phone-7:0042"}
    other = {"code": sold.code(0), "nonce": "phone-8:0001"}
    # the same scan sent 20 times at once (a scanner retrying over a bad network), from two processes
    per_process = [[[retry] for _ in range(10)], [[retry] for _ in range(10)]]
    answers = await run_processes(pg_url, sold, per_process, tmp_path)
    assert {result for result, _, _ in answers} == {"ok"}
    assert len({checkin_id for _, checkin_id, _ in answers}) == 1
    assert sum(1 for _, _, replayed in answers if not replayed) == 1  # one wrote; 19 were told its answer
    (row,) = await admitted(pg_db, sold.default_list.id)
    assert row.nonce == "phone-7:0042"
    before = await messages(pg_db, sold.default_list.id)
    again = await run_processes(pg_url, sold, [[[retry], [retry], [other]]], tmp_path)
    assert sorted((r, c == row.id, p) for r, c, p in again) == [
        ("already_checked_in", False, False),
        ("ok", True, True),
        ("ok", True, True),
    ]
    async with pg_db.read() as session:
        count = await session.scalar(
            select(func.count()).select_from(Checkin).where(Checkin.list_id == sold.default_list.id)
        )
    assert count == 1 and await messages(pg_db, sold.default_list.id) == before
    assert (await sold.scan(nonce="phone-7:0042")).result is Result.OK
