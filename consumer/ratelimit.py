"""Provider rate limits shared by every consumer replica: a GCRA kept in Redis, on Redis' clock."""

from __future__ import annotations

import asyncio

from arq.connections import ArqRedis

# Returns 0 and books a slot when allowed, else the milliseconds to wait.
_GCRA = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)
local interval = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
if tat - now > 0 then return tat - now end
redis.call('SET', KEYS[1], tat + interval, 'PX', interval + 1000)
return 0
"""


class RateLimiter:
    def __init__(self, redis: ArqRedis, prefix: str = "scheduled-reports:rate") -> None:
        self.redis = redis
        self.prefix = prefix

    async def acquire(self, name: str, interval_seconds: float) -> float:
        """Wait for a slot; returns the seconds waited."""
        if interval_seconds <= 0:
            return 0.0
        waited = 0.0
        interval_ms = max(1, round(interval_seconds * 1000))
        while True:
            wait_ms = int(await self.redis.eval(_GCRA, 1, f"{self.prefix}:{name}", str(interval_ms)))  # type: ignore[misc]
            if wait_ms <= 0:
                return waited
            waited += wait_ms / 1000
            await asyncio.sleep(wait_ms / 1000)
