"""The arq queue as both sides see it: connection, JSON job encoding, idempotent batch enqueue."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.constants import in_progress_key_prefix, job_key_prefix, result_key_prefix
from arq.jobs import serialize_job
from redis.exceptions import RedisError

from shared import serializer
from shared.errors import QueueError
from shared.message import FUNCTION_NAME

DEFAULT_EXPIRES_MS = 86_400_000
# A worker running a job keeps this key alive (every HELD_RENEW_SECONDS, for HELD_TTL_MS) beside arq's in-progress
# marker: a marker without it belongs to a worker that is gone.
HELD_KEY_PREFIX = "arq:held:"
HELD_RENEW_SECONDS = 1.0
HELD_TTL_MS = 3000

# Enqueue many jobs in one round trip. A job whose id is queued, running or finished is left alone,
# which is what makes a repeated enqueue of the same fire a no-op.
_ENQUEUE_MANY = """
local queue = ARGV[1]
local added = {}
for i = 2, #ARGV, 4 do
  local id = ARGV[i]
  if redis.call('EXISTS', KEYS[1] .. id, KEYS[2] .. id, KEYS[3] .. id) == 0 then
    redis.call('PSETEX', KEYS[1] .. id, ARGV[i + 2], ARGV[i + 3])
    redis.call('ZADD', queue, ARGV[i + 1], id)
    table.insert(added, id)
  end
end
return added
"""


# Put a lost job back so it runs: a stale result (an attempt that ended without a verdict) is dropped, and for
# a run taken back from a lost worker its in-progress marker too; job data is rewritten only if missing, and a
# job still queued keeps its place. Returns the ids that are runnable afterwards.
_REQUEUE = """
local queue = ARGV[1]
local runnable = {}
for i = 2, #ARGV, 5 do
  local id = ARGV[i]
  redis.call('DEL', KEYS[2] .. id)
  if ARGV[i + 4] == '1' then redis.call('DEL', KEYS[3] .. id) end
  if redis.call('EXISTS', KEYS[3] .. id) == 0 then
    if redis.call('EXISTS', KEYS[1] .. id) == 0 then
      redis.call('PSETEX', KEYS[1] .. id, ARGV[i + 2], ARGV[i + 3])
    end
    redis.call('ZADD', queue, 'NX', ARGV[i + 1], id)
    table.insert(runnable, id)
  end
end
return runnable
"""


@dataclass(frozen=True)
class Job:
    job_id: str
    # The message, or its JSON when the caller has it encoded already.
    payload: dict[str, Any] | bytes
    defer_until: datetime | None = None


def redis_settings(
    url: str, *, sentinels: str | None = None, sentinel_master: str | None = None, ca_file: str | None = None
) -> RedisSettings:
    try:
        settings = RedisSettings.from_dsn(url)
    except (ValueError, TypeError) as exc:
        raise QueueError(f"REDIS_URL is not a valid Redis URL: {exc}") from exc
    if ca_file:
        settings.ssl_ca_certs = ca_file
    if sentinels:
        # arq asks the sentinels for the primary on every new connection, so a failover is followed.
        settings.host = [(h.strip(), int(p)) for h, _, p in (s.strip().rpartition(":") for s in sentinels.split(","))]
        settings.sentinel = True
        settings.sentinel_master = sentinel_master or "mymaster"
    return settings


async def connect(
    url: str, *, sentinels: str | None = None, sentinel_master: str | None = None, ca_file: str | None = None
) -> ArqRedis:
    settings = redis_settings(url, sentinels=sentinels, sentinel_master=sentinel_master, ca_file=ca_file)
    settings.conn_retries = 2
    try:
        pool: ArqRedis = await create_pool(settings, job_serializer=serializer.dumps, job_deserializer=serializer.loads)
    except (RedisError, OSError) as exc:
        where = "REDIS_SENTINELS" if sentinels else "REDIS_URL"
        hint = "; check REDIS_CA_FILE" if "CERTIFICATE_VERIFY_FAILED" in str(exc) else ""
        raise QueueError(f"cannot connect to Redis ({where}): {exc}{hint}") from exc
    return pool


_JOB_HEAD = b'{"t":null,"f":"' + FUNCTION_NAME.encode() + b'","a":['


def encode_job(payload: dict[str, Any] | bytes, enqueue_time_ms: int) -> bytes:
    if isinstance(payload, bytes):
        # The bytes serialize_job writes for this message (a test compares them), without decoding the message
        # only to encode it again.
        return b'%s%s],"k":{},"et":%d}' % (_JOB_HEAD, payload, enqueue_time_ms)
    return serialize_job(FUNCTION_NAME, (payload,), {}, None, enqueue_time_ms, serializer=serializer.dumps)


async def _run_script(redis: ArqRedis, script: str, queue_name: str, jobs: Sequence[Job], *extra: str) -> list[str]:
    """Each job as (id, score, expiry ms, data, *extra) after the queue name; returns the ids the script lists."""
    if not jobs:
        return []
    now_ms = int(time.time() * 1000)
    argv: list[Any] = [queue_name]
    for job in jobs:
        score = max(now_ms, int(job.defer_until.timestamp() * 1000)) if job.defer_until else now_ms
        argv += [job.job_id, score, score - now_ms + DEFAULT_EXPIRES_MS, encode_job(job.payload, now_ms), *extra]
    try:
        ids = await redis.eval(  # type: ignore[misc]
            script, 3, job_key_prefix, result_key_prefix, in_progress_key_prefix, *argv
        )
    except (RedisError, OSError) as exc:
        raise QueueError(f"enqueue failed: {exc}") from exc
    return [a.decode() if isinstance(a, bytes) else str(a) for a in ids]


async def enqueue_many(redis: ArqRedis, queue_name: str, jobs: Sequence[Job]) -> list[str]:
    """Enqueue jobs atomically per call; returns the ids that were new."""
    return await _run_script(redis, _ENQUEUE_MANY, queue_name, jobs)


async def requeue_many(redis: ArqRedis, queue_name: str, jobs: Sequence[Job], *, takeover: bool) -> list[str]:
    """Make lost jobs runnable again (see _REQUEUE); `takeover` also clears a lost worker's claim."""
    return await _run_script(redis, _REQUEUE, queue_name, jobs, "1" if takeover else "0")


