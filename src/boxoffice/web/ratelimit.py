"""A token bucket per client address for creating orders (API and buyer page).

Each address has a bucket of ``burst`` tokens that refills at ``per_minute`` tokens a minute; an order takes one
token, and without one the request is answered 429 with the seconds until the next token. With
``BOXOFFICE_REDIS_URL`` the buckets live in Redis (one small Lua script, atomic, with Redis's clock), so every
process shares them; otherwise in this process's memory. If Redis is unreachable the limiter fails open: sales go
on, a warning is logged (at most every ten seconds), and the hold caps still bound what one buyer can hold.
Bucket keys are keyed hashes of the address (``web.clients.address_key``), never the address itself.
"""

from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from starlette.requests import HTTPConnection

from boxoffice.errors import TooManyRequests
from boxoffice.web.clients import address_key, client_address

log = logging.getLogger("boxoffice.ratelimit")


class RateLimiter(Protocol):
    async def take(self, key: str) -> int:
        """Take a token from ``key``'s bucket: 0 when taken, else the whole seconds until one is there."""
        ...

    async def close(self) -> None: ...


def _wait(missing: float, per_second: float) -> int:
    return max(math.ceil(missing / per_second), 1)


class MemoryRateLimiter:
    """Buckets in this process (the least recently used are forgotten beyond ``max_keys``: a forgotten bucket is
    a full one, so forgetting only ever lets a request through)."""

    def __init__(
        self,
        per_minute: int,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        self.per_second = per_minute / 60.0
        self.burst = float(burst)
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    async def take(self, key: str) -> int:
        now = self._clock()
        tokens, at = self._buckets.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + max(now - at, 0.0) * self.per_second)
        wait = 0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = _wait(1 - tokens, self.per_second)
        self._buckets[key] = (tokens, now)
        while len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)
        return wait

    async def close(self) -> None:
        self._buckets.clear()


# KEYS[1]: the bucket; ARGV: tokens per second, burst. Returns the seconds to wait as a string (0 = taken): Lua
# numbers would be truncated to integers on the way back.
_TAKE = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = burst
  at = now
end
tokens = math.min(burst, tokens + math.max(now - at, 0) * rate)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return tostring(wait)
"""


class RedisRateLimiter:
    """Buckets in Redis, shared by every process pointing at it. Fails open when Redis does not answer."""

    def __init__(
        self, url: str, per_minute: int, burst: int, *, prefix: str = "boxoffice:", socket_timeout: float = 0.5
    ) -> None:
        self.per_second = per_minute / 60.0
        self.burst = burst
        self.prefix = prefix + "rate:orders:"
        self._client: aioredis.Redis = aioredis.from_url(
            url, socket_timeout=socket_timeout, socket_connect_timeout=socket_timeout
        )
        self._script = self._client.register_script(_TAKE)
        self._last_warning = 0.0

    async def take(self, key: str) -> int:
        try:
            raw = await self._script(keys=[self.prefix + key], args=[repr(self.per_second), self.burst])
        except (RedisError, OSError) as exc:
            now = time.monotonic()
            if now - self._last_warning > 10:
                self._last_warning = now
                log.warning(
                    "order rate limit unavailable (Redis): letting orders through", extra={"error": type(exc).__name__}
                )
            return 0
        wait = float(raw.decode() if isinstance(raw, bytes) else raw)
        return 0 if wait <= 0 else max(math.ceil(wait), 1)

    async def close(self) -> None:
        await self._client.aclose()


def make_rate_limiter(redis_url: str | None, per_minute: int, burst: int, *, prefix: str) -> RateLimiter | None:
    """None when the limit is off (``per_minute`` 0)."""
    if per_minute <= 0:
        return None
    if redis_url:
        return RedisRateLimiter(redis_url, per_minute, burst, prefix=prefix)
    return MemoryRateLimiter(per_minute, burst)


async def admit_order(request: HTTPConnection, limiter: RateLimiter | None, secret: bytes) -> str:
    """Take a token for an order from the client's address, or raise ``TooManyRequests`` (429). Returns the
    address's keyed hash, which the order keeps for the held-tickets cap per address."""
    key = address_key(secret, client_address(request))
    if limiter is not None:
        wait = await limiter.take(key)
        if wait:
            raise TooManyRequests(
                f"too many orders from this network address: try again in {wait} seconds",
                limit="rate",
                retry_after=wait,
            )
    return key
