"""Schedule writes that touch timing: pause/resume and edits recompute next_run_at from now."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from shared.cron import next_fire
from shared.db import Connection, Pool

_SET_ENABLED = """
UPDATE shared_report_schedules
SET enabled = $2, next_run_at = $3, updated_at = now()
WHERE id = $1 AND deleted_at IS NULL
"""

_SET_TIMING = """
UPDATE shared_report_schedules
SET cron_expression = $2, timezone = $3, next_run_at = $4, updated_at = now()
WHERE id = $1 AND deleted_at IS NULL
"""

_TIMING = "SELECT cron_expression, timezone FROM shared_report_schedules WHERE id = $1 FOR UPDATE"


async def _now(conn: Connection) -> datetime:
    value: datetime = await conn.fetchval("SELECT now()")
    return value


async def set_enabled(pool: Pool, schedule_id: UUID, enabled: bool) -> None:
    """Resuming starts from now: slots missed while paused are not backfilled."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(_TIMING, schedule_id)
        if row is None:
            return
        upcoming = next_fire(row["cron_expression"], row["timezone"], await _now(conn)) if enabled else None
        await conn.execute(_SET_ENABLED, schedule_id, enabled, upcoming)


async def set_timing(pool: Pool, schedule_id: UUID, cron_expression: str, timezone: str) -> datetime:
    async with pool.acquire() as conn, conn.transaction():
        upcoming = next_fire(cron_expression, timezone, await _now(conn))
        await conn.execute(_SET_TIMING, schedule_id, cron_expression, timezone, upcoming)
        return upcoming
