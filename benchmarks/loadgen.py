"""A small closed-loop load generator: N concurrent clients, each posting until the sale is over."""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class LoadResult:
    clients: int
    duration_s: float
    successes: int
    latencies_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)

    @property
    def rate(self) -> float:
        return self.successes / self.duration_s if self.duration_s else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies_ms:
            return 0.0
        ordered = sorted(self.latencies_ms)
        k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
        return ordered[k]

    def summary(self) -> dict[str, Any]:
        return {
            "clients": self.clients,
            "sellout_s": round(self.duration_s, 3),
            "rate_per_s": round(self.rate, 1),
            "p50_ms": round(self.percentile(50), 1),
            "p95_ms": round(self.percentile(95), 1),
            "p99_ms": round(self.percentile(99), 1),
            "mean_ms": round(statistics.fmean(self.latencies_ms), 1) if self.latencies_ms else 0.0,
            "requests": len(self.latencies_ms),
            "successes": self.successes,
            "errors": dict(self.errors),
        }


async def run_load(
    url: str,
    body: Callable[[int], dict[str, Any] | None],
    *,
    clients: int,
    target: int,
    is_sold_out: Callable[[httpx.Response], bool],
    timeout: float = 60.0,
    max_seconds: float = 300.0,
    on_response: Callable[[httpx.Response], None] | None = None,
) -> LoadResult:
    """Each client posts ``body(i)`` in a loop; the run ends when ``target`` successes are reached, or when every
    client has been told the sale is sold out, or after ``max_seconds``."""
    result = LoadResult(clients=clients, duration_s=0.0, successes=0)
    counter = iter(range(10**9))
    done = asyncio.Event()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=timeout, limits=limits) as client:
        started = time.perf_counter()
        deadline = started + max_seconds

        async def worker() -> None:
            while not done.is_set() and time.perf_counter() < deadline:
                payload = body(next(counter))
                if payload is None:
                    return
                t0 = time.perf_counter()
                try:
                    response = await client.post(url, json=payload)
                except httpx.HTTPError as exc:
                    result.errors[f"transport:{type(exc).__name__}"] += 1
                    continue
                result.latencies_ms.append((time.perf_counter() - t0) * 1000)
                if on_response is not None:
                    on_response(response)
                if response.status_code in (200, 201):
                    result.successes += 1
                    if result.successes >= target:
                        result.duration_s = time.perf_counter() - started
                        done.set()
                    continue
                if is_sold_out(response):
                    result.errors["sold_out"] += 1
                    result.duration_s = result.duration_s or time.perf_counter() - started
                    done.set()
                    return
                kind = response.headers.get("content-type", "")
                label = str(response.status_code)
                if "json" in kind:
                    with contextlib.suppress(ValueError):
                        label += ":" + str(response.json().get("type", "")).rsplit("/", 1)[-1]
                result.errors[label] += 1

        await asyncio.gather(*(worker() for _ in range(clients)))
        if not result.duration_s:
            result.duration_s = time.perf_counter() - started
    return result
