"""The audit log through the HTTP API: one row per change, in its transaction, with no secret anywhere."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import orjson

from producer.retention import prune
from shared.db import Pool
from shared.settings import Settings
from tests.support.api import Api, World, body, token
from tests.support.destinations import BOT_TOKEN, PASSWORD, sftp

WEBHOOK_SECRET = "whsec_" + "C" * 43 + "="


async def rows(pool: Pool) -> list[dict[str, Any]]:
    found = await pool.fetch("SELECT * FROM shared_report_audit_log ORDER BY created_at, id")
    return [dict(r) for r in found]


async def dead_letter(pool: Pool, world: World) -> UUID:
    """A dead letter holding the message of the (only) run, as the consumer would store it."""
    payload = await pool.fetchval("SELECT message FROM shared_report_runs")
    dead: UUID = await pool.fetchval(
        "INSERT INTO shared_report_dead_letters (run_id, organization_id, job_id, payload, error)"
        " VALUES (NULL, $1, 'j', $2, 'e') RETURNING id",
        world.org,
        payload,
    )
    return dead


async def every_action(api: Api, world: World, pool: Pool) -> str:
    """Each audited action once through the API; returns the schedule's id."""
    status, created = await api.call("POST", "/v1/schedules", body(world, day_of_week=3))
    assert status == 201, created
    sid = created["id"]
    calls: list[tuple[str, str, Any, int]] = [
        ("PATCH", f"/v1/schedules/{sid}", {"name": "Renamed", "scheduled_time": "10:00"}, 200),
        ("PATCH", f"/v1/schedules/{sid}", {"enabled": False}, 200),
        ("PATCH", f"/v1/schedules/{sid}", {"enabled": True}, 200),
        ("PUT", f"/v1/schedules/{sid}/recipients", {"recipients": [{"channel": "email", "email": "b@x.example"}]}, 200),
        ("POST", f"/v1/schedules/{sid}/run", None, 202),
        (
            "POST",
            "/v1/destinations",
            {"channel": "webhook", "schedule_id": sid, "url": "https://hooks.example.com/r", "secret": WEBHOOK_SECRET},
            201,
        ),
        ("POST", "/v1/destinations", sftp(organization_id=str(world.org)), 201),
        ("PUT", "/v1/integrations/slack", {"organization_id": str(world.org), "bot_token": BOT_TOKEN}, 200),
        ("DELETE", f"/v1/integrations/slack?organization_id={world.org}", None, 204),
    ]
    for method, path, payload, expected in calls:
        status, answer = await api.call(method, path, payload)
        assert status == expected, (path, answer)
    webhook = await pool.fetchval("SELECT id FROM shared_report_destinations WHERE channel = 'webhook'")
    assert (await api.call("DELETE", f"/v1/destinations/{webhook}"))[0] == 204
    dead = await dead_letter(pool, world)
    assert (await api.call("POST", f"/v1/dead-letters/{dead}/replay"))[0] == 202
    assert (await api.call("DELETE", f"/v1/schedules/{sid}"))[0] == 204
    return str(sid)


async def test_every_action_writes_one_row_with_actor_and_changes(api: Api, world: World, pool: Pool) -> None:
    sid = await every_action(api, world, pool)
    log = await rows(pool)
    assert [r["action"] for r in log] == [
        "schedule.create",
        "schedule.update",
        "schedule.pause",
        "schedule.resume",
        "schedule.recipients",
        "run.now",
        "destination.create",
        "destination.create",
        "integration.update",
        "integration.delete",
        "destination.delete",
        "dead_letter.replay",
        "schedule.delete",
    ]
    assert {(r["actor"], r["actor_role"], r["organization_id"]) for r in log} == {
        (str(world.owner), "owner", world.org)
    }
    by = {r["action"]: r for r in log}
    assert by["schedule.create"]["changes"]["recipients"] == {"before": None, "after": ["email:a@acme.example"]}
    assert by["schedule.create"]["changes"]["cron_expression"]["after"] == "30 9 * * 3"
    update = by["schedule.update"]["changes"]
    assert update["name"] == {"before": "Acme Weekly", "after": "Renamed"}
    assert update["cron_expression"] == {"before": "30 9 * * 3", "after": "0 10 * * 3"}
    # Only what changed, never what the scheduler derives.
    assert set(update) == {"name", "scheduled_time", "cron_expression"}
    assert by["schedule.pause"]["changes"] == {"enabled": {"before": True, "after": False}}
    assert by["schedule.resume"]["changes"] == {"enabled": {"before": False, "after": True}}
    assert by["schedule.recipients"]["changes"] == {
        "recipients": {"before": ["email:a@acme.example"], "after": ["email:b@x.example"]}
    }
    run_id = await pool.fetchval("SELECT id FROM shared_report_runs WHERE trigger = 'manual'")
    assert by["run.now"]["changes"]["run_id"]["after"] == str(run_id)
    created = [r for r in log if r["action"] == "destination.create"]
    assert created[0]["changes"]["secret"] == {"before": None, "after": "***"}
    assert created[0]["changes"]["target"]["after"] == "https://hooks.example.com/r"
    assert created[1]["changes"]["config"]["after"]["host"] == "files.example.com"
    assert by["destination.delete"]["changes"]["secret"] == {"before": "***", "after": None}
    assert by["destination.delete"]["destination_id"] == created[0]["destination_id"]
    assert by["integration.update"]["changes"]["bot_token"] == {"before": None, "after": "***"}
    assert by["dead_letter.replay"]["changes"]["run_id"]["after"] is not None
    assert by["schedule.delete"]["changes"] == {"deleted": {"before": False, "after": True}}
    assert {str(r["schedule_id"]) for r in log if r["schedule_id"]} == {sid}

    # No secret in any row or answer.
    _, listed = await api.call("GET", "/v1/audit?limit=100")
    assert len(listed["items"]) == len(log)
    text = orjson.dumps(log, default=str).decode() + orjson.dumps(listed).decode()
    for secret in (WEBHOOK_SECRET, PASSWORD, BOT_TOKEN, WEBHOOK_SECRET.removeprefix("whsec_")):
        assert secret not in text


