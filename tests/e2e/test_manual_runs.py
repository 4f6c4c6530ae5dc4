"""Test runs never change what the schedule does, checked through the API and a real consumer process."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from arq.connections import ArqRedis

from producer.tick import tick
from shared.db import Pool
from shared.settings import Settings
from tests.e2e.test_processes import start, wait_for
from tests.integration.test_api import Api, World, api, body, client, world
from tests.integration.test_export import video
from tests.support.harness import fakes
from tests.support.processes import env_for

pytestmark = pytest.mark.e2e
__all__ = ["api", "client", "world"]

FINAL = ("sent", "partial", "failed", "skipped", "dead")


async def _final(pool: Pool, run_id: UUID | str) -> dict[str, Any]:
    async def done() -> bool:
        status = await pool.fetchval("SELECT status FROM shared_report_runs WHERE id = $1", UUID(str(run_id)))
        return status in FINAL

    try:
        await wait_for(done, 30, interval=0.1)
    except AssertionError:
        rows = await pool.fetch("SELECT id, trigger, status, error, fire_at, created_at FROM shared_report_runs")
        raise AssertionError(f"run {run_id} not final: {[dict(r) for r in rows]}") from None
    return dict(await pool.fetchrow("SELECT * FROM shared_report_runs WHERE id = $1", UUID(str(run_id))))


async def _fire(pool: Pool, redis: ArqRedis, settings: Settings, schedule_id: str, seconds_ago: int) -> UUID:
    # Fires a few seconds apart, as a schedule's are: a cron run's job id is its second.
    now = await pool.fetchval("SELECT now() - make_interval(secs => $1)", seconds_ago)
    await pool.execute("UPDATE shared_report_schedules SET next_run_at = $1 WHERE id = $2", now, UUID(schedule_id))
    await tick(pool, redis, settings, now=now)
    run_id: UUID = await pool.fetchval(
        "SELECT id FROM shared_report_runs WHERE trigger = 'cron' ORDER BY created_at DESC LIMIT 1"
    )
    return run_id


async def test_a_test_run_never_stops_the_teams_report(
    api: Api, world: World, pool: Pool, redis: ArqRedis, settings: Settings, tmp_path: Path
) -> None:
    await video(pool, world.org, title="only video")
    team = [{"channel": "email", "email": "team@acme.example"}]
    status, created = await api.call(
        "POST", "/v1/schedules", body(world, recipients=team, only_if_changed=True, min_rows=5)
    )
    assert status == 201, created
    sid = created["id"]
    async with fakes(tmp_path) as fx:
        env = env_for(settings, LOOPS_API_URL=fx.loops.url, CONSUMER_PORT="0", SPOOL_DIR=str(tmp_path / "spool"))
        consumer = await start("consumer", env)
        try:
            # A test run to me: one row, fewer than min_rows 5, but a test run sends anyway.
            me = {"recipients": [{"channel": "email", "email": "me@acme.example"}]}
            status, accepted = await api.call("POST", f"/v1/schedules/{sid}/run", me)
            assert status == 202, accepted
            test_run = await _final(pool, accepted["run_id"])
            assert (test_run["status"], test_run["trigger"], test_run["row_count"]) == ("sent", "manual", 1)
            assert [m["email"] for m in fx.loops.sent] == ["me@acme.example"]
            # ... and asking for the conditions makes it obey them.
            status, strict = await api.call("POST", f"/v1/schedules/{sid}/run", {**me, "respect_conditions": True})
            assert status == 202, strict
            skipped = await _final(pool, strict["run_id"])
            assert skipped["status"] == "skipped" and "fewer than min_rows 5" in skipped["error"]
            _, schedule = await api.call("GET", f"/v1/schedules/{sid}")
            assert schedule["last_run_status"] is None, "a test run is not the schedule's last status"

            # The team's scheduled run with the same file is sent: the test run is not the baseline.
            assert (await api.call("PATCH", f"/v1/schedules/{sid}", {"min_rows": 0}))[0] == 200
            cron = await _final(pool, await _fire(pool, redis, settings, sid, 10))
            assert cron["status"] == "sent", cron["error"]
            assert cron["content_sha256"] == test_run["content_sha256"]
            assert [m["email"] for m in fx.loops.sent] == ["me@acme.example", "team@acme.example"]
            _, schedule = await api.call("GET", f"/v1/schedules/{sid}")
            assert schedule["last_run_status"] == "sent"

            # Another test run after it, then the next fire: unchanged since the team's run, not the test's.
            status, again = await api.call("POST", f"/v1/schedules/{sid}/run", me)
            assert (await _final(pool, again["run_id"]))["status"] == "sent"
            same = await _final(pool, await _fire(pool, redis, settings, sid, 0))
            assert same["status"] == "skipped" and f"unchanged since run {cron['id']}" in same["error"]
            assert len(fx.loops.sent) == 3

            # A failed test run leaves the schedule's last status alone too.
            await pool.execute("UPDATE shared_links SET revoked_at = now() WHERE id = $1", world.link)
            status, failing = await api.call("POST", f"/v1/schedules/{sid}/run", me)
            assert (await _final(pool, failing["run_id"]))["status"] == "failed"
            _, schedule = await api.call("GET", f"/v1/schedules/{sid}")
            assert schedule["last_run_status"] == "skipped"

            status, history = await api.call("GET", f"/v1/schedules/{sid}/runs")
            assert [r["trigger"] for r in history["items"]] == ["manual", "cron", "manual", "cron", "manual", "manual"]
        finally:
            consumer.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(consumer.communicate(), 30)
        assert consumer.returncode == 0, err.decode()[-2000:]
