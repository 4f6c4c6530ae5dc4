"""Four producer processes ticking at once over 5,000 due schedules: each fire exactly once."""

from __future__ import annotations

import asyncio

from arq.connections import ArqRedis

from shared.db import Pool
from shared.settings import Settings
from tests.support import seed
from tests.support.processes import env_for, run_module

SCHEDULES = 5000


async def test_four_producers_enqueue_each_due_schedule_exactly_once(
    pool: Pool, redis: ArqRedis, settings: Settings
) -> None:
    org = await seed.organization(pool)
    link = await seed.shared_link(pool, org)
    await pool.execute(
        "INSERT INTO organization_notification_email_recipients (organization_id, email) VALUES ($1, $2)",
        org,
        "team@example.com",
    )
    await pool.execute(
        "INSERT INTO shared_report_schedules (organization_id, shared_link_id, name, cadence, cron_expression, "
        "next_run_at) SELECT $1, $2, 'r' || g, 'custom', '0 9 * * *', now() - interval '1 minute' "
        "FROM generate_series(1, $3) g",
        org,
        link,
        SCHEDULES,
    )
    env = env_for(settings, TICK_BATCH_SIZE="200")
    results = await asyncio.gather(*(run_module("producer", "tick", "--once", env=env, timeout=90) for _ in range(4)))
    for code, output in results:
        assert code == 0, output

    runs = await pool.fetchrow(
        "SELECT count(*) AS n, count(DISTINCT (schedule_id, fire_at)) AS distinct_fires, "
        "count(DISTINCT job_id) AS jobs, count(*) FILTER (WHERE enqueued_at IS NULL) AS unenqueued "
        "FROM shared_report_runs"
    )
    assert dict(runs) == {"n": SCHEDULES, "distinct_fires": SCHEDULES, "jobs": SCHEDULES, "unenqueued": 0}
    assert await redis.zcard(settings.queue_name) == SCHEDULES
    claimed = [int(out.split(" schedule(s) claimed")[0].split()[-1]) for _, out in results]
    print("claims per process:", claimed)
    assert sum(claimed) == SCHEDULES
