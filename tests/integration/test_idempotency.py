"""Idempotency-Key on every POST, through the HTTP API: the first answer again, the work done once."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID, uuid4

import orjson

from producer.retention import prune
from shared.db import Pool
from shared.settings import Settings
from tests.support.api import Api, World, body, token


async def post(api: Api, path: str, payload: Any, key: str | None, bearer: str | None = None) -> tuple[int, Any, bool]:
    headers = {"Authorization": f"Bearer {bearer or api.bearer}", "Content-Type": "application/json"}
    if key is not None:
        headers["Idempotency-Key"] = key
    data = None if payload is None else orjson.dumps(payload)
    async with api.client.post(path, data=data, headers=headers) as response:
        text = await response.read()
        replayed = response.headers.get("Idempotent-Replayed") == "true"
        return response.status, (orjson.loads(text) if text else None), replayed


async def count(pool: Pool, table: str) -> int:
    value: int = await pool.fetchval(f"SELECT count(*) FROM {table}")
    return value


async def test_a_repeated_create_returns_the_first_answer_and_creates_once(api: Api, world: World, pool: Pool) -> None:
    key = str(uuid4())
    first = await post(api, "/v1/schedules", body(world), key)
    again = await post(api, "/v1/schedules", body(world), key)
    assert first[0] == 201 and not first[2]
    assert again == (201, first[1], True)
    assert await count(pool, "shared_report_schedules") == 1
    # Without a key, or with another key, it is a new request.
    assert (await post(api, "/v1/schedules", body(world), None))[0] == 201
    assert (await post(api, "/v1/schedules", body(world), str(uuid4())))[0] == 201
    assert await count(pool, "shared_report_schedules") == 3


async def test_the_same_key_with_another_request_is_refused_naming_the_header(api: Api, world: World) -> None:
    key = "order-7"
    assert (await post(api, "/v1/schedules", body(world), key))[0] == 201
    status, error, _ = await post(api, "/v1/schedules", body(world, name="Other"), key)
    assert status == 422 and error["error"]["details"][0]["field"] == "Idempotency-Key", error
    status, error, _ = await post(api, "/v1/schedules/preview", {"cron_expression": "0 9 * * *"}, key)
    assert status == 422 and error["error"]["details"][0]["field"] == "Idempotency-Key", error


async def test_run_now_replay_and_destinations_happen_once(api: Api, world: World, pool: Pool) -> None:
    _, created, _ = await post(api, "/v1/schedules", body(world), None)
    sid = created["id"]
    runs = [await post(api, f"/v1/schedules/{sid}/run", None, "run-1") for _ in range(2)]
    assert runs[0][0] == 202 and runs[1] == (202, runs[0][1], True)
    assert await count(pool, "shared_report_runs") == 1

    payload = await pool.fetchval("SELECT message FROM shared_report_runs")
    await pool.execute("UPDATE shared_report_runs SET status = 'dead'")
    dead = await pool.fetchval(
        "INSERT INTO shared_report_dead_letters (run_id, organization_id, job_id, payload, error)"
        " VALUES ($1, $2, 'j', $3, 'e') RETURNING id",
        UUID(runs[0][1]["run_id"]),
        world.org,
        payload,
    )
    replays = [await post(api, f"/v1/dead-letters/{dead}/replay", None, "replay-1") for _ in range(2)]
    # The second answer is the first one again, not "already replayed".
    assert replays[0][0] == 202 and replays[1] == (202, replays[0][1], True)
    assert await count(pool, "shared_report_runs") == 2

    slack = {"channel": "slack", "slack_channel_id": "C0123456789", "schedule_id": sid}
    added = [await post(api, "/v1/destinations", slack, "dest-1") for _ in range(2)]
    assert added[0][0] == 201 and added[1] == (201, added[0][1], True)
    assert await count(pool, "shared_report_destinations") == 1


async def test_a_refusal_is_kept_too_and_keys_belong_to_their_caller(api: Api, world: World, pool: Pool) -> None:
    bad = body(world, scheduled_time="25:00")
    first = await post(api, "/v1/schedules", bad, "k")
    assert first[0] == 422 and (await post(api, "/v1/schedules", bad, "k")) == (422, first[1], True)
    # Another user's same key is their own.
    other = await post(
        api, "/v1/schedules", body(world, shared_link_id=str(world.other_link)), "k", token(world.other_owner)
    )
    assert other[0] == 201 and not other[2]


async def test_bad_keys_are_refused_naming_the_header(api: Api, world: World, pool: Pool) -> None:
    for key in ("has space", "x" * 256, "é"):
        status, error, _ = await post(api, "/v1/schedules", body(world), key)
        assert status == 422 and error["error"]["details"][0]["field"] == "Idempotency-Key", (key, error)
    assert await count(pool, "shared_report_schedules") == 0


async def test_concurrent_requests_with_one_key_do_the_work_once(api: Api, world: World, pool: Pool) -> None:
    answers = await asyncio.gather(*(post(api, "/v1/schedules", body(world), "burst") for _ in range(8)))
    statuses = sorted(a[0] for a in answers)
    assert set(statuses) <= {201, 409} and statuses.count(201) >= 1, statuses
    assert len({orjson.dumps(a[1]) for a in answers if a[0] == 201}) == 1
    assert await count(pool, "shared_report_schedules") == 1


async def test_keys_last_24_hours_and_retention_prunes_them(
    api: Api, world: World, pool: Pool, settings: Settings
) -> None:
    assert (await post(api, "/v1/schedules", body(world), "daily"))[0] == 201
    await pool.execute("UPDATE shared_report_idempotency_keys SET created_at = now() - interval '25 hours'")
    again = await post(api, "/v1/schedules", body(world, name="Tomorrow"), "daily")
    assert again[0] == 201 and not again[2] and again[1]["name"] == "Tomorrow"
    assert await count(pool, "shared_report_schedules") == 2
    await pool.execute("UPDATE shared_report_idempotency_keys SET created_at = now() - interval '25 hours'")
    result = await prune(pool, settings)
    assert result.idempotency_keys == 1 and await count(pool, "shared_report_idempotency_keys") == 0
