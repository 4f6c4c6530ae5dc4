"""`check` tells the truth at once: right after Redis restarts empty (a redis-server this test owns), queued
runs whose job vanished are counted with no grace, and again 0 once the sweep put them back; the sweep marks a
run enqueued when it finds its job there."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from arq.connections import ArqRedis

from producer import invariants
from producer.sweep import sweep
from producer.tick import tick
from shared.db import Pool
from shared.queue import connect
from shared.settings import Settings
from tests.support import seed
from tests.support.runs import FIRE, fire, make
from tests.support.servers import OwnRedis


@pytest.fixture
async def own_redis(tmp_path: Path) -> AsyncIterator[OwnRedis]:
    server = OwnRedis(tmp_path)
    server.start()
    yield server
    server.kill()


def _count(findings: list[invariants.Finding], name: str) -> int:
    [finding] = [f for f in findings if f.check == name]
    return finding.count


async def test_check_counts_lost_jobs_right_after_a_redis_restart(
    pool: Pool, settings: Settings, own_redis: OwnRedis
) -> None:
    # The default grace: it must not hide a run whose job is gone.
    s = settings.model_copy(update={"redis_url": own_redis.url, "sweep_grace_seconds": 60})
    redis: ArqRedis = await connect(own_redis.url)
    try:
        org = await seed.organization(pool)
        for i in range(3):
            link = await seed.shared_link(pool, org, slug=f"lost-{i}")
            schedule = await seed.schedule(pool, org, link, next_run_at=FIRE)
            await seed.recipient(pool, schedule, email=f"r{i}@example.com")
        await tick(pool, redis, s, now=FIRE)
        assert _count(await invariants.check(pool, redis, s), "queued_without_job") == 0
    finally:
        await redis.aclose()
    own_redis.kill()
    own_redis.start()  # empty: it keeps nothing on disk
    redis = await connect(own_redis.url)
    try:
        findings = await invariants.check(pool, redis, s)
        assert _count(findings, "queued_without_job") == 3
        text = invariants.report(findings)
        assert "FAIL queued_without_job: 3 queued runs whose job is not in Redis now" in text
        swept = await sweep(pool, redis, s)
        assert swept.requeued == 3, "runs known enqueued are put back without waiting the grace"
        assert _count(await invariants.check(pool, redis, s), "queued_without_job") == 0
    finally:
        await redis.aclose()


async def test_the_sweep_marks_enqueued_a_run_whose_job_it_finds(
    pool: Pool, redis: ArqRedis, settings: Settings
) -> None:
    await make(pool)
    run_id = await fire(pool, redis, settings)
    # Its producer died between the enqueue and the mark.
    await pool.execute("UPDATE shared_report_runs SET enqueued_at = NULL WHERE id = $1", run_id)
    swept = await sweep(pool, redis, settings, grace_seconds=0)
    assert swept.requeued == 0
    assert await pool.fetchval("SELECT enqueued_at IS NOT NULL FROM shared_report_runs WHERE id = $1", run_id)


async def test_a_marker_nobody_renews_is_counted_by_check_and_the_sweep(
    pool: Pool, redis: ArqRedis, settings: Settings
) -> None:
    s = settings.model_copy(update={"lease_seconds": 10})
    await make(pool)
    await fire(pool, redis, s)
    job_id = await pool.fetchval("SELECT job_id FROM shared_report_runs")
    # What a worker that died before its claim leaves: arq's marker, 5 s into its lease, and no holder key.
    await redis.set(f"arq:in-progress:{job_id}", b"1", px=5000)
    assert _count(await invariants.check(pool, redis, s), "queued_in_progress_no_worker") == 1
    assert (await sweep(pool, redis, s, grace_seconds=0)).held_by_no_worker == 1
    # A live worker renews its holder key beside the marker: nothing to report.
    await redis.set(f"arq:held:{job_id}", b"1", px=3000)
    assert _count(await invariants.check(pool, redis, s), "queued_in_progress_no_worker") == 0
    assert (await sweep(pool, redis, s, grace_seconds=0)).held_by_no_worker == 0
