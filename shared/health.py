"""Liveness, readiness and metrics handlers that both processes serve."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from shared.db import Pool

Check = Callable[[], Awaitable[str | None]]
log = logging.getLogger(__name__)


def _unavailable(part: str, exc: Exception) -> str:
    # The answer is unauthenticated: the detail (hosts, ports, driver text) goes to the log only.
    log.warning("readiness: %s unavailable: %s: %s", part, type(exc).__name__, exc)
    return "timed out" if isinstance(exc, TimeoutError) else "unavailable"


async def postgres_check(pool: Pool) -> str | None:
    try:
        async with asyncio.timeout(2):
            await pool.fetchval("SELECT 1")
    except Exception as exc:  # any failure means "not ready"
        return _unavailable("postgres", exc)
    return None


async def redis_check(redis: object) -> str | None:
    try:
        async with asyncio.timeout(2):
            await redis.ping()  # type: ignore[attr-defined]
    except Exception as exc:
        return _unavailable("redis", exc)
    return None


def json_response(data: object, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


def healthz(service: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    """Liveness, naming the process: a container's probe can tell its own process from another on the port."""
    body = orjson.dumps({"status": "ok", "service": service})

    async def handler(_: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    return handler


async def readiness(checks: Mapping[str, Check]) -> web.Response:
    failures: dict[str, str] = {}
    for name, check in checks.items():
        problem = await check()
        if problem:
            failures[name] = problem
    if failures:
        return json_response({"status": "unavailable", "failing": failures}, status=503)
    return json_response({"status": "ok", "checks": sorted(checks)})


async def metrics(_: web.Request) -> web.Response:
    return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})


async def security_headers(_: web.Request, response: web.StreamResponse) -> None:
    """On every answer of both processes: never sniffed as another type, never cached by a proxy or browser,
    and a Server header without a version to look up."""
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
    response.headers["Server"] = "scheduled-reports"
