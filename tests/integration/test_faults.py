"""Fault paths of the job and the sweep, in-process against real PostgreSQL, Redis and arq."""

from __future__ import annotations

import asyncio
import pickle
import time
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import orjson
import pytest
from arq.connections import ArqRedis
from arq.constants import in_progress_key_prefix, job_key_prefix
from arq.jobs import serialize_job
from prometheus_client import REGISTRY

import consumer.pipeline
from producer.loop import SchedulerLoop
from producer.sweep import sweep
from shared import deadletters, serializer
from shared.db import Pool
from shared.errors import DatabaseError
from shared.message import FUNCTION_NAME
from shared.settings import Settings
from tests.support.harness import Fakes, drain, point_at
from tests.support.runs import fire, make, run_row
from tests.support.waiting import wait_for


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def push(redis: ArqRedis, queue: str, job_id: str, data: bytes | None) -> None:
    if data is not None:
        await redis.set(job_key_prefix + job_id, data)
    await redis.zadd(queue, {job_id: 1})  # arq skips a score of 0 as "finished"


def arq_job(function: str, args: list[Any], kwargs: dict[str, Any]) -> bytes:
    return serialize_job(function, tuple(args), kwargs, None, 0, serializer=serializer.dumps)


async def test_every_poison_entry_is_dead_lettered_bounded_and_mails_nobody(
    pool: Pool, redis: ArqRedis, settings: Settings, fx: Fakes, tmp_path: Path
) -> None:
    s = point_at(settings, fx)
    _, sched = await make(pool)
    real = {"v": 1, "schedule_id": str(sched), "run_id": str(uuid4())}  # names a real schedule, but invalid
    huge = {"v": 1, "blob": "x" * 14_600_000}
    entries: dict[str, bytes | None] = {
        "pickle": pickle.dumps({"f": FUNCTION_NAME, "a": [{}], "k": {}, "t": None, "et": 0}),
        "not-json": b"\xff\xfe\x00garbage",
        "json-not-job": b'{"hello": 1}',
        "json-list": b"[1, 2, 3]",
        "unknown-function": arq_job("drop_tables", [{}], {}),
        "unexpected-kwarg": arq_job(FUNCTION_NAME, [real], {"extra": 1}),
        "two-args": arq_job(FUNCTION_NAME, [real, real], {}),
        "no-job-data": None,
        "invalid-message": arq_job(FUNCTION_NAME, [{"v": 1}], {}),
        "not-a-mapping": arq_job(FUNCTION_NAME, ["just text"], {}),
        "huge": arq_job(FUNCTION_NAME, [huge], {}),
        "real-schedule-invalid": arq_job(FUNCTION_NAME, [real], {}),
        "nul-in-payload": arq_job(FUNCTION_NAME, [{"v": "\x00"}], {}),
    }
    before = metric("scheduled_reports_dead_letters_total")
    for job_id, data in entries.items():
        await push(redis, s.queue_name, job_id, data)
    await drain(s, pool, redis, tmp_path)

    rows = {r["job_id"]: r for r in await pool.fetch("SELECT * FROM shared_report_dead_letters")}
    assert set(rows) == set(entries), set(entries) - set(rows)
    assert all(r["poison"] for r in rows.values())
    assert metric("scheduled_reports_dead_letters_total") - before == len(entries)
    assert "pickle" in rows["pickle"]["error"] and "drop_tables" in rows["unknown-function"]["error"]
    assert "no job data" in rows["no-job-data"]["error"] and "keywords extra" in rows["unexpected-kwarg"]["error"]
    # The 14.6 MB entry keeps its head and its size, nothing more.
    big = rows["huge"]
    assert big["payload_bytes"] > 14_600_000
    assert len(orjson.dumps(big["payload"])) <= deadletters.PAYLOAD_HEAD_BYTES + 1024
    largest = await pool.fetchval("SELECT max(pg_column_size(payload)) FROM shared_report_dead_letters")
    assert largest <= deadletters.PAYLOAD_HEAD_BYTES + 1024
    assert not fx.loops.received, "a message that failed validation mails no one"
    assert await redis.zcard(s.queue_name) == 0