async def lost_jobs(redis: ArqRedis, job_ids: Sequence[str]) -> list[str]:
    """Job ids that will never run as they are: absent, or finished (a result) while their run is not."""
    if not job_ids:
        return []
    try:
        async with redis.pipeline(transaction=False) as pipe:
            for job_id in job_ids:
                pipe.exists(job_key_prefix + job_id, in_progress_key_prefix + job_id)
            counts = await pipe.execute()
    except (RedisError, OSError) as exc:
        raise QueueError(f"cannot read job state: {exc}") from exc
    return [job_id for job_id, count in zip(job_ids, counts, strict=True) if count == 0]


async def held_by_no_worker(redis: ArqRedis, job_ids: Sequence[str], marker_ms: int) -> list[str]:
    """Job ids marked in progress whose worker is gone: no live worker renews the holder key. A marker set in
    the last two seconds is left out (arq sets it, and the worker first renews it a second later)."""
    if not job_ids:
        return []
    try:
        async with redis.pipeline(transaction=False) as pipe:
            for job_id in job_ids:
                pipe.pttl(in_progress_key_prefix + job_id)
                pipe.exists(HELD_KEY_PREFIX + job_id)
            answers = await pipe.execute()
    except (RedisError, OSError) as exc:
        raise QueueError(f"cannot read job state: {exc}") from exc
    stuck = []
    for job_id, ttl, held in zip(job_ids, answers[::2], answers[1::2], strict=True):
        # PTTL: -2 no marker; -1 a marker without expiry (never ours); else ms left.
        if ttl == -1 or (ttl >= 0 and not held and ttl < marker_ms - 2000):
            stuck.append(job_id)
    return stuck


async def queue_depth(redis: ArqRedis, queue_name: str) -> int:
    try:
        return int(await redis.zcard(queue_name))
    except (RedisError, OSError) as exc:
        raise QueueError(f"cannot read queue depth: {exc}") from exc


async def oldest_age_seconds(redis: ArqRedis, queue_name: str, now_ms: int | None = None) -> float:
    """How long the oldest job that is due (not deferred to the future) has been waiting; 0 when none."""
    now = now_ms if now_ms is not None else int(time.time() * 1000)
    try:
        oldest = await redis.zrangebyscore(queue_name, "-inf", now, start=0, num=1, withscores=True)
    except (RedisError, OSError) as exc:
        raise QueueError(f"cannot read the queue: {exc}") from exc
    return max(0.0, (now - float(oldest[0][1])) / 1000) if oldest else 0.0


async def has_consumer(redis: ArqRedis, queue_name: str) -> bool:
    """Whether a worker on this queue reported in the last few seconds (arq's health-check key; the consumer
    writes it every 5 s with a 6 s expiry)."""
    try:
        return bool(await redis.exists(f"{queue_name}:health-check"))
    except (RedisError, OSError) as exc:
        raise QueueError(f"Redis unavailable: {type(exc).__name__}") from exc


def no_consumer_warning(queue_name: str, jobs: int) -> str:
    return (
        f"warning: no consumer is reading queue {queue_name!r}; {jobs} job(s) wait there until one does "
        "(start `python -m consumer` with the same QUEUE_NAME and REDIS_URL)"
    )
