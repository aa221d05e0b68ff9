"""The order rate limiter: a token bucket per key, in memory and in Redis (atomic, shared), failing open."""

from __future__ import annotations

import logging
import secrets

import pytest

from boxoffice.web.ratelimit import MemoryRateLimiter, RedisRateLimiter, make_rate_limiter
from tests.helpers import REDIS_URL, require_redis


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_memory_bucket_allows_a_burst_then_one_token_per_interval() -> None:
    clock = Clock()
    limiter = MemoryRateLimiter(6, 3, clock=clock)  # one token every 10 s
    assert [await limiter.take("a") for _ in range(3)] == [0, 0, 0]
    assert await limiter.take("a") == 10
    assert await limiter.take("b") == 0  # another address, another bucket
    clock.now += 4
    assert await limiter.take("a") == 6
    clock.now += 6
    assert await limiter.take("a") == 0
    assert await limiter.take("a") == 10
    clock.now += 3600  # refills up to the burst, not beyond
    assert [await limiter.take("a") for _ in range(4)] == [0, 0, 0, 10]


async def test_memory_bucket_forgets_the_oldest_keys_beyond_its_size() -> None:
    limiter = MemoryRateLimiter(1, 1, clock=Clock(), max_keys=2)
    for key in ("a", "b", "c"):
        assert await limiter.take(key) == 0
    assert await limiter.take("a") == 0  # forgotten: a full bucket again
    assert await limiter.take("c") == 60


def test_off_at_zero_and_redis_when_configured() -> None:
    assert make_rate_limiter(None, 0, 10, prefix="p:") is None
    assert isinstance(make_rate_limiter(None, 30, 10, prefix="p:"), MemoryRateLimiter)
    assert isinstance(make_rate_limiter("redis://127.0.0.1:6379/0", 30, 10, prefix="p:"), RedisRateLimiter)


@pytest.mark.integration  # Redis
async def test_redis_buckets_are_shared_by_two_limiters() -> None:
    await require_redis()
    prefix = f"test-{secrets.token_hex(4)}:"
    one = RedisRateLimiter(REDIS_URL, 1, 2, prefix=prefix)
    two = RedisRateLimiter(REDIS_URL, 1, 2, prefix=prefix)
    try:
        assert await one.take("k") == 0
        assert await two.take("k") == 0
        assert 55 <= await one.take("k") <= 60
        assert 55 <= await two.take("k") <= 60
        assert await two.take("other") == 0
    finally:
        await one.close()
        await two.close()


async def test_redis_down_fails_open_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    from tests.processes import free_port

    limiter = RedisRateLimiter(f"redis://127.0.0.1:{free_port()}/0", 1, 1, prefix="down:")
    try:
        with caplog.at_level(logging.WARNING, logger="boxoffice.ratelimit"):
            assert [await limiter.take("k") for _ in range(3)] == [0, 0, 0]
        assert [r.getMessage() for r in caplog.records].count(
            "order rate limit unavailable (Redis): letting orders through"
        ) == 1
    finally:
        await limiter.close()
