"""Faults under load, with real producer and consumer processes and servers this test owns and breaks.

Each scenario ends with the same verdict: every run final, every reachable recipient served, no duplicate send
that is not counted as unconfirmed, and no secret in logs, rows or emails.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
import redis.asyncio as aioredis

from devkit.fakes.base import Action
from shared.db import Pool, connect, create_pool
from shared.migrate import migrate
from shared.settings import Settings
from tests.support import seed
from tests.support.harness import Fakes, fakes
from tests.support.processes import env_for, run_module
from tests.support.reports import video
from tests.support.servers import OwnPostgres, OwnRedis, SentinelGroup, free_port
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e

FINAL = ("sent", "partial", "failed", "skipped", "dead")
SECRETS = ("123456:TEST", "loops-test-key", "test-secret-please-change-0123456789")
# Short leases and sweeps, so a fault scenario takes seconds.
FAST = {
    "TICK_SECONDS": "2",
    "SWEEP_INTERVAL_SECONDS": "0.5",
    "SWEEP_GRACE_SECONDS": "1",
    "LEASE_SECONDS": "6",
    "RETRY_BASE_SECONDS": "0.3",
    "RETRY_CAP_SECONDS": "2",
    "MAX_TRIES": "8",
    "JOB_TIMEOUT_SECONDS": "60",
    "TELEGRAM_CHAT_INTERVAL_SECONDS": "0",
    "TELEGRAM_GROUP_INTERVAL_SECONDS": "0",
}


@dataclass
class Stack:
    pg: OwnPostgres
    redis: OwnRedis
    pool: Pool
    settings: Settings
    fx: Fakes
    workdir: Path
    procs: dict[str, asyncio.subprocess.Process]
    ports: dict[str, int]

    def env(self, **extra: str) -> dict[str, str]:
        return env_for(
            self.settings,
            LOOPS_API_URL=self.fx.loops.url,
            TELEGRAM_API_URL=self.fx.telegram.url,
            SPOOL_DIR=str(self.workdir / "spool"),
            **{**FAST, **extra},
        )

    async def start(self, name: str, **extra: str) -> asyncio.subprocess.Process:
        module = name.rstrip("0123456789")
        port = free_port()
        self.ports[name] = port
        key = "PRODUCER_PORT" if module == "producer" else "CONSUMER_PORT"
        # A file, not a pipe: a full pipe would block a chatty process mid-scenario.
        log = (self.workdir / f"{name}.log").open("ab")
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", module, env=self.env(**{key: str(port), **extra}), stdout=log, stderr=log
        )
        log.close()
        self.procs[name] = proc
        await wait_for(lambda: self.answers(name), 30, interval=0.1)
        return proc

    async def answers(self, name: str) -> bool:
        return await self.get(name, "/healthz") is not None

    async def get(self, name: str, path: str) -> tuple[int, str] | None:
        try:
            async with aiohttp.ClientSession() as s, s.get(f"http://127.0.0.1:{self.ports[name]}{path}") as r:
                return r.status, await r.text()
        except aiohttp.ClientError:
            return None

    async def metric(self, name: str, metric: str) -> float:
        answer = await self.get(name, "/metrics")
        assert answer is not None
        return sum(float(m.group(1)) for m in re.finditer(rf"^{metric}(?:{{[^}}]*}})? (\S+)$", answer[1], re.M))

    async def stop_all(self) -> str:
        for proc in self.procs.values():
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 60)
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.workdir.glob("*.log")))


@contextlib.asynccontextmanager
async def _stack(tmp_path: Path, own_redis: OwnRedis) -> AsyncIterator[Stack]:
    pg = OwnPostgres()
    await migrate(pg.url)
    settings = Settings(database_url=pg.url, redis_url=own_redis.url, queue_name="chaos:queue")
    pool = await create_pool(pg.url, max_size=4)
    try:
        async with fakes(tmp_path) as fx:
            s = Stack(pg, own_redis, pool, settings, fx, tmp_path, {}, {})
            try:
                yield s
            finally:
                for proc in s.procs.values():
                    if proc.returncode is None:
                        proc.kill()
                        await proc.wait()
    finally:
        with contextlib.suppress(Exception):
            await pool.close()
        pg.close()


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    own_redis = OwnRedis(tmp_path)
    own_redis.start()
    try:
        async with _stack(tmp_path, own_redis) as s:
            yield s
    finally:
        own_redis.kill()


async def due_schedules(pool: Pool, count: int, chats: int, *, email: bool = False) -> dict[str, list[int]]:
    """`count` schedules due now, each with `chats` Telegram chats (and one email); returns chats per slug."""
    org = await seed.organization(pool)
    owner = await seed.user(pool, "owner@example.com", org)
    await video(pool, org)
    plan: dict[str, list[int]] = {}
    for i in range(count):
        link = await seed.shared_link(pool, org, slug=f"chaos-{i}")
        sched = await seed.schedule(
            pool,
            org,
            link,
            next_run_at=datetime.now(UTC) - timedelta(seconds=1),
            send_telegram=True,
            send_email=email,
            created_by=owner,
        )
        plan[f"chaos-{i}"] = [1000 * (i + 1) + c for c in range(chats)]
        for chat in plan[f"chaos-{i}"]:
            await seed.recipient(pool, sched, chat=chat)
        if email:
            await seed.recipient(pool, sched, email=f"r{i}@example.com")
    return plan


async def all_final(pool: Pool, runs: int) -> bool:
    with contextlib.suppress(Exception):
        rows = await pool.fetch("SELECT status FROM shared_report_runs")
        return len(rows) >= runs and all(r["status"] in FINAL for r in rows)
    return False


async def verdict(s: Stack, plan: dict[str, list[int]], logs: str) -> dict[str, int]:
    """The end state every scenario must reach; returns the counts for the report."""
    statuses = [r["status"] for r in await s.pool.fetch("SELECT status FROM shared_report_runs")]
    assert statuses and all(st in FINAL for st in statuses), statuses
    chats = [c for cs in plan.values() for c in cs]
    per_chat = {c: len(s.fx.telegram.documents(c)) for c in chats}
    unserved = [c for c, n in per_chat.items() if n == 0]
    duplicates = sum(n - 1 for n in per_chat.values() if n > 1)
    sent_rows = await s.pool.fetchval(
        "SELECT count(*) FROM shared_report_notifications WHERE status = 'sent' AND channel = 'telegram'"
    )
    unconfirmed = await s.pool.fetchval(
        "SELECT count(*) FROM shared_report_notifications WHERE status = 'unconfirmed' "
        "OR (status = 'failed' AND (payload->>'unconfirmed')::boolean)"
    )
    assert not unserved, f"never served: {unserved}"
    assert sent_rows == len(chats), "one recorded send per recipient"
    # A duplicate is only allowed where the send's outcome was lost, and each such send is on record.
    assert duplicates <= unconfirmed, (duplicates, unconfirmed)
    stored = " ".join(
        str(v)
        for v in await s.pool.fetch(
            "SELECT (SELECT string_agg(coalesce(error, ''), ' ') FROM shared_report_runs) AS a,"
            " (SELECT string_agg(payload::text, ' ') FROM shared_report_notifications) AS b,"
            " (SELECT string_agg(error || payload::text, ' ') FROM shared_report_dead_letters) AS c"
        )
    )
    mails = str(s.fx.loops.received)
    for secret in SECRETS:
        assert secret not in logs and secret not in stored and secret not in mails, secret
    return {
        "runs": len(statuses),
        "recipients": len(chats),
        "duplicates": duplicates,
        "unconfirmed": unconfirmed,
    }


async def test_redis_killed_under_load_then_restarted_empty(stack: Stack) -> None:
    s = stack
    s.fx.telegram.upload_delay = 0.15
    plan = await due_schedules(s.pool, 16, 2)
    consumer = await s.start("consumer", WORKER_MAX_JOBS="4")
    producer = await s.start("producer")
    await wait_for(lambda: _delivered(s, 4), 60)
    s.redis.kill()
    killed_at = time.monotonic()

    async def consumer_not_ready() -> bool:
        answer = await s.get("consumer", "/readyz")
        return answer is not None and answer[0] == 503 and "redis" in answer[1]

    await wait_for(consumer_not_ready, 10)
    await asyncio.sleep(2)
    assert consumer.returncode is None and producer.returncode is None, "both processes outlive Redis"
    readyz = await s.get("consumer", "/readyz")
    assert readyz is not None and "127.0.0.1" not in readyz[1] and str(s.redis.port) not in readyz[1]
    s.redis.start()
    await wait_for(lambda: all_final(s.pool, 16), 90, interval=0.2)
    recovered = time.monotonic() - killed_at

    async def ready(name: str) -> bool:
        answer = await s.get(name, "/readyz")
        return answer is not None and answer[0] == 200

    await wait_for(lambda: ready("consumer"), 20)
    assert await s.metric("consumer", "scheduled_reports_worker_redis_reconnects_total") >= 1
    counts = await verdict(s, plan, await s.stop_all())
    assert consumer.returncode == 0 and producer.returncode == 0
    print(f"redis kill: {counts}, all final {recovered:.1f} s after the kill")


async def _delivered(s: Stack, n: int) -> bool:
    return len(s.fx.telegram.documents()) >= n


async def test_postgres_down_during_deliveries(stack: Stack) -> None:
    s = stack
    s.fx.telegram.upload_delay = 0.2
    plan = await due_schedules(s.pool, 5, 7)
    await s.pool.close()
    consumer = await s.start("consumer", DELIVERY_CONCURRENCY="2", LEASE_SECONDS="12")
    producer = await s.start("producer", LEASE_SECONDS="12")
    await wait_for(lambda: _delivered(s, 5), 60)
    s.pg.stop()
    stopped_at = time.monotonic()

    async def consumer_not_ready() -> bool:
        answer = await s.get("consumer", "/readyz")
        return answer is not None and answer[0] == 503 and "postgres" in answer[1]

    await wait_for(consumer_not_ready, 10)
    await asyncio.sleep(max(0.0, 4 - (time.monotonic() - stopped_at)))
    assert consumer.returncode is None and producer.returncode is None
    s.pg.start()
    s.pool = await create_pool(s.pg.url, max_size=4)
    await wait_for(lambda: all_final(s.pool, 5), 90, interval=0.2)
    recovered = time.monotonic() - stopped_at
    counts = await verdict(s, plan, await s.stop_all())
    statuses = {r["status"] for r in await s.pool.fetch("SELECT status FROM shared_report_runs")}
    assert statuses == {"sent"}
    print(f"postgres down 4 s: {counts}, all final {recovered:.1f} s after the stop")


async def test_consumer_sigkill_resumes_within_lease_and_sweep(stack: Stack) -> None:
    s = stack
    s.fx.telegram.upload_delay = 0.3
    plan = await due_schedules(s.pool, 1, 12)
    lease, interval = 4.0, 0.5
    first = await s.start("consumer", DELIVERY_CONCURRENCY="1", LEASE_SECONDS=str(lease))
    await s.start("producer", LEASE_SECONDS=str(lease))
    await wait_for(lambda: _delivered(s, 3), 60)
    first.kill()
    await first.wait()
    killed_at = time.monotonic()
    # The dead worker's in-progress marker lapses one lease after its last renewal, as the lease does.
    await s.start("consumer2", DELIVERY_CONCURRENCY="1", LEASE_SECONDS=str(lease))

    async def resumed() -> bool:
        return bool(await s.pool.fetchval("SELECT attempts >= 2 FROM shared_report_runs"))

    await wait_for(resumed, 60, interval=0.1)
    resumed_after = time.monotonic() - killed_at
    await wait_for(lambda: all_final(s.pool, 1), 60, interval=0.2)
    counts = await verdict(s, plan, await s.stop_all())
    unconfirmed = await s.pool.fetchval("SELECT count(*) FROM shared_report_notifications WHERE status = 'unconfirmed'")
    assert counts["duplicates"] <= unconfirmed <= 1
    assert resumed_after <= lease + interval + 10, resumed_after
    print(f"sigkill: {counts}, resumed {resumed_after:.1f} s after the kill (lease {lease} s, sweep {interval} s)")


async def test_lost_telegram_responses_are_counted_and_nothing_else_repeats(stack: Stack) -> None:
    s = stack
    plan = await due_schedules(s.pool, 2, 3, email=True)
    # Telegram takes two uploads, then the connection drops before it answers.
    s.fx.telegram.fail_next(Action(accept=True), Action(accept=True))
    await s.start("consumer")
    await s.start("producer")
    await wait_for(lambda: all_final(s.pool, 2), 60, interval=0.2)
    metric = await s.metric("consumer", "scheduled_reports_deliveries_unconfirmed_total")
    counts = await verdict(s, plan, await s.stop_all())
    assert counts["duplicates"] == 2 and metric == 2
    assert len(s.fx.loops.sent) == 2, "email has an idempotency key: never twice"
    print(f"lost responses: {counts}, counted {metric:.0f}")


async def test_consumer_killed_on_the_last_try_then_replayed_ends_every_intent(stack: Stack) -> None:
    s = stack
    # Telegram takes the first upload and holds its answer.
    s.fx.telegram.fail_next(Action(accept=True, delay=8.0))
    plan = await due_schedules(s.pool, 1, 1, email=True)
    [chat] = plan["chaos-0"]
    lease = 2.0
    short = {"MAX_TRIES": "1", "LEASE_SECONDS": str(lease)}
    first = await s.start("consumer", **short)
    await s.start("producer", **short)
    await wait_for(lambda: _delivered(s, 1), 30)
    await wait_for(lambda: _delivered_email(s), 10)
    first.kill()  # on the run's only allowed try, while Telegram holds the upload
    await first.wait()
    killed_at = time.monotonic()
    await s.start("consumer2", **short)

    async def dead() -> bool:
        return await s.pool.fetchval("SELECT status FROM shared_report_runs") == "dead"

    await wait_for(dead, 30, interval=0.1)
    dead_after = time.monotonic() - killed_at
    rows = await s.pool.fetch("SELECT channel, status FROM shared_report_notifications ORDER BY channel")
    assert [(r["channel"], r["status"]) for r in rows] == [("email", "sent"), ("telegram", "unconfirmed")]
    assert await s.metric("consumer2", "scheduled_reports_deliveries_unconfirmed_total") == 1
    # The creator hears the report may have reached the chat, not that it failed for it.
    await wait_for(lambda: _notices(s, 1), 10)
    [notice] = [m for m in s.fx.loops.received if "status" in m["dataVariables"]]
    note = notice["dataVariables"]["note"]
    assert "Maybe delivered (" in note and f"telegram {chat}" in note and "Not delivered" not in note, note

    replayed_at = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "consumer", "dead-letters", "replay", "--all", env=s.env(**short)
    )
    assert await asyncio.wait_for(proc.wait(), 60) == 0
    await wait_for(lambda: all_final(s.pool, 2), 30, interval=0.1)
    replay_after = time.monotonic() - replayed_at
    statuses = sorted(r["status"] for r in await s.pool.fetch("SELECT status FROM shared_report_runs"))
    assert statuses == ["dead", "sent"]
    assert not await s.pool.fetchval("SELECT count(*) FROM shared_report_notifications WHERE status = 'sending'")
    counts = await verdict(s, plan, await s.stop_all())
    # The held upload arrived and the replay sent again: the repeat is the one counted unconfirmed.
    assert counts["duplicates"] == 1 and counts["unconfirmed"] == 1, counts
    assert len(s.fx.loops.sent) == 2, "the email once (the replay skips it) and one notice"
    print(
        f"killed on the last try: {counts}, dead-lettered {dead_after:.1f} s after the kill "
        f"(lease {lease} s, sweep {FAST['SWEEP_INTERVAL_SECONDS']} s), replay sent {replay_after:.1f} s after it"
    )


async def _delivered_email(s: Stack) -> bool:
    return len(s.fx.loops.sent) >= 1


async def _notices(s: Stack, n: int) -> bool:
    return len([m for m in s.fx.loops.received if "status" in m["dataVariables"]]) >= n


async def test_consumer_killed_between_dequeue_and_claim_is_redriven_within_lease(stack: Stack) -> None:
    s = stack
    plan = await due_schedules(s.pool, 1, 1)
    lease, interval = 3.0, float(FAST["SWEEP_INTERVAL_SECONDS"])
    short = {"LEASE_SECONDS": str(lease)}
    await s.start("producer", **short)

    async def enqueued() -> bool:
        return bool(await s.pool.fetchval("SELECT count(*) FROM shared_report_runs WHERE enqueued_at IS NOT NULL"))

    await wait_for(enqueued, 30)
    # A connection of its own (not the pool's, which the fixture closes): it holds the run's row, so the consumer
    # that dequeues the job waits in its claim.
    holder = await connect(s.pg.url)
    try:
        await holder.execute("BEGIN; SELECT 1 FROM shared_report_runs FOR UPDATE")
        killed_at = await _killed_in_claim_window(s, short, lease)
    finally:
        await holder.close()
    assert await s.pool.fetchval("SELECT status FROM shared_report_runs") == "queued"

    async def claimed() -> bool:
        return bool(await s.pool.fetchval("SELECT attempts >= 1 FROM shared_report_runs"))

    await wait_for(claimed, 60, interval=0.05)
    redriven = time.monotonic() - killed_at
    await wait_for(lambda: all_final(s.pool, 1), 30, interval=0.1)
    counts = await verdict(s, plan, await s.stop_all())
    assert await s.pool.fetchval("SELECT status FROM shared_report_runs") == "sent"
    assert counts["duplicates"] == 0, counts
    assert redriven <= lease + interval, redriven
    print(f"killed before its claim: {counts}, re-driven {redriven:.1f} s after the kill (lease {lease} s)")


_CLAIMS_WAITING = (
    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%WITH claimed AS%'"
    " AND pid <> pg_backend_pid()"
)


async def _killed_in_claim_window(s: Stack, short: dict[str, str], lease: float) -> float:
    """Start a consumer while the run's row is held, and SIGKILL it once it waits in its claim; returns when."""
    first = await s.start("consumer", **short)

    async def claim_waiting() -> bool:
        return bool(await s.pool.fetchval(_CLAIMS_WAITING))

    await wait_for(claim_waiting, 30)
    # A second consumer polls the same queue all along; the job is held by the first one's in-progress marker.
    await s.start("consumer2", **short)
    await asyncio.sleep(lease)  # longer than a lease: the first consumer keeps its job while alive
    assert await s.pool.fetchval(_CLAIMS_WAITING) == 1, "only the first consumer took the job"
    first.kill()  # after arq handed it the job, before it claimed the run
    await first.wait()
    killed_at = time.monotonic()
    # Its claim would otherwise still run once the row is free: the server ends the dead client's session.
    await s.pool.execute(f"SELECT pg_terminate_backend(pid) FROM ({_CLAIMS_WAITING.replace('count(*)', 'pid')}) w")
    return killed_at


