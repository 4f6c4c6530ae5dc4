"""The producer's aiohttp application: API routes, health, metrics, and the scheduler task."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

from aiohttp import web

from producer import unsubscribe
from producer.api import (
    audit,
    dead_letters,
    destinations,
    directory,
    lifecycle,
    policy,
    preview,
    runs,
    unsubscribes,
)
from producer.api.errors import error_middleware
from producer.api.idempotency import idempotency_middleware
from producer.api.jwks import JWKS, Jwks, jwks_middleware
from producer.api.keys import POOL, REDIS, SETTINGS
from producer.api.openapi import document
from producer.api.query import query_middleware
from producer.api.routes import add_routes
from producer.console import routes as console
from producer.loop import SchedulerLoop
from shared import health
from shared.db import create_pool
from shared.queue import connect as connect_redis
from shared.settings import Settings

SCHEDULER = web.AppKey("scheduler", SchedulerLoop)
__all__ = ["POOL", "REDIS", "SCHEDULER", "SETTINGS", "create_app"]


async def _resources(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    app[POOL] = await create_pool(settings.dsn, statement_cache=settings.statement_cache)
    try:
        app[REDIS] = await connect_redis(settings.redis_dsn, **settings.redis_options)
    except BaseException:
        await app[POOL].close()
        raise
    yield
    await app[REDIS].aclose()
    await app[POOL].close()


async def _fetch_jwks(app: web.Application) -> None:
    await app[JWKS].refresh()


async def _scheduler(app: web.Application) -> AsyncIterator[None]:
    scheduler = SchedulerLoop(app[SETTINGS], app[POOL], app[REDIS])
    app[SCHEDULER] = scheduler
    task = asyncio.create_task(scheduler.run(), name="scheduler")
    yield
    # Graceful stop: the tick in progress finishes, nothing is cancelled half-way.
    scheduler.stop()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def readyz(request: web.Request) -> web.Response:
    app = request.app
    settings = app[SETTINGS]

    async def tick_fresh() -> str | None:
        scheduler = app.get(SCHEDULER)
        if scheduler is None:
            return None
        if scheduler.last_tick_at is None:
            return "scheduler: no tick has finished yet"
        age = time.time() - scheduler.last_tick_at
        limit = 2 * settings.tick_seconds + 30
        return None if age <= limit else f"scheduler: last tick {age:.0f} s ago (limit {limit:.0f} s)"

    return await health.readiness(
        {
            "postgres": lambda: health.postgres_check(app[POOL]),
            "redis": lambda: health.redis_check(app[REDIS]),
            "scheduler": tick_fresh,
        }
    )


def create_app(settings: Settings, *, run_scheduler: bool = True) -> web.Application:
    app = web.Application(
        client_max_size=64 * 1024,
        middlewares=[error_middleware, jwks_middleware, query_middleware, idempotency_middleware],
    )
    app.on_response_prepare.append(health.security_headers)
    app[SETTINGS] = settings
    if settings.jwt_jwks_url:
        app[JWKS] = Jwks(settings.jwt_jwks_url, settings.jwt_jwks_cache_seconds, settings.http_timeout_seconds)
        app.on_startup.append(_fetch_jwks)
    app.cleanup_ctx.append(_resources)
    if run_scheduler:
        app.cleanup_ctx.append(_scheduler)
    app.router.add_get("/healthz", health.healthz("producer"))
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", health.metrics)
    app.router.add_get("/v1/openapi.json", openapi)
    # Before the routes with an {id}, so /v1/schedules/preview is never read as a schedule's id.
    preview.add_routes(app)
    add_routes(app)
    destinations.add_routes(app)
    runs.add_routes(app)
    dead_letters.add_routes(app)
    lifecycle.add_routes(app)
    directory.add_routes(app)
    audit.add_routes(app)
    policy.add_routes(app)
    unsubscribes.add_routes(app)
    console.add_routes(app, settings)
    unsubscribe.add_routes(app)
    return app


async def openapi(_: web.Request) -> web.Response:
    return health.json_response(document())
