"""The consumer's own HTTP surface: /healthz, /readyz, /metrics."""

from __future__ import annotations

from typing import Protocol

from aiohttp import web
from arq.connections import ArqRedis

from shared import health
from shared.db import Pool
from shared.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
POOL = web.AppKey("pool", Pool)
REDIS = web.AppKey("redis", ArqRedis)


class Polling(Protocol):
    health_check_key: str
    redis_up: bool


WORKER = web.AppKey("worker", Polling)


async def readyz(request: web.Request) -> web.Response:
    app = request.app

    async def polling() -> str | None:
        worker = app[WORKER]
        if not worker.redis_up:
            return "reconnecting to Redis"
        # arq refreshes this key from its poll loop; an absent key means the worker stopped polling.
        try:
            alive = await app[REDIS].exists(worker.health_check_key)
        except Exception:
            return "cannot read the worker's health key"
        return None if alive else "not polling the queue"

    return await health.readiness(
        {
            "postgres": lambda: health.postgres_check(app[POOL]),
            "redis": lambda: health.redis_check(app[REDIS]),
            "worker": polling,
        }
    )


def create_app(settings: Settings, pool: Pool, redis: ArqRedis, worker: Polling) -> web.Application:
    """The worker owns the pools; the app only reads them."""
    app = web.Application()
    app.on_response_prepare.append(health.security_headers)
    app[SETTINGS] = settings
    app[POOL] = pool
    app[REDIS] = redis
    app[WORKER] = worker
    app.router.add_get("/healthz", health.healthz("consumer"))
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", health.metrics)
    return app
