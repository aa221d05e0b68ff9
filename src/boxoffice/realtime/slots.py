"""Caps on open SSE streams: at most so many per client address and so many per process (0 = no cap).

Pure bookkeeping, no I/O: ``take`` gives a slot or ``None``; a slot's ``release`` is idempotent, so every path that
ends a stream (the generator's ``finally``, the response's own end, a client that never read a byte) may call it.
"""

from __future__ import annotations

from collections import Counter

from boxoffice import metrics


class StreamSlots:
    def __init__(self, per_address: int, total: int) -> None:
        self.per_address, self.total = per_address, total
        self.by_address: Counter[str] = Counter()
        self.open = 0

    def take(self, address: str) -> Slot | None:
        if self.total and self.open >= self.total:
            return None
        if self.per_address and self.by_address[address] >= self.per_address:
            return None
        self.open += 1
        self.by_address[address] += 1
        metrics.SSE_SUBSCRIBERS.inc()
        return Slot(self, address)

    def _release(self, address: str) -> None:
        self.open -= 1
        self.by_address[address] -= 1
        metrics.SSE_SUBSCRIBERS.dec()
        if self.by_address[address] <= 0:
            del self.by_address[address]


class Slot:
    def __init__(self, slots: StreamSlots, address: str) -> None:
        self._slots, self.address, self.released = slots, address, False

    def release(self) -> None:
        if not self.released:
            self.released = True
            self._slots._release(self.address)
