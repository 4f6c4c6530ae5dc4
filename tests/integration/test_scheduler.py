"""The tick against real PostgreSQL and Redis: exactly once, recipients, misfire, sweep, timing."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest
from arq.connections import ArqRedis
from arq.constants import job_key_prefix

from producer.loop import SchedulerLoop
from producer.recipients import NO_RECIPIENTS
from producer.sweep import sweep
from producer.tick import tick
from shared import serializer
from shared.db import Pool
from shared.errors import QueueError
from shared.message import parse_message
from shared.queue import connect
from shared.settings import Settings
from tests.support import seed
from tests.support.servers import OwnRedis

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


async def _setup(pool: Pool, **columns: object) -> tuple[UUID, UUID, UUID]:
    org = await seed.organization(pool)
    link = await seed.shared_link(pool, org)
    sched = await seed.schedule(pool, org, link, next_run_at=columns.pop("next_run_at", T0), **columns)
    return org, link, sched


async def _runs(pool: Pool, sched: UUID) -> list[dict[str, object]]:
    rows = await pool.fetch(
        "SELECT fire_at, status, trigger, error, job_id, enqueued_at FROM shared_report_runs "
        "WHERE schedule_id = $1 ORDER BY fire_at",
        sched,
    )
    return [dict(r) for r in rows]


async def _queued_jobs(redis: ArqRedis, settings: Settings) -> list[str]:
    return [j.decode() for j in await redis.zrange(settings.queue_name, 0, -1)]


async def test_due_schedule_becomes_one_run_and_one_job(pool: Pool, redis: ArqRedis, settings: Settings) -> None:
    org, link, sched = await _setup(pool)
    await seed.recipient(pool, sched, email="a@example.com")
    await seed.recipient(pool, sched, chat=-1001)
    await pool.execute("UPDATE shared_report_schedules SET send_telegram = true WHERE id = $1", sched)

    result = await tick(pool, redis, settings, now=T0 + timedelta(seconds=5))
    again = await tick(pool, redis, settings, now=T0 + timedelta(seconds=6))

    assert (result.claimed, result.enqueued, again.claimed) == (1, 1, 0)
    runs = await _runs(pool, sched)
    assert len(runs) == 1 and runs[0]["status"] == "queued" and runs[0]["enqueued_at"] is not None
    job_id = f"shared_report:{sched}:{int(T0.timestamp())}"
    assert runs[0]["job_id"] == job_id
    assert await _queued_jobs(redis, settings) == [job_id]
    raw = serializer.loads(await redis.get(job_key_prefix + job_id))
    assert raw["f"] == "shared_report"
    message = parse_message(raw["a"][0])
    assert message.fire_at == T0 and message.trigger == "cron" and message.organization_id == org
    assert [r.channel for r in message.recipients] == ["email", "telegram"]
    row = await pool.fetchrow("SELECT next_run_at, last_run_status FROM shared_report_schedules WHERE id=$1", sched)
    assert row["next_run_at"] == T0 + timedelta(days=1) and row["last_run_status"] == "queued"


async def test_org_recipients_fill_in_and_no_recipients_fails_visibly(
    pool: Pool, redis: ArqRedis, settings: Settings
) -> None:
    org, link, with_org = await _setup(pool)
    user = await seed.user(pool, "owner@example.com", org)
    await pool.execute(
        "INSERT INTO organization_notification_email_recipients (organization_id, user_id) VALUES ($1, $2)",
        org,
        user,
    )
    org2 = await seed.organization(pool)
    link2 = await seed.shared_link(pool, org2)
    lonely = await seed.schedule(pool, org2, link2, next_run_at=T0)

    await tick(pool, redis, settings, now=T0)

    [ok] = await _runs(pool, with_org)
    raw = serializer.loads(await redis.get(job_key_prefix + ok["job_id"]))
    assert raw["a"][0]["recipients"] == [{"channel": "email", "user_id": str(user), "email": "owner@example.com"}]
    [failed] = await _runs(pool, lonely)
    assert failed["status"] == "failed" and failed["error"] == NO_RECIPIENTS and failed["job_id"] is None
    assert await pool.fetchval("SELECT last_run_status FROM shared_report_schedules WHERE id=$1", lonely) == "failed"


@pytest.mark.parametrize(
    ("policy", "cron", "queued", "skipped"),
    [
        ("fire_once", "0 * * * *", 1, 0),
        ("skip", "0 * * * *", 1, 72),
        ("fire_all", "0 * * * *", 73, 0),
        ("fire_all", "*/15 * * * *", 100, 189),
    ],
)
async def test_misfire_after_three_day_outage(
    pool: Pool, redis: ArqRedis, settings: Settings, policy: str, cron: str, queued: int, skipped: int
) -> None:
    org, link, sched = await _setup(pool, cron=cron, misfire_policy=policy, misfire_grace_seconds=3600)
    await seed.recipient(pool, sched, email="a@example.com")
    now = T0 + timedelta(days=3, minutes=10)

    result = await tick(pool, redis, settings, now=now)

    runs = await _runs(pool, sched)
    assert sum(r["status"] == "queued" for r in runs) == queued == result.enqueued
    assert sum(r["status"] == "skipped" for r in runs) == skipped
    assert len(await _queued_jobs(redis, settings)) == queued
    latest = max(r["fire_at"] for r in runs)
    assert latest == T0 + timedelta(days=3)  # the latest missed slot always fires or is recorded
    if policy == "fire_once":
        assert runs[0]["fire_at"] == T0 + timedelta(days=3)
    if policy == "fire_all":
        fired = [r["fire_at"] for r in runs if r["status"] == "queued"]
        assert fired == sorted(fired) and fired[-1] == T0 + timedelta(days=3)
    nxt = await pool.fetchval("SELECT next_run_at FROM shared_report_schedules WHERE id=$1", sched)
    assert nxt > now


async def test_late_within_grace_is_a_normal_fire(pool: Pool, redis: ArqRedis, settings: Settings) -> None:
    _, _, sched = await _setup(pool, misfire_policy="skip", misfire_grace_seconds=600)
    await seed.recipient(pool, sched, email="a@example.com")
    await tick(pool, redis, settings, now=T0 + timedelta(seconds=599))
    assert [r["status"] for r in await _runs(pool, sched)] == ["queued"]


async def test_crash_between_commit_and_enqueue_is_recovered_by_the_sweep(
    pool: Pool, redis: ArqRedis, settings: Settings
) -> None:
    _, _, sched = await _setup(pool)
    await seed.recipient(pool, sched, email="a@example.com")

    def crash() -> None:
        raise RuntimeError("injected crash after commit")

    with pytest.raises(RuntimeError, match="injected"):
        await tick(pool, redis, settings, now=T0, after_commit=crash)
    [run] = await _runs(pool, sched)
    assert run["status"] == "queued" and run["enqueued_at"] is None
    assert await _queued_jobs(redis, settings) == []

    assert await tick(pool, redis, settings, now=T0) == await tick(pool, redis, settings, now=T0)  # nothing due
    assert (await sweep(pool, redis, settings, grace_seconds=0)).requeued == 1
    assert (await sweep(pool, redis, settings, grace_seconds=0)).requeued == 0
    assert await _queued_jobs(redis, settings) == [run["job_id"]]
    [run] = await _runs(pool, sched)
    assert run["enqueued_at"] is not None

    # A job that vanished from Redis (e.g. a flushed or failed-over Redis) is put back once.
    await redis.flushdb()
    assert (await sweep(pool, redis, settings, grace_seconds=0)).requeued == 1
    assert await _queued_jobs(redis, settings) == [run["job_id"]]


async def test_dry_run_changes_nothing(pool: Pool, redis: ArqRedis, settings: Settings) -> None:
    _, _, sched = await _setup(pool)
    await seed.recipient(pool, sched, email="a@example.com")
    result = await tick(pool, None, settings, now=T0, dry_run=True)
    assert result.claimed == 1 and result.planned[0].job_id is not None
    assert await _runs(pool, sched) == []
    assert await pool.fetchval("SELECT next_run_at FROM shared_report_schedules WHERE id=$1", sched) == T0


async def test_jitter_defers_deterministically_and_keeps_nominal_fire(
    pool: Pool, redis: ArqRedis, settings: Settings
) -> None:
    _, _, sched = await _setup(pool, jitter_seconds=600, next_run_at=datetime.now(UTC) + timedelta(seconds=1))
    await seed.recipient(pool, sched, email="a@example.com")
    fire = await pool.fetchval("SELECT next_run_at FROM shared_report_schedules WHERE id=$1", sched)
    await tick(pool, redis, settings, now=fire)
    row = await pool.fetchrow("SELECT fire_at, defer_until FROM shared_report_runs WHERE schedule_id=$1", sched)
    assert row["fire_at"] == fire
    assert fire <= row["defer_until"] < fire + timedelta(seconds=600)
    score = await redis.zscore(settings.queue_name, f"shared_report:{sched}:{int(fire.timestamp())}")
    assert abs(score / 1000 - row["defer_until"].timestamp()) < 0.01


async def test_loop_wakes_on_notify_and_enqueues_within_a_second(
    pool: Pool, redis: ArqRedis, settings: Settings
) -> None:
    scheduler = SchedulerLoop(settings, pool, redis)
    task = asyncio.create_task(scheduler.run())
    try:
        await asyncio.sleep(0.5)  # asleep: nothing is scheduled, the safety poll is 300 s away
        due = datetime.now(UTC) + timedelta(seconds=1)
        _, _, sched = await _setup(pool, next_run_at=due)
        await seed.recipient(pool, sched, email="a@example.com")
        deadline = time.monotonic() + 5
        enqueued = None
        while time.monotonic() < deadline and enqueued is None:
            await asyncio.sleep(0.05)
            enqueued = await pool.fetchval("SELECT enqueued_at FROM shared_report_runs WHERE schedule_id = $1", sched)
        assert enqueued is not None
        assert (enqueued - due).total_seconds() < 1.0
    finally:
        scheduler.stop()
        await task


@pytest.mark.parametrize("connections", [1, 2])
async def test_redis_killed_mid_tick_loses_no_fire_and_enqueues_none_twice(
    pool: Pool, settings: Settings, tmp_path: Path, connections: int
) -> None:
    """Batches are enqueued while the next is claimed, by one lane or by several side by side: a Redis that dies
    between them leaves committed runs queued without a job, and the sweep against the restarted (empty) Redis
    puts each back exactly once."""
    org = await seed.organization(pool)
    link = await seed.shared_link(pool, org)
    await pool.execute(
        "INSERT INTO organization_notification_email_recipients (organization_id, email) VALUES ($1, 'a@example.com')",
        org,
    )
    schedules = [await seed.schedule(pool, org, link, next_run_at=T0) for _ in range(30)]
    own = OwnRedis(tmp_path)
    own.start()
    try:
        small = settings.model_copy(
            update={"redis_url": own.url, "tick_batch_size": 5, "tick_connections": connections}
        )
        redis = await connect(own.url)
        commits = 0

        def kill_after_two_batches() -> None:
            nonlocal commits
            commits += 1
            if commits == 3:
                own.kill()

        with pytest.raises(QueueError, match="enqueue failed"):
            await tick(pool, redis, small, now=T0, after_commit=kill_after_two_batches)
        await redis.aclose()
        runs = await pool.fetch("SELECT schedule_id, job_id, status FROM shared_report_runs")
        # A lane sees its failed enqueue once its next batch has committed (or before, if the batch in flight
        # when Redis died failed): one lane stops after 3 or 4 batches of 5; two lanes may each commit one or two
        # batches after the kill.
        assert len(runs) in ((15, 20) if connections == 1 else (15, 20, 25, 30))
        assert all(r["status"] == "queued" for r in runs)
        assert len({r["schedule_id"] for r in runs}) == len(runs)

        own.start()  # empty: whatever was enqueued before the kill is gone too
        redis = await connect(own.url)
        try:
            assert (await sweep(pool, redis, small, grace_seconds=0)).requeued == len(runs)
            rest = await tick(pool, redis, small, now=T0)
            assert rest.claimed == 30 - len(runs) and rest.enqueued == rest.claimed
            assert (await sweep(pool, redis, small, grace_seconds=0)).requeued == 0
            jobs = await redis.zrange(small.queue_name, 0, -1)
        finally:
            await redis.aclose()
    finally:
        own.kill()
    final = await pool.fetch("SELECT schedule_id, job_id, enqueued_at FROM shared_report_runs")
    assert sorted(r["schedule_id"] for r in final) == sorted(schedules)  # one run per fire, none lost
    assert sorted(j.decode() for j in jobs) == sorted(r["job_id"] for r in final)  # one job per run
    assert all(r["enqueued_at"] is not None for r in final)
