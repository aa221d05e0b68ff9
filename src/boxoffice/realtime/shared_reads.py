"""One read of a stream's state shared by the streams that ask for it together, and only by those that may have it.

A live stream sends its state (an event's availability) once its subscription is active, so that nothing falls
between the state and the messages after it (``sse.sse_events``). When a sale opens, or after a broker reconnect,
hundreds of streams of one event ask for that state at once, and each read is a database transaction. A read may
serve every stream that asked *before it started*: its result is at least as new as their subscriptions, which is all
a stream needs. A stream that asks while a read is under way may not have it (the read may have started before that
stream's subscription), so it waits for the next read, which starts when the one under way ends and serves every
stream that asked meanwhile: at most one read under way and one waiting per key, however many streams ask.

A read that fails, or whose caller leaves, is handed to no one: those waiting for it ask again (the next read).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class _ReadAgain:
    """What a shared read that failed or was abandoned hands its waiters: read on your own."""


_AGAIN = _ReadAgain()


class SharedReads(Generic[T]):
    """Reads by key, each shared by the callers that asked before it started (see the module)."""

    def __init__(self) -> None:
        self._under_way: dict[str, asyncio.Future[T | _ReadAgain]] = {}
        self._next: dict[str, asyncio.Future[T | _ReadAgain]] = {}
        self.reads = 0  # reads made (for tests and benchmarks)

    async def read(self, key: str, read: Callable[[], Awaitable[T]]) -> T:
        """The result of ``read()`` for ``key``, from a read that started after this call."""
        queued = self._next.get(key)
        if queued is not None:
            return await self._joined(queued, key, read)
        mine: asyncio.Future[T | _ReadAgain] = asyncio.get_running_loop().create_future()
        under_way = self._under_way.get(key)
        if under_way is not None:
            # too early for this caller: the next read is this one, for everyone who asks until it starts
            self._next[key] = mine
            try:
                await asyncio.wait([under_way])
            except BaseException:
                mine.set_result(_AGAIN)  # this caller left while queued: those who joined ask again
                raise
            finally:
                if self._next.get(key) is mine:
                    del self._next[key]
        self._under_way[key] = mine
        try:
            self.reads += 1
            value = await read()
        except BaseException:
            mine.set_result(_AGAIN)
            raise
        else:
            mine.set_result(value)
            return value
        finally:
            if self._under_way.get(key) is mine:
                del self._under_way[key]

    async def _joined(self, shared: asyncio.Future[T | _ReadAgain], key: str, read: Callable[[], Awaitable[T]]) -> T:
        # shielded: a caller that leaves does not cancel the read that others wait for
        value = await asyncio.shield(shared)
        return await self.read(key, read) if isinstance(value, _ReadAgain) else value