async def test_check_fails_while_a_job_is_held_by_a_dead_consumer_and_passes_after(stack: Stack) -> None:
    s = stack
    plan = await due_schedules(s.pool, 1, 1)
    lease = 10.0  # long enough to run `check` while the dead consumer's marker still holds the job
    short = {"LEASE_SECONDS": str(lease)}
    await s.start("producer", **short)

    async def enqueued() -> bool:
        return bool(await s.pool.fetchval("SELECT count(*) FROM shared_report_runs WHERE enqueued_at IS NOT NULL"))

    await wait_for(enqueued, 30)
    job_id = await s.pool.fetchval("SELECT job_id FROM shared_report_runs")
    holder = await connect(s.pg.url)
    try:
        await holder.execute("BEGIN; SELECT 1 FROM shared_report_runs FOR UPDATE")
        killed_at = await _killed_in_claim_window(s, short, 1.0)
    finally:
        await holder.close()
    client = aioredis.from_url(s.redis.url)
    try:
        assert await client.exists(f"arq:in-progress:{job_id}")

        async def holder_lapsed() -> bool:
            return not await client.exists(f"arq:held:{job_id}")

        await wait_for(holder_lapsed, 10)
        code, text = await run_module("producer", "check", env=s.env(**short))
        detected = time.monotonic() - killed_at
        assert await client.exists(f"arq:in-progress:{job_id}"), "checked while the fault is present"
    finally:
        await client.aclose()
    assert code == 1 and "FAIL queued_in_progress_no_worker: 1 queued runs whose job a worker took" in text, text
    assert re.search(r"^checked at \d{4}-\d\d-\d\dT", text, re.M), text
    await wait_for(lambda: all_final(s.pool, 1), 30, interval=0.1)
    recovered = time.monotonic() - killed_at
    code, text = await run_module("producer", "check", env=s.env(**short))
    assert code == 0 and "ok   queued_in_progress_no_worker: 0" in text, text
    counts = await verdict(s, plan, await s.stop_all())
    assert counts["duplicates"] == 0
    assert recovered <= lease + float(FAST["SWEEP_INTERVAL_SECONDS"]) + 2, recovered
    print(
        f"check after a kill before the claim: FAIL {detected:.1f} s after the kill, run sent {recovered:.1f} s after"
    )


