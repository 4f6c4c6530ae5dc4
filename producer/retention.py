"""Retention: old runs (with their per-recipient log) and replayed dead letters are deleted, in small batches.

Each batch is one short statement that skips rows someone else holds, so pruning never waits on or blocks
the scheduler, a worker or a replay. What is kept whatever its age: a run whose replay is younger than the
cutoff (the replay chain still needs it to know who was served), a run with a dead letter not yet replayed,
and the file each schedule's own fires last sent (only_if_changed compares with it).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from producer import metrics, queries
from producer.clock import db_now
from shared.db import Pool
from shared.settings import Settings

log = logging.getLogger(__name__)

# Idempotency keys answer for 24 hours; after that they are only rows.
IDEMPOTENCY_HOURS = 24


@dataclass(frozen=True)
class Pruned:
    runs: int
    notifications: int
    dead_letters: int
    seconds: float
    idempotency_keys: int = 0
    schedules: int = 0
    audit_rows: int = 0


async def _batches(pool: Pool, sql: str, cutoff: datetime, batch: int, budget: float) -> int:
    total, started = 0, time.monotonic()
    while time.monotonic() - started < budget:
        deleted = int(await pool.fetchval(sql, cutoff, batch))
        total += deleted
        if deleted < batch:
            break
    return total


async def prune(pool: Pool, settings: Settings, now: datetime | None = None) -> Pruned:
    """Delete what is older than RETENTION_DAYS; stops after RETENTION_BUDGET_SECONDS, the rest waits."""
    started = time.monotonic()
    current: datetime = now or await db_now(pool)
    cutoff = current - timedelta(days=settings.retention_days)
    batch, budget = settings.retention_batch_size, settings.retention_budget_seconds
    before = int(await pool.fetchval(queries.NOTIFICATIONS_OF, cutoff))
    runs = await _batches(pool, queries.PRUNE_RUNS, cutoff, batch, budget)
    notifications = before - int(await pool.fetchval(queries.NOTIFICATIONS_OF, cutoff))
    letters = await _batches(pool, queries.PRUNE_DEAD_LETTERS, cutoff, batch, budget)
    expired = current - timedelta(hours=IDEMPOTENCY_HOURS)
    keys = await _batches(pool, queries.PRUNE_IDEMPOTENCY_KEYS, expired, batch, budget)
    schedules = await _batches(pool, queries.PRUNE_SCHEDULES, cutoff, batch, budget)
    audit_cutoff = current - timedelta(days=settings.audit_retention_days)
    audit_rows = await _batches(pool, queries.PRUNE_AUDIT, audit_cutoff, batch, budget)
    result = Pruned(runs, notifications, letters, time.monotonic() - started, keys, schedules, audit_rows)
    metrics.PRUNED.labels("audit_log").inc(audit_rows)
    metrics.PRUNED.labels("idempotency_keys").inc(keys)
    metrics.PRUNED.labels("schedules").inc(schedules)
    metrics.PRUNED.labels("runs").inc(runs)
    metrics.PRUNED.labels("notifications").inc(notifications)
    metrics.PRUNED.labels("dead_letters").inc(letters)
    if runs or letters:
        log.info(
            "retention: deleted %d run(s), %d notification(s), %d replayed dead letter(s) older than %d days",
            runs,
            notifications,
            letters,
            settings.retention_days,
        )
    return result
