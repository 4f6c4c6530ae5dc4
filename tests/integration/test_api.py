"""Every API route: happy paths, validation rules, auth and tenant isolation."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from aiohttp.test_utils import TestClient
from arq.connections import ArqRedis

from shared.db import Pool
from shared.settings import Settings
from tests.support.api import Api, World, body, token


async def test_create_get_list_update_delete(api: Api, world: World) -> None:
    status, created = await api.call("POST", "/v1/schedules", body(world, day_of_week=3))
    assert status == 201, created
    assert created["cron_expression"] == "30 9 * * 3" and created["name"] == "Acme Weekly"
    assert created["organization_id"] == str(world.org) and len(created["upcoming"]) == 5
    assert created["next_run_at"] == created["upcoming"][0].replace("Z", "+00:00") or created["next_run_at"]
    sid = created["id"]

    status, got = await api.call("GET", f"/v1/schedules/{sid}")
    assert status == 200 and got["recipients"][0]["email"] == "a@acme.example"

    status, patched = await api.call(
        "PATCH", f"/v1/schedules/{sid}", {"cron_expression": "0 7 * * 1-5", "timezone": "Asia/Tokyo"}
    )
    assert status == 200 and patched["cadence"] == "custom" and patched["scheduled_time"] is None
    assert patched["next_run_at"] != created["next_run_at"]

    status, paused = await api.call("PATCH", f"/v1/schedules/{sid}", {"enabled": False})
    assert status == 200 and paused["next_run_at"] is None and paused["upcoming"] == []
    status, resumed = await api.call("PATCH", f"/v1/schedules/{sid}", {"enabled": True})
    assert status == 200 and resumed["next_run_at"] is not None

    status, replaced = await api.call(
        "PUT",
        f"/v1/schedules/{sid}/recipients",
        {
            "recipients": [
                {"channel": "telegram", "telegram_chat_id": -100123},
                {"channel": "email", "user_id": str(world.member)},
            ]
        },
    )
    assert status == 200 and {r["channel"] for r in replaced["recipients"]} == {"email", "telegram"}

    for _ in range(2):
        await api.call("POST", "/v1/schedules", body(world, cadence="daily"))
    status, page = await api.call("GET", f"/v1/schedules?organization_id={world.org}&limit=2")
    assert status == 200 and len(page["items"]) == 2 and page["next_cursor"]
    status, rest = await api.call(
        "GET", f"/v1/schedules?organization_id={world.org}&limit=2&cursor={page['next_cursor']}"
    )
    assert status == 200 and len(rest["items"]) == 1 and rest["next_cursor"] is None
    ids = {i["id"] for i in page["items"] + rest["items"]}
    assert len(ids) == 3

    assert (await api.call("DELETE", f"/v1/schedules/{sid}"))[0] == 204
    status, deleted = await api.call("GET", f"/v1/schedules/{sid}")
    assert status == 200 and deleted["deleted_at"] is not None and not deleted["enabled"]
    assert (await api.call("DELETE", f"/v1/schedules/{sid}"))[0] == 410


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"cadence": None, "scheduled_time": None, "cron_expression": "61 * * * *"}, "cron_expression"),
        ({"cadence": None, "scheduled_time": None, "cron_expression": "*/1 * * * *"}, "cron_expression"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"scheduled_time": "25:00"}, "scheduled_time"),
        ({"scheduled_time": "9:30"}, "scheduled_time"),
        ({"cadence": "monthly", "day_of_month": 31}, "day_of_month"),
        ({"recipients": [{"channel": "sms", "email": "a@b.example"}]}, "recipients.0"),
        ({"recipients": [{"channel": "email", "email": f"u{i}@acme.example"} for i in range(101)]}, "recipients"),
        ({"recipients": [{"channel": "email", "email": "x@acme.example"}] * 2}, "recipients.1"),
        ({"recipients": [{"channel": "email", "user_id": str(uuid4())}]}, "recipients.0.user_id"),
        ({"cadence": "weekly", "cron_expression": "0 9 * * *"}, "cadence"),
        ({"jitter_seconds": 4000}, "jitter_seconds"),
        ({"format": "pdf"}, "format"),
        ({"unknown": 1}, "unknown"),
    ],
)
async def test_validation_rules(api: Api, world: World, change: dict[str, Any], field: str) -> None:
    payload = {k: v for k, v in {**body(world), **change}.items() if v is not None}
    status, error = await api.call("POST", "/v1/schedules", payload)
    assert status == 422, error
    assert error["error"]["code"] == "validation_error"
    assert any(d["field"].startswith(field) for d in error["error"]["details"]), error


async def test_wrong_org_link_malformed_json_and_oversized_body(api: Api, world: World) -> None:
    status, error = await api.call("POST", "/v1/schedules", body(world, shared_link_id=str(world.other_link)))
    assert status == 422 and error["error"]["details"][0]["field"] == "shared_link_id"
    status, error = await api.call("POST", "/v1/schedules", raw=b'{"shared_link_id": ')
    assert status == 400 and error["error"]["code"] == "bad_request"
    status, error = await api.call("POST", "/v1/schedules", raw=b'{"name": "' + b"x" * 70_000 + b'"}')
    assert status == 413 and error["error"]["code"] == "payload_too_large"


async def test_auth_failures(api: Api, world: World) -> None:
    for bad in (
        token(world.owner, secret="wrong-secret-of-sufficient-length-000"),
        token(world.owner, aud="other"),
        token(world.owner, exp=int(time.time()) - 10),
        "not-a-jwt",
    ):
        status, error = await api.call("GET", "/v1/schedules", bearer=bad)
        assert status == 401 and error["error"]["code"] == "unauthorized"
    async with api.client.get("/v1/schedules") as response:
        assert response.status == 401


async def test_tenant_isolation_and_member_cannot_write(api: Api, world: World, pool: Pool) -> None:
    _, created = await api.call("POST", "/v1/schedules", body(world))
    sid = created["id"]
    intruder = token(world.other_owner)
    for method, path, payload in [
        ("GET", f"/v1/schedules/{sid}", None),
        ("PATCH", f"/v1/schedules/{sid}", {"name": "x"}),
        ("DELETE", f"/v1/schedules/{sid}", None),
        ("PUT", f"/v1/schedules/{sid}/recipients", {"recipients": []}),
        ("POST", f"/v1/schedules/{sid}/run", None),
        ("GET", f"/v1/schedules/{sid}/runs", None),
    ]:
        status, error = await api.call(method, path, payload, bearer=intruder)
        assert status == 404, (method, path, error)
    status, error = await api.call("GET", f"/v1/schedules?organization_id={world.org}", bearer=intruder)
    assert status == 404 and error["error"] == {"code": "not_found", "message": "organization not found", "details": []}

    dead = await pool.fetchval(
        "INSERT INTO shared_report_dead_letters (organization_id, job_id, payload, error) "
        "VALUES ($1, 'j', '{}', 'e') RETURNING id",
        world.org,
    )
    assert (await api.call("POST", f"/v1/dead-letters/{dead}/replay", bearer=intruder))[0] == 404
    status, listing = await api.call("GET", "/v1/dead-letters", bearer=intruder)
    assert status == 200 and listing["items"] == []

    member = token(world.member)
    assert (await api.call("GET", f"/v1/schedules/{sid}", bearer=member))[0] == 200
    status, error = await api.call("PATCH", f"/v1/schedules/{sid}", {"name": "x"}, bearer=member)
    assert status == 403 and error["error"]["code"] == "forbidden"
    assert (await api.call("POST", "/v1/schedules", body(world), bearer=member))[0] == 403
    assert (await api.call("POST", f"/v1/schedules/{sid}/run", bearer=member))[0] == 403

    service = token(role="service_role")
    assert (await api.call("GET", f"/v1/schedules/{sid}", bearer=service))[0] == 200
    status, listing = await api.call("GET", "/v1/dead-letters", bearer=service)
    assert status == 200 and len(listing["items"]) == 1


async def test_test_run_dead_letter_replay_and_history(
    api: Api, world: World, pool: Pool, redis: ArqRedis, settings: Settings, tmp_path: Path
) -> None:
    from tests.support.harness import drain, fakes, point_at
    from tests.support.reports import video

    await video(pool, world.org, title="api video")
    _, created = await api.call(
        "POST",
        "/v1/schedules",
        body(
            world,
            send_telegram=True,
            recipients=[
                {"channel": "email", "email": "a@acme.example"},
                {"channel": "telegram", "telegram_chat_id": 77},
            ],
        ),
    )
    sid = created["id"]
    async with fakes(tmp_path) as fx:
        s = point_at(settings, fx)
        status, accepted = await api.call("POST", f"/v1/schedules/{sid}/run")
        assert status == 202
        await drain(s, pool, redis, tmp_path)
        assert (
            fx.loops.sent[0]["attachments"][0]["filename"]
            == "acme-weekly-" + fx.loops.sent[0]["attachments"][0]["filename"].split("acme-weekly-")[1]
        )
        assert b"api video" in fx.telegram.documents(77)[0]["document"]["data"]

        status, only = await api.call(
            "POST", f"/v1/schedules/{sid}/run", {"recipients": [{"channel": "email", "email": "solo@acme.example"}]}
        )
        assert status == 202
        await drain(s, pool, redis, tmp_path)
        assert fx.loops.sent[-1]["email"] == "solo@acme.example"

        status, history = await api.call("GET", f"/v1/schedules/{sid}/runs")
        assert status == 200 and [r["id"] for r in history["items"]] == [only["run_id"], accepted["run_id"]]
        first = history["items"][1]
        assert first["status"] == "sent" and first["trigger"] == "manual"
        assert {n["channel"] for n in first["notifications"]} == {"email", "telegram"}

        fx.telegram.blocked.add(77)
        run_id = accepted["run_id"]
        await pool.execute("UPDATE shared_report_runs SET status = 'dead' WHERE id = $1", run_id)
        payload = await pool.fetchval("SELECT message FROM shared_report_runs WHERE id = $1", run_id)
        dead = await pool.fetchval(
            "INSERT INTO shared_report_dead_letters (run_id, organization_id, job_id, payload, error) "
            "VALUES ($1, $2, 'j', $3, 'e') RETURNING id",
            UUID(run_id),
            world.org,
            payload,
        )
        status, replay = await api.call("POST", f"/v1/dead-letters/{dead}/replay")
        assert status == 202
        await drain(s, pool, redis, tmp_path)
        # Both recipients were served by the original run: the replay serves nobody twice.
        assert (
            await pool.fetchval("SELECT status FROM shared_report_runs WHERE id = $1", UUID(replay["run_id"])) == "sent"
        )
        assert len(fx.telegram.documents(77)) == 1
        status, letters = await api.call("GET", f"/v1/dead-letters?organization_id={world.org}")
        assert letters["items"][0]["replay_count"] == 1


async def test_errors_never_500_and_health(api: Api, client: TestClient) -> None:
    assert (await api.call("GET", "/v1/schedules/not-a-uuid"))[0] == 404
    assert (await api.call("GET", "/v1/schedules?limit=0"))[0] == 422
    assert (await api.call("GET", "/v1/schedules?cursor=%%%"))[0] == 422
    assert (await api.call("GET", "/v1/nope"))[0] == 404
    async with client.get("/healthz") as r:
        assert r.status == 200
    async with client.get("/readyz") as r:
        assert r.status == 200, await r.text()
    async with client.get("/metrics") as r:
        assert r.status == 200 and "scheduled_reports_ticks_total" in await r.text()
    async with client.get("/v1/openapi.json") as r:
        doc = await r.json()
        assert doc["openapi"] == "3.1.0" and "/v1/schedules/{id}/run" in doc["paths"]


async def test_pause_resume_never_backfills_and_edits_recompute(
    api: Api, world: World, pool: Pool, redis: ArqRedis, settings: Settings
) -> None:
    from datetime import UTC, datetime, timedelta

    from producer.tick import tick

    _, created = await api.call(
        "POST",
        "/v1/schedules",
        body(world, cadence=None, scheduled_time=None, cron_expression="0 * * * *", misfire_policy="fire_all"),
    )
    sid = created["id"]
    assert (await api.call("PATCH", f"/v1/schedules/{sid}", {"enabled": False}))[0] == 200
    # Two days pass while paused.
    await pool.execute("UPDATE shared_report_schedules SET next_run_at = now() - interval '2 days'")
    assert (await tick(pool, redis, settings)).claimed == 0
    status, resumed = await api.call("PATCH", f"/v1/schedules/{sid}", {"enabled": True})
    assert status == 200
    nxt = datetime.fromisoformat(resumed["next_run_at"])
    assert datetime.now(UTC) < nxt <= datetime.now(UTC) + timedelta(hours=1)
    assert (await tick(pool, redis, settings)).claimed == 0
    assert await pool.fetchval("SELECT count(*) FROM shared_report_runs") == 0

    status, edited = await api.call(
        "PATCH", f"/v1/schedules/{sid}", {"cron_expression": "30 6 * * *", "timezone": "Asia/Tokyo"}
    )
    nxt = datetime.fromisoformat(edited["next_run_at"])
    assert status == 200 and (nxt.hour, nxt.minute) == (21, 30)  # 06:30 in Tokyo
    assert (await api.call("DELETE", f"/v1/schedules/{sid}"))[0] == 204
    await pool.execute("UPDATE shared_report_schedules SET next_run_at = now() - interval '1 minute'")
    assert (await tick(pool, redis, settings)).claimed == 0
