"""Runs made by real producer and consumer processes, seen from the database: schedules due now or fired as cron
fires them, waiting until runs are final, and what each recipient got."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from arq.connections import ArqRedis

from producer.tick import tick
from shared.db import Pool
from shared.settings import Settings
from tests.support import seed
from tests.support.waiting import wait_for

FINAL = ("sent", "partial", "failed", "skipped", "dead")


async def due(pool: Pool, org: UUID, name: str, **columns: Any) -> UUID:
    link = await seed.shared_link(pool, org, slug=name)
    return await seed.schedule(
        pool, org, link, name=name, next_run_at=datetime.now(UTC) - timedelta(seconds=1), send_email=False, **columns
    )


async def finished(pool: Pool, schedule_id: UUID, runs: int = 1, timeout: float = 60) -> list[dict[str, Any]]:
    async def done() -> bool:
        count = await pool.fetchval(
            "SELECT count(*) FROM shared_report_runs WHERE schedule_id = $1 AND status = ANY($2::text[])",
            schedule_id,
            list(FINAL),
        )
        return bool(count >= runs)

    await wait_for(done, timeout, interval=0.1)
    rows = await pool.fetch("SELECT * FROM shared_report_runs WHERE schedule_id = $1 ORDER BY created_at", schedule_id)
    return [dict(r) for r in rows]


async def outcomes(pool: Pool, run_id: UUID) -> dict[str, dict[str, Any]]:
    rows = await pool.fetch(
        "SELECT DISTINCT ON (recipient) recipient, status, payload FROM shared_report_notifications"
        " WHERE run_id = $1 ORDER BY recipient, created_at DESC",
        run_id,
    )
    return {r["recipient"]: {"status": r["status"], **r["payload"]} for r in rows}


async def final_run(pool: Pool, run_id: UUID | str) -> dict[str, Any]:
    """The run's row once its status is final (at most 30 s)."""

    async def done() -> bool:
        status = await pool.fetchval("SELECT status FROM shared_report_runs WHERE id = $1", UUID(str(run_id)))
        return status in FINAL

    try:
        await wait_for(done, 30, interval=0.1)
    except AssertionError:
        rows = await pool.fetch("SELECT id, trigger, status, error, fire_at, created_at FROM shared_report_runs")
        raise AssertionError(f"run {run_id} not final: {[dict(r) for r in rows]}") from None
    return dict(await pool.fetchrow("SELECT * FROM shared_report_runs WHERE id = $1", UUID(str(run_id))))


async def cron_fire(pool: Pool, redis: ArqRedis, settings: Settings, schedule_id: str, seconds_ago: int) -> UUID:
    """The schedule fired by the scheduler `seconds_ago` seconds ago, as its cron would; returns the new run."""
    # Fires a few seconds apart, as a schedule's are: a cron run's job id is its second.
    now = await pool.fetchval("SELECT now() - make_interval(secs => $1)", seconds_ago)
    await pool.execute("UPDATE shared_report_schedules SET next_run_at = $1 WHERE id = $2", now, UUID(schedule_id))
    await tick(pool, redis, settings, now=now)
    run_id: UUID = await pool.fetchval(
        "SELECT id FROM shared_report_runs WHERE trigger = 'cron' ORDER BY created_at DESC LIMIT 1"
    )
    return run_id
