"""Preview, time zones, the organization's runs and a schedule's figures, through the HTTP API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from shared.db import Pool
from tests.support.api import Api, World, body, token


async def test_preview_shows_fires_in_the_zone_and_writes_nothing(api: Api, world: World, pool: Pool) -> None:
    status, out = await api.call(
        "POST",
        "/v1/schedules/preview",
        {
            "cadence": "weekly",
            "scheduled_time": "09:30",
            "day_of_week": 1,
            "timezone": "Europe/London",
            "count": 3,
            "from": "2026-03-20T00:00:00Z",
        },
    )
    assert status == 200, out
    assert (out["cron_expression"], out["timezone"]) == ("30 9 * * 1", "Europe/London")
    # Across the spring change (29 March): 09:30 local is 09:30 UTC, then 08:30 UTC.
    assert out["fires"] == [
        {"at": "2026-03-23T09:30:00Z", "local": "2026-03-23T09:30:00+00:00"},
        {"at": "2026-03-30T08:30:00Z", "local": "2026-03-30T09:30:00+01:00"},
        {"at": "2026-04-06T08:30:00Z", "local": "2026-04-06T09:30:00+01:00"},
    ]
    status, cron = await api.call("POST", "/v1/schedules/preview", {"cron_expression": "0 7 * * 1-5"})
    assert status == 200 and cron["timezone"] == "UTC" and len(cron["fires"]) == 5
    first = datetime.fromisoformat(cron["fires"][0]["at"])
    assert first > datetime.now(UTC) and (first.hour, first.minute) == (7, 0)
    assert await pool.fetchval("SELECT count(*) FROM shared_report_schedules") == 0


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"cron_expression": "61 * * * *"}, "cron_expression"),
        ({"cron_expression": "* * * * *"}, "cron_expression"),
        ({"cadence": "daily", "scheduled_time": "09:30", "timezone": "Mars/Olympus"}, "timezone"),
        ({"cadence": "daily"}, "scheduled_time"),
        ({"cadence": "weekly", "cron_expression": "0 9 * * *"}, "cadence"),
        ({"cron_expression": "0 9 * * *", "count": 51}, "count"),
        ({"cron_expression": "0 9 * * *", "count": "5"}, "count"),
        ({"cron_expression": "0 9 * * *", "from": "2026-03-20T00:00:00"}, "from"),
        ({"cron_expression": "0 9 * * *", "from": "9999-12-31T00:00:00Z"}, "from"),
        ({"cron_expression": "0 9 * * *", "shared_link_id": "x"}, "shared_link_id"),
    ],
)
async def test_preview_refuses_what_create_refuses(api: Api, payload: dict[str, Any], field: str) -> None:
    status, error = await api.call("POST", "/v1/schedules/preview", payload)
    assert status == 422, error
    assert error["error"]["details"][0]["field"] == field, error


async def test_preview_keeps_inside_the_window(api: Api) -> None:
    weekly = {"cadence": "weekly", "scheduled_time": "09:30", "day_of_week": "monday", "timezone": "Europe/London"}
    window = {"starts_at": "2027-01-01T00:00:00Z", "ends_at": "2027-01-20T00:00:00Z", "count": 10}
    status, out = await api.call("POST", "/v1/schedules/preview", {**weekly, **window})
    assert status == 200, out
    assert [f["at"] for f in out["fires"]] == [f"2027-01-{d:02d}T09:30:00Z" for d in (4, 11, 18)]
    status, error = await api.call(
        "POST",
        "/v1/schedules/preview",
        {**weekly, "starts_at": "2027-02-01T00:00:00Z", "ends_at": "2027-01-01T00:00:00Z"},
    )
    assert status == 422 and error["error"]["details"][0] == {"field": "ends_at", "message": "must be after starts_at"}


async def test_preview_gives_the_same_message_as_create(api: Api, world: World) -> None:
    wrong = {"cadence": None, "scheduled_time": None, "cron_expression": "0 9 * * 8"}
    _, on_create = await api.call("POST", "/v1/schedules", {**body(world), **wrong})
    _, on_preview = await api.call("POST", "/v1/schedules/preview", {"cron_expression": "0 9 * * 8"})
    assert on_create["error"]["message"] == on_preview["error"]["message"]
    assert (await api.call("POST", "/v1/schedules/preview", bearer="not-a-jwt"))[0] == 401


async def test_timezones_list_every_accepted_name_with_its_offset(api: Api) -> None:
    status, zones = await api.call("GET", "/v1/timezones")
    assert status == 200
    by_name = {z["name"]: z for z in zones["items"]}
    assert len(by_name) > 300 and "Europe" not in by_name
    assert by_name["UTC"] == {"name": "UTC", "utc_offset": "+00:00", "offset_seconds": 0}
    assert by_name["Asia/Kolkata"] == {"name": "Asia/Kolkata", "utc_offset": "+05:30", "offset_seconds": 19800}
    # Every listed name is accepted by create.
    for name in ("America/St_Johns", "Pacific/Chatham", "Etc/GMT+12"):
        assert name in by_name
        status, out = await api.call(
            "POST", "/v1/schedules/preview", {"cron_expression": "0 9 * * *", "timezone": name}
        )
        assert status == 200, out


async def _runs(pool: Pool, schedule: str, specs: list[tuple[str, str]], start: datetime) -> list[UUID]:
    """Runs of one schedule, one minute apart from `start`, as (trigger, status)."""
    ids = []
    for minute, (trigger, status) in enumerate(specs):
        at = start + timedelta(minutes=minute)
        final = status not in ("queued", "running")
        ids.append(
            await pool.fetchval(
                "INSERT INTO shared_report_runs (schedule_id, fire_at, trigger, status, created_at, started_at,"
                " finished_at, row_count, byte_count) VALUES ($1, $2, $3, $4, $2, $5, $6, $7, $8) RETURNING id",
                UUID(schedule),
                at,
                trigger,
                status,
                at if final else None,
                at + timedelta(seconds=minute + 1) if final else None,
                10 * minute if final else None,
                100 * minute if final else None,
            )
        )
    return ids


async def test_organization_runs_newest_first_filtered_and_paged(api: Api, world: World, pool: Pool) -> None:
    _, one = await api.call("POST", "/v1/schedules", body(world, name="One"))
    _, two = await api.call("POST", "/v1/schedules", body(world, name="Two"))
    start = datetime(2026, 12, 1, tzinfo=UTC)
    first = await _runs(pool, one["id"], [("cron", "sent"), ("manual", "failed"), ("cron", "partial")], start)
    second = await _runs(pool, two["id"], [("cron", "failed"), ("replay", "sent")], start + timedelta(minutes=10))
    other_link_schedule = await pool.fetchval(
        "INSERT INTO shared_report_schedules (organization_id, shared_link_id, name, cadence, cron_expression,"
        " timezone) VALUES ($1, $2, 'Theirs', 'custom', '0 9 * * *', 'UTC') RETURNING id",
        world.other_org,
        world.other_link,
    )
    await _runs(pool, str(other_link_schedule), [("cron", "failed")], start)

    status, page = await api.call("GET", "/v1/runs?limit=2")
    assert status == 200, page
    assert [r["id"] for r in page["items"]] == [str(second[1]), str(second[0])]
    assert page["items"][0]["schedule_name"] == "Two" and page["items"][0]["schedule_id"] == two["id"]
    assert page["items"][0]["organization_id"] == str(world.org) and page["items"][0]["trigger"] == "replay"
    everything = page["items"]
    while page["next_cursor"]:
        status, page = await api.call("GET", f"/v1/runs?limit=2&cursor={page['next_cursor']}")
        everything += page["items"]
    assert [r["id"] for r in everything] == [str(i) for i in reversed(first + second)]

    status, failed = await api.call("GET", f"/v1/runs?organization_id={world.org}&status=failed")
    assert [r["id"] for r in failed["items"]] == [str(second[0]), str(first[1])]
    _, manual = await api.call("GET", "/v1/runs?trigger=manual")
    assert [r["id"] for r in manual["items"]] == [str(first[1])]
    _, of_one = await api.call("GET", f"/v1/runs?schedule_id={one['id']}&status=partial")
    assert [r["id"] for r in of_one["items"]] == [str(first[2])]
    window = "since=2026-12-01T00:01:00Z&until=2026-12-01T00:10:00%2B00:00"
    _, windowed = await api.call("GET", f"/v1/runs?{window}")
    assert [r["id"] for r in windowed["items"]] == [str(first[2]), str(first[1])]

    # The other organization sees only its own; a member reads; a stranger's filter is not found.
    _, theirs = await api.call("GET", "/v1/runs", bearer=token(world.other_owner))
    assert [r["schedule_name"] for r in theirs["items"]] == ["Theirs"]
    assert (await api.call("GET", "/v1/runs", bearer=token(world.member)))[0] == 200
    status, error = await api.call("GET", f"/v1/runs?organization_id={world.org}", bearer=token(world.other_owner))
    assert status == 404 and error["error"]["message"] == "organization not found"
    _, service = await api.call("GET", "/v1/runs", bearer=token(role="service_role"))
    assert len(service["items"]) == 6


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=done", "status"),
        ("trigger=api", "trigger"),
        ("since=yesterday", "since"),
        ("until=2026-12-01T00:00:00", "until"),
        ("schedule_id=42", "schedule_id"),
        ("limit=101", "limit"),
        ("cursor=zzz", "cursor"),
    ],
)
async def test_organization_runs_refuse_bad_filters(api: Api, query: str, field: str) -> None:
    status, error = await api.call("GET", f"/v1/runs?{query}")
    assert status == 422 and error["error"]["details"][0]["field"] == field, error


async def test_organization_runs_refuse_unknown_parameters(api: Api) -> None:
    status, error = await api.call("GET", "/v1/runs?state=failed&status=failed")
    assert status == 400, error
    assert error["error"]["details"] == [{"field": "state", "message": "is not a parameter of this route"}]
    assert "'state'" in error["error"]["message"] and "status" in error["error"]["message"]


async def test_organization_runs_use_the_index(api: Api, world: World, pool: Pool) -> None:
    _, one = await api.call("POST", "/v1/schedules", body(world))
    await pool.execute(
        "INSERT INTO shared_report_runs (schedule_id, fire_at, trigger, status, created_at)"
        " SELECT $1, t, 'cron', CASE WHEN g % 50 = 0 THEN 'failed' ELSE 'sent' END, t"
        " FROM generate_series(1, 20000) g, LATERAL (SELECT now() - g * interval '1 minute' AS t) x",
        UUID(one["id"]),
    )
    await pool.execute("ANALYZE shared_report_runs")
    from producer.api import sql

    for status in (None, "failed"):
        query, args = sql.organization_runs({"organization_id": world.org, "status": status}, None, 51)
        plan = "\n".join(r[0] for r in await pool.fetch("EXPLAIN " + query, *args))
        assert "shared_report_runs_org" in plan and "Sort" not in plan, plan


async def test_schedule_stats(api: Api, world: World, pool: Pool) -> None:
    _, one = await api.call("POST", "/v1/schedules", body(world))
    now = await pool.fetchval("SELECT now()")
    await _runs(pool, one["id"], [("cron", "sent")], now - timedelta(days=40))
    await _runs(
        pool,
        one["id"],
        [("cron", "sent"), ("cron", "failed"), ("manual", "sent"), ("cron", "skipped"), ("cron", "running")],
        now - timedelta(days=2),
    )
    status, stats = await api.call("GET", f"/v1/schedules/{one['id']}/stats")
    assert status == 200, stats
    assert stats["days"] == 30 and stats["schedule_id"] == one["id"]
    assert stats["runs"] == {"sent": 2, "partial": 0, "failed": 1, "skipped": 1, "dead": 0}
    # Durations 1, 2, 3 and 4 s (the run's minute + 1).
    assert stats["duration_seconds"] == {"p50": 2.5, "p95": pytest.approx(3.85)}
    assert stats["last_run"]["status"] == "skipped" and stats["last_run"]["row_count"] == 30
    assert stats["last_run"]["byte_count"] == 300
    last_success = datetime.fromisoformat(stats["last_success_at"])
    assert last_success == now - timedelta(days=2) + timedelta(minutes=2, seconds=3)
    _, wide = await api.call("GET", f"/v1/schedules/{one['id']}/stats?days=60")
    assert wide["runs"]["sent"] == 3
    for bad in ("days=0", "days=3651", "days=x"):
        status, error = await api.call("GET", f"/v1/schedules/{one['id']}/stats?{bad}")
        assert status == 422 and error["error"]["details"][0]["field"] == "days"
    assert (await api.call("GET", f"/v1/schedules/{one['id']}/stats?day=3"))[0] == 400
    assert (await api.call("GET", f"/v1/schedules/{one['id']}/stats", bearer=token(world.other_owner)))[0] == 404
    _, empty = await api.call("POST", "/v1/schedules", body(world))
    status, none = await api.call("GET", f"/v1/schedules/{empty['id']}/stats")
    assert status == 200 and none["last_run"] is None and none["duration_seconds"] == {"p50": None, "p95": None}
