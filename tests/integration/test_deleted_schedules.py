"""Deleting keeps history: a deleted schedule and its runs stay readable, it can be restored (paused), and
retention removes it after RETENTION_DAYS."""

from __future__ import annotations

from uuid import UUID

from arq.connections import ArqRedis

from producer.retention import prune
from producer.tick import tick
from shared.db import Pool
from shared.settings import Settings
from tests.support.api import Api, World, body, token


async def test_delete_keeps_history_and_restore_brings_it_back_paused(
    api: Api, world: World, pool: Pool, redis: ArqRedis, settings: Settings
) -> None:
    _, created = await api.call("POST", "/v1/schedules", body(world, name="Weekly"))
    sid = created["id"]
    status, accepted = await api.call("POST", f"/v1/schedules/{sid}/run")
    assert status == 202
    assert (await api.call("DELETE", f"/v1/schedules/{sid}"))[0] == 204

    status, got = await api.call("GET", f"/v1/schedules/{sid}")
    assert status == 200 and got["deleted_at"] and got["enabled"] is False and got["next_run_at"] is None
    assert got["upcoming"] == [] and got["recipients"][0]["email"] == "a@acme.example"
    status, history = await api.call("GET", f"/v1/schedules/{sid}/runs")
    assert status == 200 and [r["id"] for r in history["items"]] == [accepted["run_id"]]
    status, everywhere = await api.call("GET", "/v1/runs")
    assert [(r["schedule_name"], r["id"]) for r in everywhere["items"]] == [("Weekly", accepted["run_id"])]
    assert (await api.call("GET", f"/v1/schedules/{sid}/stats"))[0] == 200
    assert (await api.call("GET", f"/v1/schedules/{sid}", bearer=token(world.member)))[0] == 200
    assert (await api.call("GET", f"/v1/schedules/{sid}", bearer=token(world.other_owner)))[0] == 404

    # Changing it answers 410 Gone, naming the way back.
    for method, path, payload in [
        ("PATCH", f"/v1/schedules/{sid}", {"name": "x"}),
        ("PUT", f"/v1/schedules/{sid}/recipients", {"recipients": []}),
        ("POST", f"/v1/schedules/{sid}/run", None),
        ("DELETE", f"/v1/schedules/{sid}", None),
        ("POST", "/v1/destinations", {"channel": "slack", "slack_channel_id": "C0123456789", "schedule_id": sid}),
    ]:
        status, error = await api.call(method, path, payload)
        assert status == 410 and error["error"]["code"] == "gone", (method, path, error)
        assert "restore" in error["error"]["message"]

    # Listed only when asked for.
    _, listed = await api.call("GET", "/v1/schedules")
    assert listed["items"] == []
    _, with_deleted = await api.call("GET", "/v1/schedules?include_deleted=true")
    assert [s["id"] for s in with_deleted["items"]] == [sid]
    status, error = await api.call("GET", "/v1/schedules?include_deleted=yes")
    assert status == 422 and error["error"]["details"][0]["field"] == "include_deleted"

    # A member may not restore; the owner may, and it comes back paused.
    assert (await api.call("POST", f"/v1/schedules/{sid}/restore", bearer=token(world.member)))[0] == 403
    await pool.execute("UPDATE shared_report_schedules SET next_run_at = now() - interval '1 day'")
    status, restored = await api.call("POST", f"/v1/schedules/{sid}/restore")
    assert status == 200, restored
    assert restored["deleted_at"] is None and restored["enabled"] is False and restored["next_run_at"] is None
    assert (await tick(pool, redis, settings)).claimed == 0
    status, error = await api.call("POST", f"/v1/schedules/{sid}/restore")
    assert status == 409 and error["error"]["code"] == "conflict"
    status, resumed = await api.call("PATCH", f"/v1/schedules/{sid}", {"enabled": True})
    assert status == 200 and resumed["next_run_at"] is not None


async def test_retention_removes_a_schedule_deleted_long_ago(
    api: Api, world: World, pool: Pool, settings: Settings
) -> None:
    _, old = await api.call("POST", "/v1/schedules", body(world))
    _, recent = await api.call("POST", "/v1/schedules", body(world))
    for created in (old, recent):
        assert (await api.call("DELETE", f"/v1/schedules/{created['id']}"))[0] == 204
    await pool.execute(
        "UPDATE shared_report_schedules SET deleted_at = now() - make_interval(days => $2) WHERE id = $1",
        UUID(old["id"]),
        settings.retention_days + 1,
    )
    result = await prune(pool, settings)
    assert result.schedules == 1
    assert (await api.call("GET", f"/v1/schedules/{old['id']}"))[0] == 404
    assert (await api.call("POST", f"/v1/schedules/{old['id']}/restore"))[0] == 404
    assert (await api.call("POST", f"/v1/schedules/{recent['id']}/restore"))[0] == 200
