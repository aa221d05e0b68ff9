"""A stream's state read once for the streams that ask together, never from a read that started before one of them
asked (``realtime.shared_reads``)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from boxoffice.realtime.shared_reads import SharedReads


class Source:
    """A state that a test changes, read by reads that the test lets finish one at a time."""

    def __init__(self) -> None:
        self.version = 0
        self.started: list[int] = []  # the version each read saw when it started
        self.gate = asyncio.Event()
        self.fail_next = False

    async def read(self) -> int:
        seen = self.version
        self.started.append(seen)
        await self.gate.wait()
        self.gate.clear()
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("the database went away")
        return seen


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_callers_share_a_read_only_if_they_asked_before_it_started() -> None:
    shared: SharedReads[int] = SharedReads()
    source = Source()
    first = asyncio.create_task(shared.read("ev_1", source.read))
    await settle()
    source.version = 1  # a change after the first read started: the callers from now on must see it
    later = [asyncio.create_task(shared.read("ev_1", source.read)) for _ in range(10)]
    await settle()
    assert source.started == [0]  # the later callers wait; they do not start reads of their own
    source.gate.set()
    assert await first == 0
    await settle()
    assert source.started == [0, 1]  # one read for the ten, started after they asked
    source.gate.set()
    assert [await task for task in later] == [1] * 10
    assert shared.reads == 2


async def test_other_keys_are_read_on_their_own() -> None:
    shared: SharedReads[str] = SharedReads()
    gate = asyncio.Event()

    async def read(key: str) -> str:
        await gate.wait()
        return key

    def reader(key: str) -> Callable[[], Awaitable[str]]:
        return lambda: read(key)

    tasks = [asyncio.create_task(shared.read(key, reader(key))) for key in ("a", "b", "a")]
    await settle()
    gate.set()
    assert [await t for t in tasks] == ["a", "b", "a"]
    assert shared.reads == 3  # a, b, and the second a after the first a


async def test_a_failed_read_is_handed_to_no_one() -> None:
    shared: SharedReads[int] = SharedReads()
    source = Source()
    first = asyncio.create_task(shared.read("ev_1", source.read))
    await settle()
    queued = asyncio.create_task(shared.read("ev_1", source.read))  # runs the next read
    await settle()
    joined = asyncio.create_task(shared.read("ev_1", source.read))  # shares the next read
    await settle()
    source.gate.set()
    assert await first == 0
    await settle()
    source.fail_next = True
    source.version = 2
    source.gate.set()
    with pytest.raises(RuntimeError):
        await queued
    await settle()
    source.gate.set()
    assert await joined == 2  # its own read, after the failure
    assert source.started == [0, 0, 2]


async def test_a_caller_that_leaves_does_not_take_the_read_with_it() -> None:
    shared: SharedReads[int] = SharedReads()
    source = Source()
    first = asyncio.create_task(shared.read("ev_1", source.read))
    await settle()
    leaving = asyncio.create_task(shared.read("ev_1", source.read))  # queued: it would run the next read
    await settle()
    staying = asyncio.create_task(shared.read("ev_1", source.read))  # joined that next read
    await settle()
    leaving.cancel()
    await settle()
    assert leaving.cancelled()
    assert source.started == [0]  # the one who stayed waits for the next read: the first started too early for it
    source.version = 3
    source.gate.set()
    assert await first == 0
    await settle()
    source.gate.set()
    assert await staying == 3

    # the runner of a read leaves: who joined it reads on its own, and nothing is left behind
    runner = asyncio.create_task(shared.read("ev_2", source.read))
    await settle()
    queued = asyncio.create_task(shared.read("ev_2", source.read))
    await settle()
    runner.cancel()
    await settle()
    source.gate.set()
    assert await queued == 3
    assert shared._under_way == {} and shared._next == {}