async def test_a_refused_change_writes_nothing(api: Api, world: World, pool: Pool) -> None:
    status, created = await api.call("POST", "/v1/schedules", body(world))
    assert status == 201
    before = await rows(pool)
    status, _ = await api.call("PATCH", f"/v1/schedules/{created['id']}", {"timezone": "Mars/Olympus"})
    assert status == 422
    twice = [{"channel": "email", "email": "a@x.example"}] * 2
    status, _ = await api.call("PUT", f"/v1/schedules/{created['id']}/recipients", {"recipients": twice})
    assert status == 422
    member = token(world.member)
    status, _ = await api.call("PATCH", f"/v1/schedules/{created['id']}", {"enabled": False}, bearer=member)
    assert status == 403
    assert await rows(pool) == before


async def test_request_id_and_service_actor_are_kept(api: Api, world: World, pool: Pool) -> None:
    headers = {"Authorization": f"Bearer {token(role='service_role')}", "X-Request-Id": "req-audit-1"}
    async with api.client.post("/v1/schedules", data=orjson.dumps(body(world)), headers=headers) as response:
        assert response.status == 201
    (row,) = await rows(pool)
    assert (row["actor"], row["actor_role"], row["request_id"]) == ("service", "service", "req-audit-1")


async def test_reading_is_for_owners_and_admins_filtered_and_paged(api: Api, world: World, pool: Pool) -> None:
    sid = await every_action(api, world, pool)
    await pool.execute("UPDATE organization_members SET role = 'admin' WHERE user_id = $1", world.owner)
    # Filters.
    _, paused = await api.call("GET", f"/v1/audit?action=schedule.pause&schedule_id={sid}")
    assert [i["action"] for i in paused["items"]] == ["schedule.pause"]
    _, mine = await api.call("GET", f"/v1/audit?actor={world.owner}&organization_id={world.org}&limit=100")
    assert len(mine["items"]) == 13
    _, nobody = await api.call("GET", "/v1/audit?actor=service")
    assert nobody["items"] == []
    _, later = await api.call("GET", "/v1/audit?since=2999-01-01T00:00:00Z")
    assert later["items"] == []
    # Keyset pages of 5, newest first, each row once.
    seen: list[str] = []
    cursor = None
    while True:
        _, page = await api.call("GET", "/v1/audit?limit=5" + (f"&cursor={cursor}" if cursor else ""))
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 13
    newest = await pool.fetchval("SELECT id FROM shared_report_audit_log ORDER BY created_at DESC, id DESC LIMIT 1")
    assert seen[0] == str(newest)
    # A member may not read it; another organization's owner sees none of it.
    status, refused = await api.call("GET", f"/v1/audit?organization_id={world.org}", bearer=token(world.member))
    assert status == 403 and "owners and admins" in refused["error"]["message"]
    _, member_all = await api.call("GET", "/v1/audit", bearer=token(world.member))
    assert member_all["items"] == []
    status, _ = await api.call("GET", f"/v1/audit?organization_id={world.org}", bearer=token(world.other_owner))
    assert status == 404
    _, other = await api.call("GET", "/v1/audit", bearer=token(world.other_owner))
    assert other["items"] == []
    # Bad parameters name themselves.
    for query, field in (("action=schedule.explode", "action"), ("actor=bob", "actor"), ("since=yesterday", "since")):
        status, error = await api.call("GET", f"/v1/audit?{query}")
        assert status == 422 and error["error"]["details"][0]["field"] == field, error


async def test_retention_prunes_rows_older_than_audit_retention_days(
    api: Api, world: World, pool: Pool, settings: Settings
) -> None:
    await api.call("POST", "/v1/schedules", body(world))
    await api.call("POST", "/v1/schedules", body(world))
    old = await pool.fetchval("SELECT id FROM shared_report_audit_log ORDER BY id LIMIT 1")
    await pool.execute("UPDATE shared_report_audit_log SET created_at = now() - interval '40 days' WHERE id = $1", old)
    now = await pool.fetchval("SELECT now()")
    kept = await prune(pool, settings.model_copy(update={"retention_days": 1}), now=now)
    assert kept.audit_rows == 0  # RETENTION_DAYS does not apply to the audit log
    result = await prune(pool, settings.model_copy(update={"audit_retention_days": 30}), now=now)
    assert result.audit_rows == 1
    left = [r["id"] for r in await rows(pool)]
    assert len(left) == 1 and old not in left


async def test_a_replay_from_the_command_line_is_audited_as_cli(
    api: Api, world: World, pool: Pool, settings: Settings
) -> None:
    from consumer.cli import dead_letters_replay

    _, created = await api.call("POST", "/v1/schedules", body(world))
    await api.call("POST", f"/v1/schedules/{created['id']}/run")
    dead = await dead_letter(pool, world)
    assert await dead_letters_replay(settings, str(dead), False) == 0
    row = await pool.fetchrow("SELECT * FROM shared_report_audit_log WHERE action = 'dead_letter.replay'")
    assert (row["actor"], row["actor_role"]) == ("cli", "cli")
    assert row["changes"]["dead_letter_id"]["after"] == str(dead)
