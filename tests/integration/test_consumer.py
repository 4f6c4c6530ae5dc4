"""The shared_report job end to end in-process: real PostgreSQL, Redis, arq worker, fake providers."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from arq.connections import ArqRedis

from devkit.fakes.base import Action
from producer.tick import tick
from shared import deadletters
from shared.db import Pool
from shared.queue import Job, enqueue_many
from shared.settings import Settings
from tests.support import seed
from tests.support.harness import Fakes, drain, point_at
from tests.support.runs import FIRE, fire, make, notes, run_row


async def test_delivers_the_csv_to_email_and_telegram(
    pool: Pool, redis: ArqRedis, settings: Settings, fx: Fakes, tmp_path: Path
) -> None:
    s = point_at(settings, fx)
    await make(pool, emails=("a@example.com", "b@example.com"), chats=(42,))
    run_id = await fire(pool, redis, s)
    assert await drain(s, pool, redis, tmp_path) == 1

    run = await run_row(pool, run_id)
    assert (run["status"], run["row_count"], run["attempts"]) == ("sent", 3, 1)
    assert run["filename"] == "weekly-views-2026-11-16.csv"
    assert sorted(n["status"] for n in await notes(pool, run_id)) == ["sent"] * 3
    assert sorted(r["email"] for r in fx.loops.sent) == ["a@example.com", "b@example.com"]
    attachment = fx.loops.sent[0]["attachments"][0]
    assert attachment["filename"] == "weekly-views-2026-11-16.csv" and attachment["contentType"] == "text/csv"
    assert attachment["data"].startswith(b"title,video_url,") and attachment["data"].count(b"\n") == 4
    assert fx.loops.sent[0]["idempotency_key"] == f"{run_id}:{fx.loops.sent[0]['email']}"
    [doc] = fx.telegram.documents(42)
    assert doc["document"]["data"] == attachment["data"]
    assert await pool.fetchval("SELECT last_run_status FROM shared_report_schedules") == "sent"

    # The same message delivered again (a duplicate) is acknowledged and sends nothing.
    message = (await run_row(pool, run_id))["message"]
    await enqueue_many(redis, s.queue_name, [Job("duplicate-delivery", message)])
    await drain(s, pool, redis, tmp_path)
    assert len(fx.loops.received) == 2 and len(fx.telegram.received) == 1


async def test_zip_format_and_skip_if_empty(
    pool: Pool, redis: ArqRedis, settings: Settings, fx: Fakes, tmp_path: Path
) -> None:
    s = point_at(settings, fx)
    await make(pool, format="csv.zip")
    run_id = await fire(pool, redis, s)
    await drain(s, pool, redis, tmp_path)
    assert fx.loops.sent[0]["attachments"][0]["filename"] == "weekly-views-2026-11-16.zip"
    assert fx.loops.sent[0]["attachments"][0]["data"][:2] == b"PK"
    run = await run_row(pool, run_id)
    assert (run["status"], run["filename"]) == ("sent", "weekly-views-2026-11-16.zip")

    await pool.execute("UPDATE shared_report_schedules SET skip_if_empty = true")
    await pool.execute("DELETE FROM videos")
    await tick(pool, redis, s, now=FIRE + timedelta(days=1))
    run_id = await pool.fetchval("SELECT id FROM shared_report_runs ORDER BY fire_at DESC LIMIT 1")
    await drain(s, pool, redis, tmp_path)
    assert (await run_row(pool, run_id))["status"] == "skipped" and len(fx.loops.sent) == 1


@pytest.mark.parametrize(
    ("setup", "run_status", "note_status", "reason"),
    [
        ("blocked", "failed", "failed", "Forbidden: bot was blocked"),
        ("missing", "failed", "failed", "chat not found"),
        ("rate_limited", "sent", "sent", None),
        ("server_error", "sent", "sent", None),
        ("migrate", "sent", "sent", None),
        ("too_large", "failed", "failed", "too_large"),
        ("unclear_answer", "partial", "unconfirmed", "without the Bot API's success answer"),
    ],
)
async def test_telegram_error_classes(
    pool: Pool,
    redis: ArqRedis,
    settings: Settings,
    fx: Fakes,
    tmp_path: Path,
    setup: str,
    run_status: str,
    note_status: str,
    reason: str | None,
) -> None:
    s = point_at(settings, fx)
    await make(pool, emails=(), chats=(-100,), videos=200)
    tg = fx.telegram
    if setup == "blocked":
        tg.blocked.add(-100)
    elif setup == "missing":
        tg.missing.add(-100)
    elif setup == "rate_limited":
        tg.fail_next(
            Action(
                429,
                {
                    "ok": False,
                    "error_code": 429,
                    "description": "Too Many Requests: retry after 1",
                    "parameters": {"retry_after": 1},
                },
            )
        )
    elif setup == "server_error":
        tg.fail_next(Action(502, html=True))
    elif setup == "migrate":
        tg.migrations[-100] = -1009999
    elif setup == "too_large":
        tg.max_upload_bytes = 300
    elif setup == "unclear_answer":
        tg.fail_next(Action(200, accept=True))  # took the upload, then answered 200 with a body that is not JSON
    run_id = await fire(pool, redis, s)
    await drain(s, pool, redis, tmp_path)

    run = await run_row(pool, run_id)
    assert run["status"] == run_status
    final = (await notes(pool, run_id))[-1]
    assert final["status"] == note_status
    if reason:
        assert reason in final["payload"]["reason"]
    if setup == "server_error":
        assert run["attempts"] == 2
    if setup == "rate_limited":
        assert run["attempts"] == 1  # slept retry_after inline, no requeue
    if setup == "unclear_answer":
        # Maybe delivered: not sent again, the run says so, and the creator is not told it failed for the chat.
        assert (run["attempts"], len(tg.documents(-100))) == (1, 1)
        assert "1 of 1 recipient(s) maybe delivered" in run["error"]
        [notice] = fx.loops.received
        assert (
            "Maybe delivered" in notice["dataVariables"]["note"]
            and "Not delivered" not in notice["dataVariables"]["note"]
        )
    if setup == "migrate":
        assert tg.documents(-1009999) and final["telegram_chat_id"] == -1009999
        assert await pool.fetchval("SELECT telegram_chat_id FROM shared_report_schedule_recipients") == -1009999
    if setup == "too_large":
        assert [r["method"] for r in tg.received] == ["sendMessage"]
        assert "over the" in tg.received[0]["text"] and "Narrow" in tg.received[0]["text"]


@pytest.mark.parametrize(
    ("script", "run_status", "attempts"),
    [
        ([Action(429, {"success": False, "message": "Rate limit exceeded"})], "sent", 1),
        ([Action(500, {"success": False, "message": "boom"})], "sent", 2),
        ([Action(503, html=True)], "sent", 2),
        (
            [Action(400, {"success": False, "error": {"path": "dataVariables", "message": "missing var"}})],
            "failed",
            1,
        ),
        ([Action(404, {"success": False, "message": "Transactional email not found"})], "failed", 1),
        # 200 with a captive portal's page: maybe delivered, retried under the idempotency key.
        ([Action(200, html=True)], "sent", 2),
    ],
)
async def test_loops_error_classes(
    pool: Pool,
    redis: ArqRedis,
    settings: Settings,
    fx: Fakes,
    tmp_path: Path,
    script: list[Action],
    run_status: str,
    attempts: int,
) -> None:
    s = point_at(settings, fx)
    await make(pool)
    fx.loops.fail_next(*script)
    run_id = await fire(pool, redis, s)
    await drain(s, pool, redis, tmp_path)
    run = await run_row(pool, run_id)
    assert (run["status"], run["attempts"]) == (run_status, attempts)
    if run_status == "failed":
        assert "missing var (dataVariables)" in str(await notes(pool, run_id)) or "not found" in str(
            await notes(pool, run_id)
        )


async def test_loops_lost_response_is_not_sent_twice(
    pool: Pool, redis: ArqRedis, settings: Settings, fx: Fakes, tmp_path: Path
) -> None:
    s = point_at(settings, fx, loops_timeout_seconds=0.5)
    await make(pool)
    fx.loops.fail_next(Action(504, accept=True, delay=1.0))  # accepted, then the answer never arrives in time
    run_id = await fire(pool, redis, s)
    await drain(s, pool, redis, tmp_path)
    assert (await run_row(pool, run_id))["status"] == "sent"
    assert len(fx.loops.sent) == 1
    assert [r.get("duplicate", False) for r in fx.loops.received] == [False, True]


async def test_loops_attachments_disabled_is_permanent_and_keeps_the_message(
    pool: Pool, redis: ArqRedis, settings: Settings, fx: Fakes, tmp_path: Path
) -> None:
    s = point_at(settings, fx)
    fx.loops.attachments_enabled = False
    await make(pool)
    run_id = await fire(pool, redis, s)
    await drain(s, pool, redis, tmp_path)
    [note] = await notes(pool, run_id)
    assert "Attachments are not enabled" in note["payload"]["reason"]
    assert (await run_row(pool, run_id))["status"] == "failed"


async def test_one_failing_recipient_does_not_block_others(
    pool: Pool, redis: ArqRedis, settings: Settings, fx: Fakes, tmp_path: Path
) -> None:
    s = point_at(settings, fx)
    await make(pool, emails=("a@example.com",), chats=(1, 2))
    fx.telegram.blocked.add(2)
    run_id = await fire(pool, redis, s)
    await drain(s, pool, redis, tmp_path)
    assert (await run_row(pool, run_id))["status"] == "partial"
    assert sorted(n["status"] for n in await notes(pool, run_id)) == ["failed", "sent", "sent"]


async def test_retry_never_resends_to_served_recipients(
    pool: Pool, redis: ArqRedis, settings: Settings, fx: Fakes, tmp_path: Path
) -> None:
    s = point_at(settings, fx)
    await make(pool, emails=("a@example.com",), chats=(7,))
    fx.telegram.fail_next(Action(500), Action(500))
    run_id = await fire(pool, redis, s)
    await drain(s, pool, redis, tmp_path)
    run = await run_row(pool, run_id)
    assert (run["status"], run["attempts"]) == ("sent", 3)
    assert len(fx.loops.sent) == 1 and len(fx.telegram.documents(7)) == 1


async def test_malformed_and_deleted_schedule_messages_are_dead_lettered(
    pool: Pool, redis: ArqRedis, settings: Settings, fx: Fakes, tmp_path: Path
) -> None:
    s = point_at(settings, fx)
    _, sched = await make(pool)
    run_id = await fire(pool, redis, s)
    await pool.execute("UPDATE shared_report_schedules SET deleted_at = now() WHERE id = $1", sched)
    await enqueue_many(redis, s.queue_name, [Job("bad-1", {"v": 1, "run_id": "not-a-uuid"})])
    await drain(s, pool, redis, tmp_path)

    dead = await pool.fetch("SELECT run_id, job_id, error, payload FROM shared_report_dead_letters ORDER BY job_id")
    assert {d["job_id"] for d in dead} == {"bad-1", f"shared_report:{sched}:{int(FIRE.timestamp())}"}
    bad = next(d for d in dead if d["job_id"] == "bad-1")
    assert bad["run_id"] is None and "run_id" in bad["error"] and bad["payload"] == {"v": 1, "run_id": "not-a-uuid"}
    assert (await run_row(pool, run_id))["status"] == "dead"
    assert fx.loops.sent[0]["email"] == "creator@example.com"  # one failure email to the creator
    assert "deleted" in fx.loops.sent[0]["dataVariables"]["error"]
    with pytest.raises(deadletters.NotReplayable, match="not valid"):
        dead_id = await pool.fetchval("SELECT id FROM shared_report_dead_letters WHERE job_id = 'bad-1'")
        await deadletters.replay(pool, redis, s.queue_name, dead_id)


async def test_a_message_naming_another_schedule_than_its_run_is_poison_and_the_run_still_delivers(
    pool: Pool, redis: ArqRedis, settings: Settings, fx: Fakes, tmp_path: Path
) -> None:
    s = point_at(settings, fx)
    org, sched = await make(pool)
    # Another schedule of the same organization, with its own link and recipient.
    other_link = await seed.shared_link(pool, org, slug="other-link")
    other = await seed.schedule(pool, org, other_link, next_run_at=FIRE + timedelta(days=30))
    await seed.recipient(pool, other, email="other@example.com")
    run_id = await fire(pool, redis, s)
    message = (await run_row(pool, run_id))["message"]
    await redis.flushdb()  # the run's own job waits aside: first only the altered messages reach the worker
    missing = "00000000-0000-4000-8000-000000000000"
    altered = [
        Job("names-missing", {**message, "schedule_id": missing}),
        Job("names-other", {**message, "schedule_id": str(other)}),
    ]
    await enqueue_many(redis, s.queue_name, altered)
    await drain(s, pool, redis, tmp_path)

    dead = {d["job_id"]: d for d in await pool.fetch("SELECT * FROM shared_report_dead_letters")}
    assert set(dead) == {"names-missing", "names-other"}
    assert all(d["poison"] and d["run_id"] is None for d in dead.values())
    assert f"names schedule {missing}, which run {run_id} does not belong to" in dead["names-missing"]["error"]
    assert f"names schedule {other}, which run {run_id} does not belong to" in dead["names-other"]["error"]
    run = await run_row(pool, run_id)
    assert (run["status"], run["attempts"], run["notice_sent_at"]) == ("queued", 0, None)
    assert fx.loops.sent == [] and await pool.fetchval("SELECT count(*) FROM shared_report_notifications") == 0
    with pytest.raises(deadletters.NotReplayable, match="schedule of this message was deleted"):
        await deadletters.replay(pool, redis, s.queue_name, dead["names-missing"]["id"])
    with pytest.raises(deadletters.NotReplayable, match="names a run of another schedule"):
        await deadletters.replay(pool, redis, s.queue_name, dead["names-other"]["id"])

    # The run's own message still delivers it, once, to its own recipient.
    await enqueue_many(redis, s.queue_name, [Job(f"shared_report:{sched}:{int(FIRE.timestamp())}", message)])
    await drain(s, pool, redis, tmp_path)
    assert (await run_row(pool, run_id))["status"] == "sent"
    assert [r["email"] for r in fx.loops.sent] == ["a@example.com"]


async def test_exhausted_retries_dead_letter_then_replay_serves_only_the_rest(
    pool: Pool, redis: ArqRedis, settings: Settings, fx: Fakes, tmp_path: Path
) -> None:
    s = point_at(settings, fx, max_tries=2)
    await make(pool, emails=("a@example.com",), chats=(9,))
    fx.telegram.fail_next(*[Action(500)] * 2)
    run_id = await fire(pool, redis, s)
    await drain(s, pool, redis, tmp_path)

    run = await run_row(pool, run_id)
    assert (run["status"], run["attempts"]) == ("dead", 2)
    assert await pool.fetchval("SELECT last_run_status FROM shared_report_schedules") == "dead"
    dead_id = await pool.fetchval("SELECT id FROM shared_report_dead_letters WHERE run_id = $1", run_id)
    failure_mails = [r for r in fx.loops.sent if r["email"] == "creator@example.com"]
    assert len(failure_mails) == 1 and "retries exhausted" in failure_mails[0]["dataVariables"]["error"]

    replay_run = await deadletters.replay(pool, redis, s.queue_name, dead_id)
    await drain(s, pool, redis, tmp_path)
    replayed = await run_row(pool, replay_run)
    assert (replayed["status"], replayed["trigger"], replayed["origin_run_id"]) == ("sent", "replay", run_id)
    assert [r["email"] for r in fx.loops.sent].count("a@example.com") == 1  # served before, not again
    assert len(fx.telegram.documents(9)) == 1
    assert await pool.fetchval("SELECT replay_count FROM shared_report_dead_letters WHERE id = $1", dead_id) == 1


async def test_revoked_link_and_bad_filters_fail_permanently(
    pool: Pool, redis: ArqRedis, settings: Settings, fx: Fakes, tmp_path: Path
) -> None:
    # No quiet window, so each failure of the streak is told (test_failure_notices covers the window).
    s = point_at(settings, fx, failure_notice_quiet_hours=0.0)
    await make(pool, filters={"platform": ["tiktok"]})
    run_id = await fire(pool, redis, s)
    await drain(s, pool, redis, tmp_path)
    run = await run_row(pool, run_id)
    assert run["status"] == "failed" and "filters.platform" in run["error"]
    # The only mail is the creator's notice, naming the reason and what to do.
    [notice] = fx.loops.received
    assert notice["email"] == "creator@example.com" and notice["dataVariables"]["status"] == "failed"
    assert "filters.platform" in notice["dataVariables"]["note"] and "What to do" in notice["dataVariables"]["note"]

    await pool.execute("UPDATE shared_links SET filters = '{}', revoked_at = now()")
    await pool.execute("UPDATE shared_report_schedules SET next_run_at = $1", FIRE + timedelta(days=1))
    await tick(pool, redis, s, now=FIRE + timedelta(days=1))
    await drain(s, pool, redis, tmp_path)
    latest = await pool.fetchrow("SELECT status, error FROM shared_report_runs ORDER BY fire_at DESC LIMIT 1")
    assert latest["status"] == "failed" and "revoked" in latest["error"]
    assert len(fx.loops.received) == 2 and "revoked" in fx.loops.received[1]["dataVariables"]["note"]
