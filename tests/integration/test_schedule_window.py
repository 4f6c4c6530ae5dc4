"""starts_at / ends_at: no fire outside the window, and after the last fire the schedule says it has ended."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest
from arq.connections import ArqRedis

from producer.tick import tick
from shared.db import Pool
from shared.settings import Settings
from tests.support.api import Api, World, body, issue

# Weekly on Mondays at 09:30 London (GMT in January): 4, 11 and 18 January 2027 fall in the window.
WINDOW = {"day_of_week": 1, "starts_at": "2027-01-01T00:00:00Z", "ends_at": "2027-01-20T00:00:00+00:00"}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def test_fires_only_inside_the_window_then_ends(
    api: Api, world: World, pool: Pool, redis: ArqRedis, settings: Settings
) -> None:
    status, created = await api.call("POST", "/v1/schedules", body(world, **WINDOW))
    assert status == 201, created
    assert at(created["next_run_at"]) == datetime(2027, 1, 4, 9, 30, tzinfo=UTC)
    assert [at(u) for u in created["upcoming"]] == [datetime(2027, 1, d, 9, 30, tzinfo=UTC) for d in (4, 11, 18)]
    assert created["starts_at"] == "2027-01-01T00:00:00Z" and created["ended"] is False
    sid = UUID(created["id"])

    for day in (4, 11, 18):
        fire = datetime(2027, 1, day, 9, 30, tzinfo=UTC)
        assert (await tick(pool, redis, settings, now=fire)).claimed == 1
    fired = [r["fire_at"] for r in await pool.fetch("SELECT fire_at FROM shared_report_runs ORDER BY fire_at")]
    assert fired == [datetime(2027, 1, d, 9, 30, tzinfo=UTC) for d in (4, 11, 18)]
    assert await pool.fetchval("SELECT next_run_at FROM shared_report_schedules WHERE id = $1", sid) is None
    status, ended = await api.call("GET", f"/v1/schedules/{sid}")
    assert status == 200 and ended["ended"] is True and ended["next_run_at"] is None and ended["upcoming"] == []
    # Nothing is due any more, whatever the clock says.
    assert (await tick(pool, redis, settings, now=datetime(2027, 6, 1, tzinfo=UTC))).claimed == 0


async def test_an_outage_past_the_end_fires_nothing_after_it(
    api: Api, world: World, pool: Pool, redis: ArqRedis, settings: Settings
) -> None:
    _, created = await api.call("POST", "/v1/schedules", body(world, misfire_policy="fire_all", **WINDOW))
    # Down from before the first fire until March: only the window's three fires are made.
    await tick(pool, redis, settings, now=datetime(2027, 3, 1, tzinfo=UTC))
    fired = [r["fire_at"] for r in await pool.fetch("SELECT fire_at FROM shared_report_runs ORDER BY fire_at")]
    assert fired == [datetime(2027, 1, d, 9, 30, tzinfo=UTC) for d in (4, 11, 18)]
    _, got = await api.call("GET", f"/v1/schedules/{created['id']}")
    assert got["next_run_at"] is None and got["ended"] is True


async def test_moving_the_window_moves_the_next_fire(api: Api, world: World) -> None:
    _, created = await api.call("POST", "/v1/schedules", body(world, cadence="daily", ends_at="2100-01-01T00:00:00Z"))
    sid = created["id"]
    assert created["ended"] is False and created["next_run_at"] is not None
    status, ended = await api.call("PATCH", f"/v1/schedules/{sid}", {"ends_at": "2001-01-01T00:00:00Z"})
    assert status == 200 and ended["next_run_at"] is None and ended["ended"] is True
    # Pausing and resuming an ended schedule does not bring it back; moving ends_at does.
    for enabled in (False, True):
        status, toggled = await api.call("PATCH", f"/v1/schedules/{sid}", {"enabled": enabled})
        assert status == 200 and toggled["next_run_at"] is None and toggled["ended"] is True
    status, open_ended = await api.call("PATCH", f"/v1/schedules/{sid}", {"ends_at": None})
    assert status == 200 and open_ended["next_run_at"] is not None and open_ended["ended"] is False
    status, later = await api.call("PATCH", f"/v1/schedules/{sid}", {"starts_at": "2099-06-01T12:00:00+02:00"})
    assert status == 200 and at(later["next_run_at"]) == datetime(2099, 6, 2, 8, 30, tzinfo=UTC)


REFUSED = [
    ({"starts_at": "2027-02-01T00:00:00Z", "ends_at": "2027-01-01T00:00:00Z"}, "ends_at", "must be after starts_at"),
    ({"starts_at": "2027-02-01T00:00:00"}, "starts_at", "must carry a time zone"),
    ({"ends_at": "1999-01-01T00:00:00Z"}, "ends_at", "must be between 2000 and 3000"),
    ({"ends_at": "soon"}, "ends_at", "must be an instant with a time zone"),
    ({"ends_at": 1700000000}, "ends_at", "must be an instant with a time zone"),
]


@pytest.mark.parametrize(("window", "field", "message"), REFUSED)
async def test_window_refusals(
    api: Api, world: World, pool: Pool, window: dict[str, Any], field: str, message: str
) -> None:
    assert await api.call("POST", "/v1/schedules", body(world, **window)) == issue(422, field, message)
    assert await pool.fetchval("SELECT count(*) FROM shared_report_schedules") == 0
