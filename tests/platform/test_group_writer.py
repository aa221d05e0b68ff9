"""GroupWriter: concurrent writes share a batch, each caller learns its own item's outcome."""

from __future__ import annotations

import asyncio

import pytest

from boxoffice.db import GroupWriter


class Store:
    def __init__(self, bad: set[str] | None = None) -> None:
        self.batches: list[list[str]] = []
        self.written: list[str] = []
        self.bad = bad or set()
        self.gate = asyncio.Event()
        self.gate.set()

    async def write(self, items: list[str]) -> None:
        self.batches.append(list(items))
        await self.gate.wait()
        if self.bad & set(items):
            raise ValueError(f"refused {sorted(self.bad & set(items))}")
        self.written.extend(items)


async def test_items_arriving_during_a_write_go_together_in_the_next_batch() -> None:
    store = Store()
    store.gate.clear()
    writer = GroupWriter(store.write)
    first = asyncio.create_task(writer.submit("a"))
    await asyncio.sleep(0)
    others = [asyncio.create_task(writer.submit(x)) for x in ("b", "c", "d")]
    await asyncio.sleep(0)
    store.gate.set()
    await asyncio.gather(first, *others)
    assert store.batches == [["a"], ["b", "c", "d"]]
    assert store.written == ["a", "b", "c", "d"]


async def test_a_lone_write_is_not_delayed() -> None:
    store = Store()
    writer = GroupWriter(store.write)
    await asyncio.wait_for(writer.submit("x"), 1)
    await asyncio.wait_for(writer.submit("y"), 1)
    assert store.batches == [["x"], ["y"]]


async def test_a_failing_item_fails_alone() -> None:
    store = Store(bad={"c"})
    store.gate.clear()
    writer = GroupWriter(store.write)
    first = asyncio.create_task(writer.submit("a"))
    await asyncio.sleep(0)
    tasks = {x: asyncio.create_task(writer.submit(x)) for x in ("b", "c", "d")}
    await asyncio.sleep(0)
    store.gate.set()
    await first
    await tasks["b"]
    await tasks["d"]
    with pytest.raises(ValueError, match="refused"):
        await tasks["c"]
    assert store.written == ["a", "b", "d"]


async def test_the_write_goes_on_when_its_caller_is_cancelled() -> None:
    store = Store()
    store.gate.clear()
    writer = GroupWriter(store.write)
    task = asyncio.create_task(writer.submit("kept"))
    await asyncio.sleep(0)
    task.cancel()
    store.gate.set()
    await asyncio.wait_for(writer.submit("next"), 1)
    assert store.written == ["kept", "next"]
