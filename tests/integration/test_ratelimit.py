"""The shared rate limiter spaces requests across concurrent callers, on Redis' clock."""

from __future__ import annotations

import asyncio
import itertools
import time

from arq.connections import ArqRedis

from consumer.ratelimit import RateLimiter


async def test_concurrent_callers_are_spaced_by_every_limit(redis: ArqRedis) -> None:
    limiters = [RateLimiter(redis), RateLimiter(redis)]  # two "replicas" sharing Redis
    stamps: list[float] = []

    async def one(i: int) -> None:
        await limiters[i % 2].acquire_all([("chat:1", 0.1), ("global", 0.02)])
        stamps.append(time.monotonic())

    started = time.monotonic()
    await asyncio.gather(*(one(i) for i in range(6)))
    stamps.sort()
    # Six requests under a 0.1 s per-chat limit span at least five intervals; none arrive together.
    # (Stamps are taken after each call returns, so single gaps may shrink by scheduling delay.)
    assert stamps[-1] - stamps[0] >= 0.45
    assert min(b - a for a, b in itertools.pairwise(stamps)) >= 0.05
    assert stamps[-1] - started >= 0.45


async def test_zero_interval_never_waits(redis: ArqRedis) -> None:
    limiter = RateLimiter(redis)
    assert await limiter.acquire_all([("x", 0.0)]) == 0.0
    assert await limiter.acquire("y", 0.0) == 0.0
