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

from producer import metrics
from shared.db import Pool
from shared.settings import Settings

log = logging.getLogger(__name__)

PRUNE_RUNS = """
WITH doomed AS (
    SELECT r.id FROM shared_report_runs r
    WHERE r.status IN ('sent', 'partial', 'failed', 'skipped', 'dead') AND r.finished_at < $1
      AND NOT EXISTS (SELECT 1 FROM shared_report_runs x
                      WHERE x.origin_run_id = r.id AND (x.finished_at IS NULL OR x.finished_at >= $1))
      AND NOT EXISTS (SELECT 1 FROM shared_report_dead_letters d WHERE d.run_id = r.id AND d.replayed_at IS NULL)
      AND r.id IS DISTINCT FROM (SELECT l.id FROM shared_report_runs l
                                 WHERE l.schedule_id = r.schedule_id AND l.trigger = 'cron'
                                   AND l.status IN ('sent', 'partial') AND l.content_sha256 IS NOT NULL
                                 ORDER BY l.finished_at DESC LIMIT 1)
    ORDER BY r.finished_at
    LIMIT $2
    FOR UPDATE OF r SKIP LOCKED
), gone AS (
    DELETE FROM shared_report_runs r USING doomed WHERE r.id = doomed.id RETURNING r.id
)
SELECT count(*) FROM gone
"""

NOTIFICATIONS_OF = """
SELECT count(*) FROM shared_report_notifications n
JOIN shared_report_runs r ON r.id = n.run_id
WHERE r.status IN ('sent', 'partial', 'failed', 'skipped', 'dead') AND r.finished_at < $1
"""


def _prune_older(table: str, column: str, key: str = "id") -> str:
    """One batch of `table` rows whose `column` is before $1, at most $2, skipping rows others hold."""
    return f"""
WITH doomed AS (
    SELECT {key} FROM {table} WHERE {column} < $1 ORDER BY {column} LIMIT $2
    FOR UPDATE SKIP LOCKED
), gone AS (
    DELETE FROM {table} t USING doomed WHERE t.{key} = doomed.{key} RETURNING 1
)
SELECT count(*) FROM gone
"""


PRUNE_DEAD_LETTERS = _prune_older("shared_report_dead_letters", "replayed_at")
# A deleted schedule stays readable and restorable for RETENTION_DAYS; then it goes, with its runs.
PRUNE_SCHEDULES = _prune_older("shared_report_schedules", "deleted_at")
# Idempotency keys answer for 24 hours; after that they are only rows. The row's own address is its key here,
# held by the lock until the delete.
PRUNE_IDEMPOTENCY_KEYS = _prune_older("shared_report_idempotency_keys", "created_at", "ctid")
IDEMPOTENCY_HOURS = 24

# Audit rows older than AUDIT_RETENTION_DAYS; nothing else refers to them.
PRUNE_AUDIT = _prune_older("shared_report_audit_log", "created_at")


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
    current: datetime = now or await pool.fetchval("SELECT now()")
    cutoff = current - timedelta(days=settings.retention_days)
    batch, budget = settings.retention_batch_size, settings.retention_budget_seconds
    before = int(await pool.fetchval(NOTIFICATIONS_OF, cutoff))
    runs = await _batches(pool, PRUNE_RUNS, cutoff, batch, budget)
    notifications = before - int(await pool.fetchval(NOTIFICATIONS_OF, cutoff))
    letters = await _batches(pool, PRUNE_DEAD_LETTERS, cutoff, batch, budget)
    expired = current - timedelta(hours=IDEMPOTENCY_HOURS)
    keys = await _batches(pool, PRUNE_IDEMPOTENCY_KEYS, expired, batch, budget)
    schedules = await _batches(pool, PRUNE_SCHEDULES, cutoff, batch, budget)
    audit_cutoff = current - timedelta(days=settings.audit_retention_days)
    audit_rows = await _batches(pool, PRUNE_AUDIT, audit_cutoff, batch, budget)
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
