"""The scheduler loop: sleep until the earliest due schedule (or the safety poll), wake on NOTIFY."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from arq.connections import ArqRedis

from producer import invariants, metrics, retention
from producer.sweep import sweep
from producer.tick import seconds_until_due, tick
from shared.db import DB_ERRORS, Connection, Pool, connect
from shared.errors import ReportsError
from shared.queue import has_consumer, no_consumer_warning, oldest_age_seconds, queue_depth
from shared.settings import Settings

log = logging.getLogger(__name__)
CHANNEL = "shared_report_schedules"
# Waking a hair after the due instant means the due check (next_run_at <= now()) already holds.
_WAKE_MARGIN = 0.002
_BACKOFF_FIRST = 1.0
_BACKOFF_MAX = 30.0
RECOVERABLE: tuple[type[BaseException], ...] = (ReportsError, *DB_ERRORS)


class SchedulerLoop:
    def __init__(self, settings: Settings, pool: Pool, redis: ArqRedis) -> None:
        self.settings = settings
        self.pool = pool
        self.redis = redis
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._listener: Connection | None = None
        self.last_tick_at: float | None = None
        self._next_sweep = 0.0
        self._next_prune = 0.0

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    def _on_notify(self, *_: Any) -> None:
        self._wake.set()

    async def _ensure_listener(self) -> None:
        if self._listener is not None and not self._listener.is_closed():
            return
        try:
            # LISTEN needs a session of its own: behind a transaction pooler, the direct URL.
            self._listener = await connect(self.settings.direct_dsn)
            await self._listener.add_listener(CHANNEL, self._on_notify)
        except RECOVERABLE as exc:
            self._listener = None
            log.warning("LISTEN unavailable, relying on the safety poll: %s", exc)

    async def _close_listener(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close()
            self._listener = None

    async def run_once(self) -> float:
        """One tick and sweep; returns how long to sleep before the next."""
        result = await tick(self.pool, self.redis, self.settings)
        self.last_tick_at = time.time()
        if result.claimed:
            log.info("tick claimed %d schedule(s), enqueued %d job(s)", result.claimed, result.enqueued)
        await self.sweep_if_due()
        await self.prune_if_due()
        depth = await queue_depth(self.redis, self.settings.queue_name)
        metrics.QUEUE_DEPTH.set(depth)
        metrics.QUEUE_OLDEST_AGE.set(await oldest_age_seconds(self.redis, self.settings.queue_name))
        consumers = await has_consumer(self.redis, self.settings.queue_name)
        metrics.CONSUMER_SEEN.set(1 if consumers else 0)
        if result.enqueued and not consumers:
            log.warning(no_consumer_warning(self.settings.queue_name, depth).removeprefix("warning: "))
        until = await seconds_until_due(self.pool)
        # Woken by the sweep interval too, so a lost worker's run comes back within lease + interval.
        poll = min(self.settings.tick_seconds, self._next_sweep - time.monotonic())
        return max(0.0, poll if until is None else min(poll, max(0.0, until + _WAKE_MARGIN)))

    async def prune_if_due(self) -> None:
        if time.monotonic() < self._next_prune:
            return
        # Set first: a failing prune is retried at the next interval, not on every tick.
        self._next_prune = time.monotonic() + self.settings.retention_interval_seconds
        await retention.prune(self.pool, self.settings)

    async def sweep_if_due(self) -> None:
        if time.monotonic() < self._next_sweep:
            return
        swept = await sweep(self.pool, self.redis, self.settings)
        # The sweep has just looked up every queued run's job: its count of lost ones is that check's figure,
        # so the other checks run without reading the queue a second time.
        await invariants.check(self.pool, None, self.settings)
        metrics.INVARIANTS.labels("queued_without_job").set(swept.lost)
        metrics.INVARIANTS.labels("queued_in_progress_no_worker").set(swept.held_by_no_worker)
        metrics.SWEEP_LAST.set(time.time())
        self._next_sweep = time.monotonic() + self.settings.sweep_interval_seconds

    async def run(self) -> None:
        log.info("scheduler started (safety poll every %.0f s)", self.settings.tick_seconds)
        backoff = _BACKOFF_FIRST
        try:
            while not self._stopping.is_set():
                await self._ensure_listener()
                # Clear before ticking so a NOTIFY that arrives during the tick is not lost.
                self._wake.clear()
                try:
                    delay = await self.run_once()
                    backoff = _BACKOFF_FIRST
                except Exception as exc:  # the loop outlives any one failed pass
                    kind = "dependency" if isinstance(exc, RECOVERABLE) else "unexpected"
                    metrics.ERRORS.labels(kind).inc()
                    if kind == "unexpected":
                        log.exception("tick failed unexpectedly, retrying in %.0f s", backoff)
                    else:
                        log.error("tick failed, retrying in %.0f s: %s", backoff, exc)
                    # NOTIFYs do not cut an error backoff short: a broken dependency is not hammered.
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stopping.wait(), timeout=backoff)
                    backoff = min(backoff * 2, _BACKOFF_MAX)
                    continue
                if delay > 0 and not self._stopping.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), timeout=delay)
        finally:
            await self._close_listener()
            log.info("scheduler stopped")
