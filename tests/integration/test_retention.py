"""Retention deletes old runs, their delivery log and replayed dead letters in batches, and keeps what is
still needed: young runs, replay chains, letters not yet replayed, the file each schedule's fires last sent."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from uuid import UUID

from producer.retention import prune
from shared.db import Pool
from shared.settings import Settings
from tests.support import seed

NOW = datetime(2026, 12, 1, tzinfo=UTC)
OLD = NOW - timedelta(days=120)


async def _runs(pool: Pool, schedule: UUID, count: int, finished: datetime, status: str = "sent") -> list[UUID]:
    rows = await pool.fetch(
        "INSERT INTO shared_report_runs (schedule_id, fire_at, trigger, status, finished_at, created_at)"
        " SELECT $1, $2::timestamptz + g * interval '1 minute', 'manual', $3, $2::timestamptz + g * interval '1 minute',"
        "        $2::timestamptz + g * interval '1 minute'"
        " FROM generate_series(1, $4) g RETURNING id",
        schedule,
        finished,
        status,
        count,
    )
    ids = [r["id"] for r in rows]
    await pool.execute(
        "INSERT INTO shared_report_notifications (schedule_id, run_id, channel, recipient, status)"
        " SELECT $1, id, 'email', 'a@example.com', 'sent' FROM unnest($2::uuid[]) AS id",
        schedule,
        ids,
    )
    return ids


async def test_prune_in_batches_keeps_what_is_still_needed(pool: Pool, settings: Settings) -> None:
    org = await seed.organization(pool)
    link = await seed.shared_link(pool, org)
    sched = await seed.schedule(pool, org, link, next_run_at=NOW)
    old = await _runs(pool, sched, 2_500, OLD)
    young = await _runs(pool, sched, 10, NOW - timedelta(days=5))
    # An old run replayed recently: the chain still needs the original.
    await pool.execute(
        "INSERT INTO shared_report_runs (schedule_id, fire_at, trigger, status, origin_run_id, finished_at)"
        " VALUES ($1, $2, 'replay', 'sent', $3, $2)",
        sched,
        NOW - timedelta(days=1),
        old[0],
    )
    # An old dead run whose letter nobody replayed yet, and one replayed long ago.
    [waiting] = await _runs(pool, sched, 1, OLD, "dead")
    [replayed] = await _runs(pool, sched, 1, OLD, "dead")
    for run_id, replayed_at in ((waiting, None), (replayed, OLD)):
        await pool.execute(
            "INSERT INTO shared_report_dead_letters (run_id, organization_id, job_id, payload, error, replayed_at)"
            " VALUES ($1, $2, 'j', '{}', 'e', $3)",
            run_id,
            org,
            replayed_at,
        )
    # A schedule whose runs are all old: the file its own fires last sent is kept (only_if_changed compares
    # with it); a later test run is not that baseline and goes.
    lonely = await seed.schedule(pool, org, link, next_run_at=NOW)
    [latest] = await _runs(pool, lonely, 1, OLD)
    await pool.execute("UPDATE shared_report_runs SET trigger = 'cron', content_sha256 = 'f00d' WHERE id = $1", latest)
    [test_run] = await _runs(pool, lonely, 1, OLD + timedelta(hours=1))

    result = await prune(pool, settings.model_copy(update={"retention_batch_size": 1000}), now=NOW)

    # Every old run but the chained one, plus the replayed dead run and the lonely schedule's test run.
    assert result.runs == 2_500 - 1 + 1 + 1
    assert result.notifications == result.runs and result.dead_letters == 1
    left = {r["id"] for r in await pool.fetch("SELECT id FROM shared_report_runs")}
    assert set(young) <= left and {old[0], waiting, latest} <= left
    assert not (set(old[1:]) | {replayed, test_run}) & left
    assert await pool.fetchval("SELECT count(*) FROM shared_report_dead_letters") == 1
    orphans = "SELECT count(*) FROM shared_report_notifications n WHERE NOT EXISTS (SELECT 1 FROM shared_report_runs r WHERE r.id = n.run_id)"
    assert await pool.fetchval(orphans) == 0
    again = await prune(pool, settings, now=NOW)
    assert (again.runs, again.dead_letters) == (0, 0)


async def test_prune_skips_rows_others_hold_instead_of_waiting(pool: Pool, settings: Settings) -> None:
    org = await seed.organization(pool)
    link = await seed.shared_link(pool, org)
    sched = await seed.schedule(pool, org, link, next_run_at=NOW)
    old = await _runs(pool, sched, 20, OLD)
    await _runs(pool, sched, 1, NOW)
    async with pool.acquire() as holder, holder.transaction():
        # A worker (or a replay) holds one old run.
        await holder.execute("SELECT 1 FROM shared_report_runs WHERE id = $1 FOR UPDATE", old[3])
        result = await asyncio.wait_for(prune(pool, settings, now=NOW), 10)
    assert result.runs == 19
    assert await pool.fetchval("SELECT count(*) FROM shared_report_runs WHERE id = $1", old[3]) == 1
