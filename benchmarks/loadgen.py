"""A small closed-loop load generator: N concurrent clients, each posting until the sale is over.

Each client keeps one HTTP/1.1 keep-alive connection and speaks the protocol itself (a request line, a few headers,
a JSON body; the answer's status, headers and ``Content-Length`` body). A general HTTP client costs far more CPU per
request than the servers measured here (httpx spent 3 to 10 ms per request at 128 connections, 15 times what the
bare baseline endpoint spends), and it shares the same cores: the generator would be what is measured.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit


class ProtocolError(Exception):
    """The server's answer was not HTTP/1.1 as this client understands it."""


@dataclass
class Reply:
    status_code: int
    headers: dict[str, str]
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.content)


class Connection:
    """One keep-alive connection to ``host:port``; reconnects when the server closed it."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()
        self._reader = self._writer = None

    async def post(self, path: str, body: bytes, headers: dict[str, str] | None = None) -> Reply:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        assert self._reader is not None
        extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nContent-Type: application/json\r\n"
            f"{extra}Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        self._writer.write(head + body)
        try:
            raw = await self._reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            await self.close()
            raise ConnectionResetError("the server closed the connection") from None
        lines = raw.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
            raise ProtocolError(lines[0][:80])
        answer = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                answer[name.strip().lower()] = value.strip()
        if "content-length" not in answer:
            raise ProtocolError("answer without Content-Length")
        content = await self._reader.readexactly(int(answer["content-length"]))
        if answer.get("connection", "").lower() == "close":
            await self.close()
        return Reply(int(parts[1]), answer, content)


@dataclass
class LoadResult:
    clients: int
    duration_s: float
    successes: int
    latencies_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    success_at_s: list[float] = field(default_factory=list)  # when each success was answered, from the start

    def rate_of_first(self, n: int) -> float:
        """The rate over the first ``n`` successes (``n`` over the time the ``n``-th was answered): what a sale of
        ``n`` orders would have measured, for comparing sales of different lengths over the same length."""
        if n <= 0 or len(self.success_at_s) < n or not self.success_at_s[n - 1]:
            return 0.0
        return n / self.success_at_s[n - 1]

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
    is_sold_out: Callable[[Reply], bool],
    timeout: float = 60.0,
    max_seconds: float = 300.0,
    on_response: Callable[[Reply], None] | None = None,
    sold_out_ends_run: bool = True,
) -> LoadResult:
    """Each client posts ``body(i)`` in a loop; the run ends when ``target`` successes are reached, when a client is
    told the sale is sold out (unless ``sold_out_ends_run`` is false: with several ticket types, one selling out is
    not the end), when ``body`` has nothing left to ask for, or after ``max_seconds``."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    result = LoadResult(clients=clients, duration_s=0.0, successes=0)
    counter = iter(range(10**9))
    done = asyncio.Event()
    started = time.perf_counter()
    deadline = started + max_seconds

    async def worker() -> None:
        connection = Connection(host, port)
        try:
            while not done.is_set() and time.perf_counter() < deadline:
                payload = body(next(counter))
                if payload is None:
                    return
                data = json.dumps(payload).encode()
                t0 = time.perf_counter()
                try:
                    response = await asyncio.wait_for(connection.post(path, data), timeout)
                except (OSError, TimeoutError, ProtocolError, asyncio.IncompleteReadError) as exc:
                    result.errors[f"transport:{type(exc).__name__}"] += 1
                    await connection.close()
                    continue
                result.latencies_ms.append((time.perf_counter() - t0) * 1000)
                if on_response is not None:
                    on_response(response)
                if response.status_code in (200, 201):
                    result.successes += 1
                    result.success_at_s.append(at := time.perf_counter() - started)
                    if result.successes >= target:
                        result.duration_s = at
                        done.set()
                    continue
                if is_sold_out(response):
                    result.errors["sold_out"] += 1
                    if not sold_out_ends_run:
                        continue
                    result.duration_s = result.duration_s or time.perf_counter() - started
                    done.set()
                    return
                label = str(response.status_code)
                if "json" in response.headers.get("content-type", ""):
                    with contextlib.suppress(ValueError, AttributeError):
                        label += ":" + str(response.json().get("type", "")).rsplit("/", 1)[-1]
                result.errors[label] += 1
        finally:
            await connection.close()

    await asyncio.gather(*(worker() for _ in range(clients)))
    if not result.duration_s:
        result.duration_s = time.perf_counter() - started
    return result
