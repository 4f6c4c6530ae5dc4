"""Failure notices reach the schedule's notify_on_failure once per quiet window, and one "recovered" notice
follows the first success; a test run's failure still tells its creator only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from arq.connections import ArqRedis

from devkit.fakes.base import Action
from devkit.fakes.slack import FakeSlack
from producer.tick import tick
from shared import runs
from shared.db import Pool
from shared.message import EmailRecipient, ReportMessage
from shared.settings import Settings
from tests.support import seed
from tests.support.api import Api, World, body
from tests.support.harness import Fakes, drain, point_at
from tests.support.runs import FIRE, make

SLACK_TOKEN = "xoxb-1-notices-token"


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack({SLACK_TOKEN}, channels={"C0ALERTS"})
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


def notices(fx: Fakes) -> list[tuple[str, str]]:
    """(address, status) of each notice email Loops took, reports left out."""
    return [(r["email"], r["dataVariables"]["status"]) for r in fx.loops.sent if "status" in r["dataVariables"]]


async def fire_at(pool: Pool, redis: ArqRedis, s: Settings, tmp_path: Path, days: int) -> dict[str, Any]:
    at = FIRE + timedelta(days=days)
    await pool.execute("UPDATE shared_report_schedules SET next_run_at = $1", at)
    await tick(pool, redis, s, now=at)
    await drain(s, pool, redis, tmp_path)
    return dict(await pool.fetchrow("SELECT status, error FROM shared_report_runs WHERE fire_at = $1", at))


async def test_three_failures_one_notice_then_one_recovered(
    pool: Pool, redis: ArqRedis, settings: Settings, fx: Fakes, slack: FakeSlack, tmp_path: Path
) -> None:
    s = point_at(settings, fx, slack_api_url=slack.api_url, failure_notice_quiet_hours=24.0)
    org, sched = await make(pool, emails=("team@example.com",))
    await seed.user(pool, "admin@example.com", org, "admin")
    await seed.user(pool, "member@example.com", org, "member")
    vault = settings.vault()
    await seed.channel_credential(pool, vault, org, "slack", SLACK_TOKEN)
    alerts = await seed.destination(pool, vault, org, None, "slack", "C0ALERTS")
    await pool.execute(
        "UPDATE shared_report_schedules SET notify_on_failure = $1",
        ["owner", "admins", f"destination:{alerts}", "Admin@Example.com"],
    )
    # The shared link is revoked: every fire fails.
    await pool.execute("UPDATE shared_links SET revoked_at = now()")
    for day in range(3):
        assert (await fire_at(pool, redis, s, tmp_path, day))["status"] == "failed"
    # creator@example.com made the schedule (owner); the admins are the creator (an owner) and admin@: each once.
    assert sorted(notices(fx)) == [("admin@example.com", "failed"), ("creator@example.com", "failed")]
    [alert] = [m for m in slack.received if m.get("method") == "chat.postMessage"]
    assert alert["channel_id"] == "C0ALERTS" and "revoked" in alert["text"]
    streak = await pool.fetchrow("SELECT failures, noticed_at FROM shared_report_failure_streaks")
    assert streak["failures"] == 2 and streak["noticed_at"] is not None

    await pool.execute("UPDATE shared_links SET revoked_at = NULL")
    assert (await fire_at(pool, redis, s, tmp_path, 3))["status"] == "sent"
    assert sorted(n for n in notices(fx) if n[1] == "recovered") == [
        ("admin@example.com", "recovered"),
        ("creator@example.com", "recovered"),
    ]
    posted = [m for m in slack.received if m.get("method") == "chat.postMessage"]
    assert len(posted) == 2 and "delivered again" in posted[1]["text"]
    assert await pool.fetchval("SELECT count(*) FROM shared_report_failure_streaks") == 0
    # Another success: nothing more.
    assert (await fire_at(pool, redis, s, tmp_path, 4))["status"] == "sent"
    assert len(notices(fx)) == 4 and len([m for m in slack.received if m.get("method") == "chat.postMessage"]) == 2


async def test_the_quiet_window_counts_failures_since_the_last_notice(
    pool: Pool, redis: ArqRedis, settings: Settings, fx: Fakes, tmp_path: Path
) -> None:
    s = point_at(settings, fx, failure_notice_quiet_hours=24.0)
    await make(pool, emails=("team@example.com",))
    await pool.execute("UPDATE shared_links SET revoked_at = now()")
    for day in range(2):
        await fire_at(pool, redis, s, tmp_path, day)
    assert notices(fx) == [("creator@example.com", "failed")]
    # The window has passed: the next failure is told, with the count since the last notice.
    await pool.execute("UPDATE shared_report_failure_streaks SET noticed_at = now() - interval '25 hours'")
    await fire_at(pool, redis, s, tmp_path, 2)
    assert notices(fx) == [("creator@example.com", "failed")] * 2
    note = [r for r in fx.loops.sent if "status" in r["dataVariables"]][-1]["dataVariables"]["note"]
    assert note.startswith("2 run(s) failed since the last notice")


async def test_a_failed_test_run_tells_its_creator_each_time_and_starts_no_streak(
    pool: Pool, redis: ArqRedis, settings: Settings, fx: Fakes, tmp_path: Path
) -> None:
    s = point_at(settings, fx)
    org, sched = await make(pool, emails=("team@example.com",))
    await pool.execute("UPDATE shared_report_schedules SET notify_on_failure = '{admins}'")
    await pool.execute("UPDATE shared_links SET revoked_at = now()")
    link = await pool.fetchval("SELECT id FROM shared_links")
    for second in range(2):
        message = ReportMessage(
            v=1,
            run_id=UUID(int=second + 1),
            schedule_id=sched,
            organization_id=org,
            shared_link_id=link,
            fire_at=FIRE + timedelta(seconds=second),
            trigger="manual",
            recipients=[EmailRecipient(channel="email", email="me@example.com")],
        )
        await runs.record(pool, message)
        await runs.enqueue(pool, redis, s.queue_name, message)
        await drain(s, pool, redis, tmp_path)
    assert notices(fx) == [("creator@example.com", "failed")] * 2
    assert await pool.fetchval("SELECT count(*) FROM shared_report_failure_streaks") == 0


async def test_notify_on_failure_through_the_api(api: Api, world: World, pool: Pool, settings: Settings) -> None:
    vault = settings.vault()
    mine = await seed.destination(pool, vault, world.org, None, "slack", "C0ALERTS")
    theirs = await seed.destination(pool, vault, world.other_org, None, "slack", "C0THEIRS")
    targets = ["owner", "admins", "oncall@acme.example", f"destination:{mine}"]
    status, created = await api.call("POST", "/v1/schedules", body(world, notify_on_failure=targets))
    assert status == 201 and created["notify_on_failure"] == targets, created
    sid = created["id"]
    for bad, field in (
        (["everyone"], "notify_on_failure.0"),
        (["owner", f"destination:{theirs}"], "notify_on_failure.1"),
        (["destination:nope"], "notify_on_failure.0"),
    ):
        status, error = await api.call("PATCH", f"/v1/schedules/{sid}", {"notify_on_failure": bad})
        assert status == 422 and error["error"]["details"][0]["field"] == field, error
    await api.call("PUT", f"/v1/organizations/{world.org}/policy", {"allowed_email_domains": ["acme.example"]})
    status, error = await api.call("PATCH", f"/v1/schedules/{sid}", {"notify_on_failure": ["x@gmail.example"]})
    assert status == 422 and "allowed_email_domains" in error["error"]["message"], error
    status, reset = await api.call("PATCH", f"/v1/schedules/{sid}", {"notify_on_failure": None})
    assert status == 200 and reset["notify_on_failure"] is None
    change = await pool.fetchval(
        "SELECT changes FROM shared_report_audit_log WHERE action = 'schedule.update' ORDER BY created_at DESC LIMIT 1"
    )
    assert change == {"notify_on_failure": {"before": targets, "after": None}}


async def test_a_notice_does_not_list_a_withheld_recipient_as_not_delivered(
    pool: Pool, redis: ArqRedis, settings: Settings, fx: Fakes, tmp_path: Path
) -> None:
    s = point_at(settings, fx)
    org, _ = await make(pool, emails=("a@example.com", "b@outside.example"))
    await pool.execute(
        "INSERT INTO shared_report_destination_policies (organization_id, allowed_email_domains)"
        " VALUES ($1, '{example.com}')",
        org,
    )
    fx.loops.fail_next(Action(404, {"success": False, "message": "Transactional email not found"}))
    assert (await fire_at(pool, redis, s, tmp_path, 0))["status"] == "failed"
    note = [r for r in fx.loops.sent if "status" in r["dataVariables"]][-1]["dataVariables"]["note"]
    assert "Not delivered: email a@example.com" in note and "outside.example" not in note
