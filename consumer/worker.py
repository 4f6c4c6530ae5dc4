"""Run the arq worker for `shared_report` next to the consumer's health server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
from aiohttp import web
from arq.connections import ArqRedis
from arq.worker import Worker, func

from consumer.app import create_app
from consumer.deliver import Deliverer
from consumer.job import Deps, shared_report
from consumer.ratelimit import RateLimiter
from shared import serializer
from shared.db import Pool, create_pool
from shared.message import FUNCTION_NAME
from shared.queue import connect as connect_redis
from shared.settings import Settings

log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def dependencies(settings: Settings, pool: Pool, redis: ArqRedis) -> AsyncIterator[Deps]:
    timeout = aiohttp.ClientTimeout(total=settings.http_timeout_seconds, connect=10)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        spool = settings.spool_dir or Path(tempfile.gettempdir())
        spool.mkdir(parents=True, exist_ok=True)
        deliverer = Deliverer(settings, session, RateLimiter(redis))
        yield Deps(settings, pool, deliverer, spool)


def build_worker(
    settings: Settings, redis: ArqRedis, deps: Deps, *, handle_signals: bool = True, burst: bool = False
) -> Worker:
    return Worker(
        functions=[func(shared_report, name=FUNCTION_NAME)],
        redis_pool=redis,
        queue_name=settings.queue_name,
        ctx={"deps": deps},
        handle_signals=handle_signals,
        job_completion_wait=settings.worker_shutdown_wait_seconds,
        # One more than ours so the job itself sees the last try and can dead-letter it.
        max_tries=settings.max_tries + 1,
        job_timeout=settings.job_timeout_seconds,
        keep_result=settings.keep_result_seconds,
        max_jobs=settings.worker_max_jobs,
        health_check_interval=5,
        poll_delay=0.2,
        burst=burst,
        job_serializer=serializer.dumps,
        job_deserializer=serializer.loads,
    )


async def run_consumer(settings: Settings) -> None:
    settings.require_consumer()
    pool = await create_pool(settings.dsn, max_size=settings.worker_max_jobs + 4)
    redis = await connect_redis(settings.redis_dsn)
    runner: web.AppRunner | None = None
    try:
        async with dependencies(settings, pool, redis) as deps:
            worker = build_worker(settings, redis, deps)
            runner = web.AppRunner(create_app(settings, pool, redis, worker.health_check_key), handle_signals=False)
            await runner.setup()
            await web.TCPSite(runner, settings.consumer_host, settings.consumer_port).start()
            log.info(
                "consumer listening on %s:%s, queue %s",
                settings.consumer_host,
                settings.consumer_port,
                settings.queue_name,
            )
            worker.main_task = asyncio.create_task(worker.main())
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
