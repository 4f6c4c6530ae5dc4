"""Run the arq worker for `shared_report` next to the consumer's health server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import orjson
from aiohttp import web
from arq.connections import ArqRedis
from arq.constants import in_progress_key_prefix, job_key_prefix
from arq.worker import Worker, func
from redis.exceptions import RedisError

from consumer import metrics, poison
from consumer.app import create_app
from consumer.deps import Deps
from consumer.destinations import Destinations
from consumer.dispatch import Dispatcher
from consumer.lifecycle import shared_report
from consumer.ratelimit import RateLimiter
from shared import deadletters, logs, serializer, unsubscribe
from shared.db import DB_ERRORS, Pool, commit_durability_warning, create_pool
from shared.listen import bind
from shared.message import FUNCTION_NAME
from shared.migrate import require_current
from shared.queue import HELD_KEY_PREFIX, HELD_RENEW_SECONDS, HELD_TTL_MS
from shared.queue import connect as connect_redis
from shared.redact import redact
from shared.settings import Settings

log = logging.getLogger(__name__)
# arq's own try limit is a backstop far behind ours: the run's attempts in PostgreSQL decide when to give up.
_ARQ_TRIES_FACTOR = 4
_RECONNECT_MAX = 10.0
REDIS_ERRORS: tuple[type[BaseException], ...] = (RedisError, OSError, TimeoutError)


class ReportWorker(Worker):
    """arq's worker, made total: it outlives Redis outages and records every entry it cannot run."""

    redis_up = True

    async def _poll_iteration(self) -> None:
        await super()._poll_iteration()
        self.redis_up = True

    async def run_forever(self) -> None:
        """arq's main loop, restarted with backoff whenever Redis goes away; returns only in burst mode."""
        delay = 0.5
        while True:
            try:
                await self.main()
                return
            except REDIS_ERRORS as exc:
                if self.redis_up:
                    delay = 0.5
                self.redis_up = False
                metrics.REDIS_RECONNECTS.inc()
                log.warning("lost Redis (%s); worker reconnects in %.1f s", type(exc).__name__, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, _RECONNECT_MAX)

    async def run_job(self, job_id: str, score: int) -> None:
        # Runs in the job's own task: arq's lines about the job and ours carry the run's ids as fields.
        logs.about(job_id=job_id)
        holding = asyncio.create_task(self._hold(job_id))
        try:
            with contextlib.suppress(*REDIS_ERRORS):
                data = await self.pool.get(job_key_prefix + job_id)
                args = poison.load_job(data).get("a") if data else None
                message = args[0] if isinstance(args, list) and args and isinstance(args[0], dict) else {}
                logs.about(**{k: message[k] for k in ("run_id", "schedule_id", "organization_id") if k in message})
            await super().run_job(job_id, score)
        finally:
            holding.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await holding

    async def _hold(self, job_id: str) -> None:
        """Keep arq's in-progress marker of a job alive while this worker runs it. The marker is set for one
        lease (`in_progress_timeout_s`), not arq's job timeout, so the job of a worker that dies at any point,
        even before it claimed its run, is free to any other worker within LEASE_SECONDS. PEXPIRE only touches a
        marker that still exists: once arq has deleted it (the job finished or was deferred) it stays deleted.
        A short-lived holder key says a live worker runs the job, so `check` can tell a marker nobody renews."""
        marker, held = in_progress_key_prefix + job_id, HELD_KEY_PREFIX + job_id
        ms = int(self.in_progress_timeout_s * 1000)
        while True:
            # Sleep first: most jobs end within a second, and `check` leaves out markers younger than that.
            await asyncio.sleep(min(HELD_RENEW_SECONDS, self.in_progress_timeout_s / 3))
            try:
                async with self.pool.pipeline(transaction=False) as pipe:
                    pipe.pexpire(marker, ms)
                    pipe.set(held, b"1", px=HELD_TTL_MS)
                    await pipe.execute()
            except REDIS_ERRORS as exc:
                log.warning("could not renew the in-progress marker of job %s (%s)", job_id, type(exc).__name__)

    async def finish_failed_job(self, job_id: str, result_data: bytes | None) -> None:
        # arq gives up on an entry without calling us when its data is gone or its tries ran out: record it.
        data = await self.pool.get(job_key_prefix + job_id)
        await super().finish_failed_job(job_id, result_data)
        reason = "arq failed the entry"
        if result_data:
            with contextlib.suppress(orjson.JSONDecodeError):
                reason = str(orjson.loads(result_data).get("r") or reason)
        if data is None:
            kind, reason = "no_job_data", f"queued id with no job data ({reason})"
        else:
            kind = "gave_up"
        payload: object = {"head": deadletters.text_head(data or b"")}
        try:
            await poison.record(self.ctx["deps"], job_id, redact(reason), kind, payload, len(data or b""), 0)
        except DB_ERRORS as exc:
            log.error("could not record failed queue entry %s: %s (%s)", job_id, reason, type(exc).__name__)

    async def close(self) -> None:
        try:
            await super().close()
        except REDIS_ERRORS as exc:
            log.warning("worker closed without Redis (%s)", type(exc).__name__)
        except Exception as exc:  # a job task's own failure must not turn a shutdown into a crash
            log.warning("worker closed with a failed task: %s", redact(str(exc)))


