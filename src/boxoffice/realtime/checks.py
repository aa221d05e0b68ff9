"""Whether an open stream's credentials still hold: the answer of a probe, kept ``seconds`` per credential.

A live stream asks before every frame it sends (``sse_events(is_valid=...)``), so the answer is cached per process:
a probe (a query) runs at most once every ``seconds`` per credential, however many streams and messages. Whatever
ends credentials in this process (sign-out, a new password, a member removed or their role changed, a key revoked)
calls ``forget``, so this process's streams see it at their next frame; other processes within ``seconds``.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

CACHE_SECONDS = 2.0
CACHE_ENTRIES = 10_000


class LiveChecks:
    def __init__(self, seconds: float = CACHE_SECONDS) -> None:
        self.seconds = seconds
        self.clock = time.monotonic
        self._answers: dict[str, tuple[float, bool]] = {}  # key: (until, still valid)

    async def check(self, key: str, probe: Callable[[], Awaitable[bool]]) -> bool:
        """The cached answer for ``key``, else ``probe()``'s (then cached)."""
        cached = self._answers.get(key)
        if cached is not None and cached[0] > self.clock():
            return cached[1]
        valid = await probe()
        if len(self._answers) >= CACHE_ENTRIES:
            self._answers.clear()
        self._answers[key] = (self.clock() + self.seconds, valid)
        return valid

    def forget(self) -> None:
        """Something that may end credentials happened here: every stream's next frame asks again."""
        self._answers.clear()


__all__ = ["LiveChecks"]
