"""Provider rate limits shared by every consumer replica: GCRA kept in Redis, on Redis' clock."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from arq.connections import ArqRedis

# All limits of one request are checked and booked together, atomically: booking one limit and then
# waiting on another would let the first slot go stale and two requests bunch up at the provider.
# Returns 0 when every limit allows now (and books them all), else the milliseconds to wait.
_GCRA = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)
local wait = 0
local tats = {}
for i, key in ipairs(KEYS) do
  local tat = tonumber(redis.call('GET', key) or now)
  if tat < now then tat = now end
  tats[i] = tat
  if tat - now > wait then wait = tat - now end
end
if wait > 0 then return wait end
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[i])
  redis.call('SET', key, tats[i] + interval, 'PX', interval + 1000)
end
return 0
"""


class RateLimiter:
    def __init__(self, redis: ArqRedis, prefix: str = "scheduled-reports:rate") -> None:
        self.redis = redis
        self.prefix = prefix

    async def acquire(self, name: str, interval_seconds: float) -> float:
        return await self.acquire_all([(name, interval_seconds)])

    async def acquire_all(self, limits: Sequence[tuple[str, float]]) -> float:
        """Wait until every (name, minimum interval) allows a request, book them all; returns seconds waited."""
        active = [(name, max(1, round(seconds * 1000))) for name, seconds in limits if seconds > 0]
        if not active:
            return 0.0
        keys = [f"{self.prefix}:{name}" for name, _ in active]
        intervals = [str(ms) for _, ms in active]
        waited = 0.0
        while True:
            wait_ms = int(await self.redis.eval(_GCRA, len(keys), *keys, *intervals))  # type: ignore[misc]
            if wait_ms <= 0:
                return waited
            waited += wait_ms / 1000
            await asyncio.sleep(wait_ms / 1000)