async def test_redis_primary_killed_mid_run_sentinel_promotes_the_replica(tmp_path: Path) -> None:
    group = SentinelGroup(tmp_path)
    await asyncio.to_thread(group.start)
    try:
        async with _stack(tmp_path, group.primary) as s:
            via = {"REDIS_SENTINELS": group.sentinels, "REDIS_SENTINEL_MASTER": group.MASTER}
            s.fx.telegram.upload_delay = 0.15
            plan = await due_schedules(s.pool, 12, 2)
            await s.start("consumer", WORKER_MAX_JOBS="4", **via)
            await s.start("producer", **via)
            await wait_for(lambda: _delivered(s, 4), 60)
            group.primary.kill()
            killed_at = time.monotonic()

            async def promoted() -> bool:
                return await asyncio.to_thread(group.master_port) == group.replica_port

            await wait_for(promoted, 30, interval=0.1)
            promoted_after = time.monotonic() - killed_at
            await wait_for(lambda: all_final(s.pool, 12), 90, interval=0.2)
            recovered = time.monotonic() - killed_at
            counts = await verdict(s, plan, await s.stop_all())
            statuses = {r["status"] for r in await s.pool.fetch("SELECT status FROM shared_report_runs")}
            assert statuses == {"sent"}, statuses
    finally:
        await asyncio.to_thread(group.stop)
    print(
        f"redis primary killed: {counts}, replica promoted {promoted_after:.1f} s and every run sent "
        f"{recovered:.1f} s after the kill"
    )