async def test_an_unexpected_exception_retries_then_dead_letters_with_one_notice(
    pool: Pool, redis: ArqRedis, settings: Settings, fx: Fakes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = point_at(settings, fx, max_tries=3)

    async def broken(*_: Any, **__: Any) -> Any:
        raise ValueError("unexpected column shape")

    monkeypatch.setattr(consumer.pipeline, "export_files", broken)
    await make(pool)
    run_id = await fire(pool, redis, s)
    await drain(s, pool, redis, tmp_path)
    run = await run_row(pool, run_id)
    assert (run["status"], run["attempts"]) == ("dead", 3)
    assert "unexpected column shape" in run["error"] and run["lease_token"] is None
    letter = await pool.fetchrow("SELECT error, poison FROM shared_report_dead_letters WHERE run_id = $1", run_id)
    assert letter["error"] == "retries exhausted: unexpected column shape" and not letter["poison"]
    [notice] = fx.loops.received
    assert notice["email"] == "creator@example.com" and notice["dataVariables"]["status"] == "dead"
    assert "unexpected column shape" in notice["dataVariables"]["note"]


async def test_an_unexpected_exception_once_then_success(
    pool: Pool, redis: ArqRedis, settings: Settings, fx: Fakes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = point_at(settings, fx)
    real = consumer.pipeline.export_files
    calls: list[int] = []

    async def flaky(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise KeyError("first try only")
        return await real(*args, **kwargs)

    monkeypatch.setattr(consumer.pipeline, "export_files", flaky)
    await make(pool)
    run_id = await fire(pool, redis, s)
    await drain(s, pool, redis, tmp_path)
    run = await run_row(pool, run_id)
    assert (run["status"], run["attempts"]) == ("sent", 2)
    assert [r["email"] for r in fx.loops.received] == ["a@example.com"]


async def test_concurrent_replays_of_one_dead_letter_make_one_run(
    pool: Pool, redis: ArqRedis, settings: Settings, fx: Fakes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = point_at(settings, fx, max_tries=1)
    real = consumer.pipeline.export_files

    async def broken(*_: Any, **__: Any) -> Any:
        raise ValueError("down")

    monkeypatch.setattr(consumer.pipeline, "export_files", broken)
    await make(pool, chats=(7,))
    run_id = await fire(pool, redis, s)
    await drain(s, pool, redis, tmp_path)
    dead_id = await pool.fetchval("SELECT id FROM shared_report_dead_letters WHERE run_id = $1", run_id)
    monkeypatch.setattr(consumer.pipeline, "export_files", real)

    results = await asyncio.gather(
        *(deadletters.replay(pool, redis, s.queue_name, dead_id) for _ in range(5)), return_exceptions=True
    )
    runs = [r for r in results if isinstance(r, UUID)]
    refused = [r for r in results if isinstance(r, deadletters.NotReplayable)]
    assert len(runs) == 1 and len(refused) == 4 and "already replayed" in str(refused[0])
    await drain(s, pool, redis, tmp_path)
    assert await pool.fetchval("SELECT count(*) FROM shared_report_runs WHERE trigger = 'replay'") == 1
    assert len(fx.telegram.documents(7)) == 1
    assert [r["email"] for r in fx.loops.received].count("a@example.com") == 1


async def test_sweep_recovers_ten_thousand_queued_runs_after_a_flush(
    pool: Pool, redis: ArqRedis, settings: Settings
) -> None:
    _, sched = await make(pool, videos=0)
    count = 10_000
    await pool.execute(
        """
        INSERT INTO shared_report_runs (schedule_id, fire_at, trigger, status, job_id, message, created_at,
                                        enqueued_at)
        SELECT $1, now(), 'manual', 'queued', 'manual:' || i, jsonb_build_object('v', 1, 'i', i),
               now() - interval '1 minute', CASE WHEN i % 2 = 0 THEN now() END
        FROM generate_series(1, $2) AS i
        """,
        sched,
        count,
    )
    await redis.flushdb()
    started = time.perf_counter()
    result = await sweep(pool, redis, settings, grace_seconds=0)
    seconds = time.perf_counter() - started
    assert result.requeued == count and result.lost == count
    assert await redis.zcard(settings.queue_name) == count
    assert await pool.fetchval("SELECT count(*) FROM shared_report_runs WHERE enqueued_at IS NULL") == 0
    assert (await sweep(pool, redis, settings, grace_seconds=0)).requeued == 0
    print(f"sweep: {count} lost jobs back in {seconds:.2f} s, pages of {settings.sweep_batch_size}")


async def test_a_run_with_an_expired_lease_is_taken_back_and_finished(
    pool: Pool, redis: ArqRedis, settings: Settings, fx: Fakes, tmp_path: Path
) -> None:
    s = point_at(settings, fx)
    await make(pool, chats=(5,))
    run_id = await fire(pool, redis, s)
    job_id = await pool.fetchval("SELECT job_id FROM shared_report_runs WHERE id = $1", run_id)
    # What a SIGKILLed worker leaves: the run running with a lapsed lease, arq's in-progress marker for 15 min.
    await pool.execute(
        "UPDATE shared_report_runs SET status = 'running', attempts = 1, lease_token = gen_random_uuid(), "
        "lease_expires_at = now() - interval '1 second' WHERE id = $1",
        run_id,
    )
    await redis.psetex(in_progress_key_prefix + job_id, 900_000, b"1")
    result = await sweep(pool, redis, s, grace_seconds=0)
    assert result.taken_back == 1
    assert (await run_row(pool, run_id))["status"] == "queued"
    assert not await redis.exists(in_progress_key_prefix + job_id)
    await drain(s, pool, redis, tmp_path)
    run = await run_row(pool, run_id)
    assert (run["status"], run["attempts"]) == ("sent", 2)
    assert len(fx.telegram.documents(5)) == 1


async def test_a_live_lease_keeps_a_second_worker_out(
    pool: Pool, redis: ArqRedis, settings: Settings, fx: Fakes, tmp_path: Path
) -> None:
    s = point_at(settings, fx)
    await make(pool)
    run_id = await fire(pool, redis, s)
    await pool.execute(
        "UPDATE shared_report_runs SET status = 'running', attempts = 1, lease_token = gen_random_uuid(), "
        "lease_expires_at = now() + interval '1 second' WHERE id = $1",
        run_id,
    )
    # The job waits for the lease instead of running beside its holder; once it lapses, it runs.
    await drain(s, pool, redis, tmp_path)
    run = await run_row(pool, run_id)
    assert (run["status"], run["attempts"]) == ("sent", 2)
    assert len(fx.loops.received) == 1


async def test_scheduler_backs_off_on_errors_even_when_notified(settings: Settings, pool: Pool) -> None:
    calls: list[float] = []

    class Failing(SchedulerLoop):
        async def run_once(self) -> float:
            calls.append(time.monotonic())
            raise DatabaseError("database unavailable")

    scheduler = Failing(settings, pool, None)  # type: ignore[arg-type]
    task = asyncio.create_task(scheduler.run())
    for _ in range(40):
        scheduler._on_notify()
        await asyncio.sleep(0.05)
    scheduler.stop()
    await task
    # 2 s of NOTIFYs every 50 ms: passes at 0, 1 and 3 s of backoff at most, never one per NOTIFY.
    assert 1 <= len(calls) <= 2, len(calls)


async def test_a_worker_that_loses_its_lease_stops_and_the_run_still_ends_once(
    pool: Pool, redis: ArqRedis, settings: Settings, fx: Fakes, tmp_path: Path
) -> None:
    """Mid-run, the lease passes to another holder (as after a sweep takeover): the worker stops sending."""
    s = point_at(settings, fx, lease_seconds=1.5, delivery_concurrency=1)
    fx.telegram.upload_delay = 0.3
    chats = tuple(range(41, 49))
    await make(pool, chats=chats)
    run_id = await fire(pool, redis, s)
    before = metric("scheduled_reports_leases_lost_total")

    async def one_sent() -> bool:
        return bool(fx.telegram.documents())

    async def take_over() -> None:
        await wait_for(one_sent, 30)
        # Another holder for 2 s: the renewal finds a token that is not its own.
        await pool.execute(
            "UPDATE shared_report_runs SET lease_token = gen_random_uuid(), "
            "lease_expires_at = now() + interval '2 seconds' WHERE id = $1",
            run_id,
        )

    thief = asyncio.create_task(take_over())
    await drain(s, pool, redis, tmp_path)
    await thief
    run = await run_row(pool, run_id)
    assert run["status"] == "sent" and run["attempts"] == 2
    assert metric("scheduled_reports_leases_lost_total") - before == 1
    per_chat = {c: len(fx.telegram.documents(c)) for c in chats}
    duplicates = sum(n - 1 for n in per_chat.values())
    unconfirmed = await pool.fetchval(
        "SELECT count(*) FROM shared_report_notifications WHERE run_id = $1 AND status = 'unconfirmed'", run_id
    )
    assert all(per_chat.values()) and duplicates <= unconfirmed <= 1
