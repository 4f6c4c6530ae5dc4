"""Send conditions: min_rows and only_if_changed, each with its skip and its send case."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import timedelta
from pathlib import Path
from uuid import UUID

from arq.connections import ArqRedis

from consumer.export import export_to_file
from consumer.filters import parse_filters
from producer.tick import tick
from shared.db import Pool
from shared.settings import Settings
from tests.support import seed
from tests.support.api import Api, World, body
from tests.support.harness import Fakes, drain, point_at
from tests.support.reports import video
from tests.support.runs import FIRE, fire, make, run_row


async def next_fire(pool: Pool, redis: ArqRedis, s: Settings, days: int) -> dict[str, object]:
    at = FIRE + timedelta(days=days)
    await pool.execute("UPDATE shared_report_schedules SET next_run_at = $1", at)
    await tick(pool, redis, s, now=at)
    run_id = await pool.fetchval("SELECT id FROM shared_report_runs ORDER BY fire_at DESC LIMIT 1")
    return {"id": run_id}


async def test_min_rows_skips_below_and_sends_at_the_threshold(
    pool: Pool, redis: ArqRedis, settings: Settings, fx: Fakes, tmp_path: Path
) -> None:
    s = point_at(settings, fx)
    org, _ = await make(pool, videos=2, min_rows=3)
    run_id = await fire(pool, redis, s)
    await drain(s, pool, redis, tmp_path)
    run = await run_row(pool, run_id)
    assert (run["status"], run["row_count"]) == ("skipped", 2)
    assert run["error"] == "2 row(s), fewer than min_rows 3" and not fx.loops.received

    await video(pool, org, title="third")
    later = await next_fire(pool, redis, s, 1)
    await drain(s, pool, redis, tmp_path)
    assert (await run_row(pool, later["id"]))["status"] == "sent" and len(fx.loops.sent) == 1


async def test_only_if_changed_skips_identical_files_and_sends_changed_ones(
    pool: Pool, redis: ArqRedis, settings: Settings, fx: Fakes, tmp_path: Path
) -> None:
    s = point_at(settings, fx)
    org, _ = await make(pool, only_if_changed=True)
    first = await fire(pool, redis, s)
    await drain(s, pool, redis, tmp_path)
    assert (await run_row(pool, first))["status"] == "sent"

    same = await next_fire(pool, redis, s, 7)
    await drain(s, pool, redis, tmp_path)
    skipped = await run_row(pool, same["id"])
    assert skipped["status"] == "skipped" and f"unchanged since run {first}" in skipped["error"]
    assert len(fx.loops.sent) == 1

    await video(pool, org, title="new video")
    changed = await next_fire(pool, redis, s, 14)
    await drain(s, pool, redis, tmp_path)
    assert (await run_row(pool, changed["id"]))["status"] == "sent" and len(fx.loops.sent) == 2


async def test_xlsx_bytes_are_the_same_for_the_same_rows(pool: Pool, tmp_path: Path) -> None:
    org = await seed.organization(pool)
    await video(pool, org)
    digests = []
    for name in ("a.xlsx", "b.xlsx"):
        async with pool.acquire() as conn:
            await export_to_file(conn, org, parse_filters({}), "UTC", FIRE, tmp_path / name, kind="xlsx")
        digests.append(hashlib.sha256((tmp_path / name).read_bytes()).hexdigest())
    assert digests[0] == digests[1]


async def test_api_takes_and_shows_the_conditions(api: Api, world: World) -> None:
    status, created = await api.call("POST", "/v1/schedules", body(world, min_rows=10, only_if_changed=True))
    assert status == 201 and (created["min_rows"], created["only_if_changed"]) == (10, True)
    status, patched = await api.call("PATCH", f"/v1/schedules/{created['id']}", {"min_rows": 0})
    assert status == 200 and (patched["min_rows"], patched["only_if_changed"]) == (0, True)
    for bad in ({"min_rows": -1}, {"min_rows": "5"}, {"only_if_changed": 1}):
        status, error = await api.call("PATCH", f"/v1/schedules/{created['id']}", bad)
        assert status == 422 and error["error"]["details"][0]["field"] == next(iter(bad)), error


async def _gated_run(pool: Pool, redis: ArqRedis, s: Settings, action: str, wait: int) -> tuple[UUID, UUID]:
    """A run due now whose statistics are a day old, gated to one hour, waiting up to `wait` seconds."""
    org, sched = await make(pool, chats=(21,), require_fresh_within_seconds=3600,
                            fresh_wait_max_seconds=wait, stale_action=action)  # fmt: skip
    await pool.execute(
        "UPDATE video_statistics SET updated_at = now() - interval '1 day' "
        "WHERE video_id IN (SELECT id FROM videos WHERE organization_id = $1)",
        org,
    )
    now = await pool.fetchval("SELECT now()")
    await pool.execute("UPDATE shared_report_schedules SET next_run_at = $1", now)
    await tick(pool, redis, s, now=now)
    run_id = await pool.fetchval("SELECT id FROM shared_report_runs ORDER BY created_at DESC LIMIT 1")
    return org, run_id


async def test_freshness_gate_waits_then_sends_once_the_statistics_arrive(
    pool: Pool, redis: ArqRedis, settings: Settings, fx: Fakes, tmp_path: Path
) -> None:
    s = point_at(settings, fx)
    org, run_id = await _gated_run(pool, redis, s, "skip", 30)

    async def fresh_stats_later() -> None:
        await asyncio.sleep(1.5)
        await pool.execute(
            "UPDATE video_statistics SET updated_at = now() "
            "WHERE video_id IN (SELECT id FROM videos WHERE organization_id = $1)",
            org,
        )

    refresher = asyncio.create_task(fresh_stats_later())
    await drain(s, pool, redis, tmp_path)
    await refresher
    run = await run_row(pool, run_id)
    # The waits were not failed tries: one try did the work.
    assert (run["status"], run["attempts"]) == ("sent", 1)
    [doc] = fx.telegram.documents(21)
    assert "stale" not in doc["caption"]


async def test_freshness_gate_waits_then_skips(
    pool: Pool, redis: ArqRedis, settings: Settings, fx: Fakes, tmp_path: Path
) -> None:
    s = point_at(settings, fx)
    _, run_id = await _gated_run(pool, redis, s, "skip", 2)
    await drain(s, pool, redis, tmp_path)
    run = await run_row(pool, run_id)
    assert run["status"] == "skipped" and "statistics were last updated" in run["error"]
    assert "stale_action is skip" in run["error"] and not fx.loops.received and not fx.telegram.documents()


async def test_freshness_gate_waits_then_sends_with_a_stale_line(
    pool: Pool, redis: ArqRedis, settings: Settings, fx: Fakes, tmp_path: Path
) -> None:
    s = point_at(settings, fx)
    _, run_id = await _gated_run(pool, redis, s, "send", 2)
    await drain(s, pool, redis, tmp_path)
    assert (await run_row(pool, run_id))["status"] == "sent"
    [doc] = fx.telegram.documents(21)
    assert "Data may be stale: statistics were last updated" in doc["caption"]
    assert fx.loops.sent[0]["dataVariables"]["staleNote"].startswith("Data may be stale")
