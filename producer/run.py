"""Process runners behind the producer's command line."""

from __future__ import annotations

import asyncio
import logging
import signal
from datetime import UTC, datetime

from producer.tick import tick
from shared.db import commit_durability_warning, pool_context
from shared.listen import bind
from shared.message import format_instant
from shared.migrate import migrate, require_current
from shared.queue import connect as connect_redis
from shared.queue import has_consumer, no_consumer_warning, queue_depth
from shared.settings import Settings

log = logging.getLogger(__name__)


async def run_producer(settings: Settings) -> None:
    # Imported here: a one-off `tick --once` should not pay for the HTTP app's imports.
    from aiohttp import web

    from producer.app import create_app

    settings.require_producer()
    sock = bind(settings.producer_host, settings.producer_port, setting="PRODUCER_PORT")
    try:
        async with pool_context(settings.dsn, statement_cache=settings.statement_cache, max_size=1) as pool:
            await require_current(pool)
            warning = await commit_durability_warning(pool)
            if warning:
                log.warning(warning)
    except BaseException:
        sock.close()
        raise
    app = create_app(settings)
    # Without a request head within the timeout (a slow-header client), the connection is closed.
    runner = web.AppRunner(app, handle_signals=False, keepalive_timeout=settings.http_header_timeout_seconds)
    # The scheduler starts with the app; the port is already ours, so nothing is claimed by a process that
    # could not serve.
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        site = web.SockSite(runner, sock)
        await site.start()
        log.info("producer listening on %s:%s", settings.producer_host, sock.getsockname()[1])
        await stop.wait()
        log.info("stopping: finishing the current tick")
    finally:
        await runner.cleanup()


async def run_tick(settings: Settings, *, dry_run: bool) -> int:
    settings.require("database_url", *(() if dry_run else ("redis_url",)))
    # One connection per claiming lane, and one for marking enqueued runs while they claim.
    async with pool_context(
        settings.dsn, statement_cache=settings.statement_cache, max_size=settings.tick_connections + 1
    ) as pool:
        await require_current(pool)
        redis = None if dry_run else await connect_redis(settings.redis_dsn, **settings.redis_options)
        warning = None
        try:
            result = await tick(pool, redis, settings, dry_run=dry_run)
            if redis is not None and result.enqueued and not await has_consumer(redis, settings.queue_name):
                warning = no_consumer_warning(settings.queue_name, await queue_depth(redis, settings.queue_name))
        finally:
            if redis is not None:
                await redis.aclose()
    if dry_run:
        print(f"{result.claimed} schedule(s) due; nothing was changed")
        for run in result.planned:
            what = f"would enqueue {run.job_id}" if run.status == "queued" else f"would record {run.status}"
            extra = f" ({run.error})" if run.error else ""
            print(
                f"  schedule {run.schedule_id} fire {format_instant(run.fire_at)}: {what}"
                f" to {run.recipients} recipient(s){extra}"
            )
    else:
        print(
            f"{result.claimed} schedule(s) claimed, runs {dict(sorted(result.runs.items()))}, "
            f"{result.enqueued} job(s) enqueued"
        )
        if warning:
            print(warning)
    return 0


async def run_migrate(settings: Settings) -> int:
    applied = await migrate(settings.direct_dsn)
    print(f"applied migrations: {applied}" if applied else "schema is up to date")
    return 0


async def run_check(settings: Settings) -> int:
    """Print every invariant; exit 1 when one fails, so it can gate a deploy or page someone."""
    from producer import invariants

    settings.require("database_url", "redis_url")
    async with pool_context(settings.dsn, statement_cache=settings.statement_cache, max_size=2) as pool:
        await require_current(pool)
        redis = await connect_redis(settings.redis_dsn, **settings.redis_options)
        try:
            as_of = datetime.now(UTC)
            findings = await invariants.check(pool, redis, settings)
        finally:
            await redis.aclose()
    print(invariants.report(findings, as_of))
    return 1 if any(f.count for f in findings) else 0


async def run_rotate_credentials(settings: Settings) -> int:
    """Re-encrypt every stored channel credential with the first key of CREDENTIALS_KEYS, so older keys can be
    removed afterwards; rows that no configured key opens are reported and left as they are."""
    from cryptography.fernet import InvalidToken

    from producer import queries

    vault = settings.vault()
    rotated = unreadable = 0
    async with pool_context(settings.dsn, statement_cache=settings.statement_cache, max_size=2) as pool:
        await require_current(pool)
        for select, update in queries.ROTATE_CREDENTIALS:
            async with pool.acquire() as conn, conn.transaction():
                for row in await conn.fetch(select):
                    try:
                        token = vault.rotate(row["secret"])
                    except InvalidToken:
                        unreadable += 1
                        continue
                    await conn.execute(update, row["key"], token)
                    rotated += 1
    print(f"re-encrypted {rotated} credential(s) with the first key; {unreadable} opened with no configured key")
    return 1 if unreadable else 0


async def run_prune(settings: Settings) -> int:
    from producer import retention

    async with pool_context(settings.dsn, statement_cache=settings.statement_cache, max_size=2) as pool:
        await require_current(pool)
        result = await retention.prune(pool, settings)
    print(
        f"deleted {result.runs} run(s), {result.notifications} notification(s) and {result.dead_letters} replayed "
        f"dead letter(s) older than {settings.retention_days} days, {result.schedules} schedule(s) deleted that "
        f"long ago, {result.idempotency_keys} idempotency key(s) older than 24 hours, and {result.audit_rows} audit "
        f"row(s) older than {settings.audit_retention_days} days, in {result.seconds:.1f} s"
    )
    return 0
