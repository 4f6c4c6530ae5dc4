"""Real producer and consumer processes, stopped with signals."""

from __future__ import annotations

import asyncio
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from arq.connections import ArqRedis

from shared.db import Pool
from shared.settings import Settings
from tests.support import seed
from tests.support.harness import fakes
from tests.support.processes import env_for, start
from tests.support.reports import video
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e


async def due_report(
    pool: Pool, redis: ArqRedis, settings: Settings, slug: str, chats: list[int], email: str | None = None
) -> None:
    """A schedule due now with Telegram recipients (and maybe one email), ticked onto the queue."""
    from producer.tick import tick

    org = await seed.organization(pool)
    link = await seed.shared_link(pool, org, slug=slug)
    sched = await seed.schedule(
        pool,
        org,
        link,
        next_run_at=datetime.now(UTC) - timedelta(seconds=1),
        send_telegram=True,
        send_email=email is not None,
    )
    if email:
        await seed.recipient(pool, sched, email=email)
    for chat in chats:
        await seed.recipient(pool, sched, chat=chat)
    await video(pool, org)
    await tick(pool, redis, settings)


async def test_producer_fires_and_exits_cleanly_on_sigterm(pool: Pool, redis: ArqRedis, settings: Settings) -> None:
    org = await seed.organization(pool)
    link = await seed.shared_link(pool, org)
    due = datetime.now(UTC) + timedelta(seconds=3)
    sched = await seed.schedule(pool, org, link, next_run_at=due)
    await seed.recipient(pool, sched, email="a@example.com")
    proc = await start("producer", env_for(settings, PRODUCER_PORT="0", TICK_SECONDS="300"))
    try:

        async def enqueued() -> bool:
            return bool(await pool.fetchval("SELECT enqueued_at FROM shared_report_runs WHERE schedule_id=$1", sched))

        await wait_for(enqueued, 15)
        lag = await pool.fetchval("SELECT extract(epoch FROM enqueued_at - fire_at) FROM shared_report_runs")
        assert 0 <= lag < 1.0
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0, err.decode()[-2000:]


async def test_consumer_killed_mid_delivery_resumes_without_resending(
    pool: Pool, redis: ArqRedis, settings: Settings, tmp_path: Path
) -> None:
    chats = list(range(101, 109))
    async with fakes(tmp_path) as fx:
        fx.telegram.upload_delay = 0.4  # each upload takes 0.4 s, so a kill lands mid-delivery
        await due_report(pool, redis, settings, "kill-test", chats, email="a@example.com")
        env = env_for(
            settings,
            LOOPS_API_URL=fx.loops.url,
            TELEGRAM_API_URL=fx.telegram.url,
            CONSUMER_PORT="0",
            DELIVERY_CONCURRENCY="1",
            JOB_TIMEOUT_SECONDS="10",
            LEASE_SECONDS="3",
            TELEGRAM_CHAT_INTERVAL_SECONDS="0",
            SPOOL_DIR=str(tmp_path / "spool"),
        )
        first = await start("consumer", env)

        async def some_delivered() -> bool:
            return len(fx.telegram.documents()) >= 3

        try:
            await wait_for(some_delivered, 30)
        except AssertionError:
            first.kill()
            _, err = await first.communicate()
            raise AssertionError(err.decode()[-3000:]) from None
        first.kill()  # SIGKILL: no cleanup at all
        await first.wait()
        served_before = {r["chat_id"] for r in fx.telegram.documents()}

        second = await start("consumer", env)
        try:

            async def finished() -> bool:
                return await pool.fetchval("SELECT status FROM shared_report_runs") in (
                    "sent",
                    "partial",
                    "failed",
                )

            await wait_for(finished, 60, interval=0.2)
        finally:
            second.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(second.communicate(), 30)
        assert second.returncode == 0, err.decode()[-2000:]

        run = await pool.fetchrow("SELECT status, attempts FROM shared_report_runs")
        assert run["status"] == "sent" and run["attempts"] == 2
        per_chat = {c: len(fx.telegram.documents(c)) for c in chats}
        duplicates = sum(n - 1 for n in per_chat.values())
        print(f"served before kill: {len(served_before)} chats; telegram duplicates after restart: {duplicates}")
        assert all(n >= 1 for n in per_chat.values())
        # Only an upload in flight at the moment of the kill can repeat (Telegram has no idempotency key).
        assert duplicates <= 1
        assert len(fx.loops.sent) == 1
        sent_rows = await pool.fetchval("SELECT count(*) FROM shared_report_notifications WHERE status = 'sent'")
        assert sent_rows == len(chats) + 1


async def test_consumer_sigterm_lets_the_running_report_finish(
    pool: Pool, redis: ArqRedis, settings: Settings, tmp_path: Path
) -> None:
    async with fakes(tmp_path) as fx:
        fx.telegram.upload_delay = 0.5
        await due_report(pool, redis, settings, "term-test", list(range(201, 205)))
        env = env_for(
            settings,
            TELEGRAM_API_URL=fx.telegram.url,
            CONSUMER_PORT="0",
            DELIVERY_CONCURRENCY="1",
            TELEGRAM_CHAT_INTERVAL_SECONDS="0",
            SPOOL_DIR=str(tmp_path / "spool"),
        )
        proc = await start("consumer", env)

        async def first_delivered() -> bool:
            return len(fx.telegram.documents()) >= 1

        await wait_for(first_delivered, 30)
        proc.send_signal(signal.SIGTERM)  # mid-delivery: 3 recipients still to go
        _, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0, err.decode()[-2000:]
        run = await pool.fetchrow("SELECT status, attempts FROM shared_report_runs")
        assert (run["status"], run["attempts"]) == ("sent", 1)
        assert sorted(r["chat_id"] for r in fx.telegram.documents()) == [201, 202, 203, 204]