@contextlib.asynccontextmanager
async def dependencies(settings: Settings, pool: Pool, redis: ArqRedis) -> AsyncIterator[Deps]:
    timeout = aiohttp.ClientTimeout(total=settings.http_timeout_seconds, connect=10)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        spool = settings.spool_dir or Path(tempfile.gettempdir())
        spool.mkdir(parents=True, exist_ok=True)
        dispatcher = Dispatcher(settings, session, RateLimiter(redis), Destinations(settings, pool))
        yield Deps(settings, pool, dispatcher, spool)


def build_worker(
    settings: Settings, redis: ArqRedis, deps: Deps, *, handle_signals: bool = True, burst: bool = False
) -> ReportWorker:
    worker = ReportWorker(
        functions=[func(shared_report, name=FUNCTION_NAME), func(poison.poison, name=poison.POISON_FUNCTION)],
        redis_pool=redis,
        queue_name=settings.queue_name,
        ctx={"deps": deps},
        handle_signals=handle_signals,
        job_completion_wait=settings.worker_shutdown_wait_seconds,
        max_tries=settings.max_tries * _ARQ_TRIES_FACTOR + 1,
        job_timeout=settings.job_timeout_seconds,
        keep_result=settings.keep_result_seconds,
        max_jobs=settings.worker_max_jobs,
        health_check_interval=5,
        poll_delay=settings.worker_poll_delay_seconds,
        burst=burst,
        job_serializer=serializer.dumps,
        job_deserializer=poison.load_job,
    )
    # arq keeps the marker for the job timeout (15 minutes by default), which would keep a dead worker's job
    # from every other worker that long; ReportWorker._hold renews it for as long as the job really runs.
    worker.in_progress_timeout_s = settings.lease_seconds
    return worker


async def run_consumer(settings: Settings) -> None:
    settings.require_consumer()
    sock = bind(settings.consumer_host, settings.consumer_port, setting="CONSUMER_PORT")
    try:
        await _serve(settings, sock)
    finally:
        sock.close()


async def _serve(settings: Settings, sock: socket.socket) -> None:
    # A job may hold two connections while it exports: the file, and its summary beside it in the same snapshot.
    pool = await create_pool(
        settings.dsn, statement_cache=settings.statement_cache, max_size=2 * settings.worker_max_jobs + 4
    )
    try:
        await require_current(pool)
        warning = await commit_durability_warning(pool)
        if warning:
            log.warning(warning)
    except BaseException:
        await pool.close()
        raise
    # Said once, and only by a consumer that is about to work (not one stopping on its port or schema).
    unsubscribe.warn_if_off(settings)
    redis = await connect_redis(settings.redis_dsn, **settings.redis_options)
    runner: web.AppRunner | None = None
    try:
        async with dependencies(settings, pool, redis) as deps:
            worker = build_worker(settings, redis, deps)
            runner = web.AppRunner(create_app(settings, pool, redis, worker), handle_signals=False)
            await runner.setup()
            await web.SockSite(runner, sock).start()
            log.info(
                "consumer listening on %s:%s, queue %s",
                settings.consumer_host,
                sock.getsockname()[1],
                settings.queue_name,
            )
            # arq's signal handlers cancel main_task: the whole supervised loop, not one attempt of it.
            worker.main_task = asyncio.create_task(worker.run_forever())
            try:
                await worker.main_task
            except asyncio.CancelledError:
                log.info("worker stopped")
            finally:
                await worker.close()
    finally:
        if runner is not None:
            await runner.cleanup()
        await pool.close()
