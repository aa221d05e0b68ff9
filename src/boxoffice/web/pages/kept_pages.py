"""The event page as everyone sees it, rendered at most once a second in each process (``page_cache_seconds``).

While a sale opens, browsers ask for the event page again and again, many times for each order sold, and every
rendering reads the event, its ticket types and their availability and renders the template: about twice the web
CPU of an order sold (``benchmarks/web_cpu.py page``). The page asked with no code is the same for every buyer (it
reads no cookie, header or session), so each process keeps its last rendering of each event for ``seconds`` and
renders it once for all the requests that arrive while it is being rendered. What a kept page shows is at most that
old: the ``N left`` figures are brought up to date in the browser by the page's live stream, as for any page loaded a
moment earlier, and the order itself is always checked against the database. Only a 200 is kept: a page with a code,
a form, a problem, or an event that is not public (404) is rendered for each request, so an event published or
unpublished shows as such at once in the first case and within ``seconds`` in the second.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi.responses import HTMLResponse, Response

# Pages kept per process, at most; the oldest goes first (an event page is some tens of kilobytes).
MAX_KEPT = 128


@dataclass(frozen=True)
class _Kept:
    body: bytes
    until: float  # on the monotonic clock


class KeptPages:
    """Each event's page as last rendered, for ``seconds``; ``seconds == 0`` keeps nothing (every request renders)."""

    def __init__(self, seconds: float, *, size: int = MAX_KEPT, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._size = size
        self._clock = clock
        self._kept: dict[str, _Kept] = {}
        # the rendering under way for a page, and what it kept (None: nothing, its waiters render on their own)
        self._rendering: dict[str, asyncio.Future[bytes | None]] = {}
        self.rendered = 0  # renderings asked of ``render`` while keeping pages (for tests and the benchmark)

    async def page(self, key: str, render: Callable[[], Awaitable[Response]]) -> Response:
        """The page ``key`` as kept, else as ``render`` makes it now (kept when it answers 200)."""
        if self.seconds <= 0:
            return await render()
        kept = self._kept.get(key)
        if kept is not None and self._clock() < kept.until:
            return HTMLResponse(kept.body)
        under_way = self._rendering.get(key)
        if under_way is not None:
            # shielded: a waiter that is canceled (its buyer left) does not cancel the rendering the others wait for
            body = await asyncio.shield(under_way)
            return HTMLResponse(body) if body is not None else await render()
        done: asyncio.Future[bytes | None] = asyncio.get_running_loop().create_future()
        self._rendering[key] = done
        body = None
        try:
            self.rendered += 1
            response = await render()
            if response.status_code == 200 and isinstance(response, HTMLResponse) and not _sets_cookies(response):
                body = bytes(response.body)
                self._keep(key, body)
            return response
        finally:
            del self._rendering[key]
            done.set_result(body)

    def _keep(self, key: str, body: bytes) -> None:
        self._kept.pop(key, None)
        self._kept[key] = _Kept(body, self._clock() + self.seconds)
        while len(self._kept) > self._size:
            del self._kept[next(iter(self._kept))]  # the oldest kept


def _sets_cookies(response: Response) -> bool:
    return any(name == b"set-cookie" for name, _ in response.raw_headers)
