"""The destinations and integrations API: create, list, delete; secrets write-only; who gets a fire."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest
from aiohttp.test_utils import TestClient, TestServer
from arq.connections import ArqRedis

from producer.app import create_app
from producer.tick import tick
from shared.db import Pool
from shared.settings import Settings
from tests.support.api import Api, World, body, token
from tests.support.destinations import BOT_TOKEN, PASSWORD, sftp


async def test_secrets_are_write_only_and_stored_encrypted(api: Api, world: World, pool: Pool) -> None:
    status, created = await api.call("POST", "/v1/destinations", sftp(organization_id=str(world.org)))
    assert status == 201, created
    assert created["has_secret"] and created["target"] == "reports@files.example.com:22:/drop"
    status, slack = await api.call(
        "PUT", "/v1/integrations/slack", {"organization_id": str(world.org), "bot_token": BOT_TOKEN}
    )
    assert status == 200 and slack["configured"]
    status, listed = await api.call("GET", f"/v1/destinations?organization_id={world.org}")
    status2, shown = await api.call("GET", f"/v1/integrations/slack?organization_id={world.org}")
    answers = str(created) + str(listed) + str(slack) + str(shown)
    assert PASSWORD not in answers and BOT_TOKEN not in answers and "password" not in answers
    stored = await pool.fetchval("SELECT secret FROM shared_report_destinations")
    token_row = await pool.fetchval("SELECT secret FROM shared_report_channel_credentials")
    assert PASSWORD not in stored and BOT_TOKEN not in token_row and stored.startswith("gAAAA")
    status, _ = await api.call("DELETE", f"/v1/destinations/{created['id']}")
    assert status == 204
    assert (await api.call("GET", f"/v1/destinations?organization_id={world.org}"))[1]["items"] == []


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"channel": "slack", "slack_channel_id": "general"}, "slack_channel_id"),
        ({"channel": "fax", "number": "1"}, "body"),
        (sftp(host_key="not a key"), "host_key"),
        (sftp(password=None), "password or private_key"),
        (sftp(port=70000), "port"),
        (sftp(host="bad host\n"), "host"),
    ],
)
async def test_bad_destinations_get_a_422_naming_the_field(
    api: Api,
    world: World,
    payload: dict[str, Any],
    field: str,
) -> None:
    status, answer = await api.call("POST", "/v1/destinations", {**payload, "organization_id": str(world.org)})
    assert status == 422, answer
    assert field in answer["error"]["message"] or field == "body"
    assert PASSWORD not in str(answer)


async def test_other_organizations_and_readers_cannot_touch_destinations(
    api: Api,
    client: TestClient,
    world: World,
) -> None:
    _, created = await api.call("POST", "/v1/destinations", sftp(organization_id=str(world.org)))
    stranger = Api(client, token(world.other_owner))
    assert (await stranger.call("DELETE", f"/v1/destinations/{created['id']}"))[0] == 404
    assert (await stranger.call("POST", "/v1/destinations", sftp(organization_id=str(world.org))))[0] == 404
    reader = Api(client, token(world.member))
    assert (await reader.call("POST", "/v1/destinations", sftp(organization_id=str(world.org), directory="/x")))[
        0
    ] == 403
    assert (await api.call("POST", "/v1/destinations", sftp(organization_id=str(world.org))))[0] == 409


async def test_without_credentials_keys_the_server_says_so(settings: Settings, world: World) -> None:
    bare = settings.model_copy(update={"credentials_keys": None})
    async with TestClient(TestServer(create_app(bare, run_scheduler=False))) as c:
        status, answer = await Api(c, token(world.owner)).call(
            "POST", "/v1/destinations", sftp(organization_id=str(world.org))
        )
    assert status == 503 and "CREDENTIALS_KEYS" in answer["error"]["message"]


async def test_schedule_destinations_and_the_org_wide_fallback_reach_the_message(
    api: Api,
    world: World,
    pool: Pool,
    redis: ArqRedis,
    settings: Settings,
) -> None:
    _, own = await api.call("POST", "/v1/schedules", body(world))
    _, fallback = await api.call("POST", "/v1/schedules", body(world, channels=["slack"]))
    status, dest = await api.call(
        "POST", "/v1/destinations", {"channel": "slack", "slack_channel_id": "C0OWN", "schedule_id": own["id"]}
    )
    assert status == 201
    await api.call(
        "POST", "/v1/destinations", {"channel": "slack", "slack_channel_id": "C0ORG", "organization_id": str(world.org)}
    )
    # Giving a schedule its own Slack destination enabled Slack on it.
    assert (await api.call("GET", f"/v1/schedules/{own['id']}"))[1]["channels"] == ["slack"]
    await pool.execute("UPDATE shared_report_schedules SET next_run_at = $1", datetime(2026, 1, 1, tzinfo=UTC))
    await tick(pool, redis, settings, now=datetime(2026, 1, 1, 0, 1, tzinfo=UTC))
    messages = {
        str(r["schedule_id"]): r["message"]["recipients"]
        for r in await pool.fetch("SELECT schedule_id, message FROM shared_report_runs")
    }
    slack_of = {k: [r["target"] for r in v if r["channel"] == "slack"] for k, v in messages.items()}
    assert slack_of == {own["id"]: ["C0OWN"], fallback["id"]: ["C0ORG"]}
    [mine] = [r for r in messages[own["id"]] if r["channel"] == "slack"]
    assert UUID(mine["destination_id"]) == UUID(dest["id"]) and set(mine) == {"channel", "destination_id", "target"}


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"url": "https://hooks.example.com/r", "secret": "plain-secret"}, "secret"),
        ({"url": "https://hooks.example.com/r", "secret": "whsec_" + "A" * 20}, "secret"),
        ({"url": "http://hooks.example.com/r", "secret": "whsec_" + "A" * 44}, "url"),
        ({"url": "https://127.0.0.1/r", "secret": "whsec_" + "A" * 44}, "url"),
        ({"url": "https://[::1]:8443/r", "secret": "whsec_" + "A" * 44}, "url"),
    ],
)
async def test_bad_webhooks_get_a_422(api: Api, world: World, payload: dict[str, Any], field: str) -> None:
    request = {"channel": "webhook", "organization_id": str(world.org), **payload}
    status, answer = await api.call("POST", "/v1/destinations", request)
    assert status == 422, answer
    assert field in answer["error"]["message"]
    assert payload["secret"] not in str(answer)


async def test_a_webhook_secret_is_write_only(api: Api, world: World, pool: Pool) -> None:
    secret = "whsec_" + "B" * 43 + "="
    request = {"channel": "webhook", "organization_id": str(world.org), "url": "https://hooks.example.com/r"}
    status, created = await api.call("POST", "/v1/destinations", {**request, "secret": secret})
    assert status == 201 and created["has_secret"] and created["config"] == {"url": "https://hooks.example.com/r"}
    _, listed = await api.call("GET", "/v1/destinations")
    assert secret not in str(created) + str(listed)
    assert secret not in await pool.fetchval("SELECT secret FROM shared_report_destinations")
