"""Counted limits over a fixed window, kept in Redis so every producer replica shares them (on Redis' clock).

All limits of one request are checked and booked together, atomically: a request refused by one limit uses
up none of the others.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from arq.connections import ArqRedis

# Returns 0 when every key is under its limit (and counts the request in each), else the milliseconds until
# the fullest window that refuses it ends.
_WINDOW = """
local window = tonumber(ARGV[#ARGV])
for i, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') >= tonumber(ARGV[i]) then
    local left = redis.call('PTTL', key)
    if left < 0 then redis.call('PEXPIRE', key, window); left = window end
    return left
  end
end
for i, key in ipairs(KEYS) do
  if redis.call('INCR', key) == 1 then redis.call('PEXPIRE', key, window) end
end
return 0
"""


@dataclass(frozen=True)
class Limit:
    key: str
    count: int


async def book(redis: ArqRedis, limits: Sequence[Limit], window_seconds: float, prefix: str) -> float:
    """Count one request against every limit; 0 when allowed, else the seconds until it would be (at least 1)."""
    keys = [f"{prefix}:{limit.key}" for limit in limits]
    args = [str(limit.count) for limit in limits] + [str(max(1, round(window_seconds * 1000)))]
    wait_ms = int(await redis.eval(_WINDOW, len(keys), *keys, *args))  # type: ignore[misc]
    return 0.0 if wait_ms <= 0 else float(max(1, math.ceil(wait_ms / 1000)))
