"""Resend's refusals and run-now's recipients of every kind, through the HTTP API (delivery is in tests/e2e)."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import orjson
import pytest

from shared.db import Pool
from shared.settings import Settings
from tests.support import seed
from tests.support.api import Api, World, body, token


async def _queued_message(pool: Pool, run_id: str) -> dict[str, Any]:
    raw = await pool.fetchval("SELECT message FROM shared_report_runs WHERE id = $1", UUID(run_id))
    return orjson.loads(raw) if isinstance(raw, str) else dict(raw)


async def test_run_now_takes_every_recipient_kind(api: Api, world: World, pool: Pool, settings: Settings) -> None:
    _, created = await api.call("POST", "/v1/schedules", body(world))
    sid = UUID(created["id"])
    vault = settings.vault()
    slack = await seed.destination(pool, vault, world.org, None, "slack", "C0123456789")
    hook = await seed.destination(pool, vault, world.org, sid, "webhook", "https://hooks.example.com/r",
                                  {"url": "https://hooks.example.com/r"}, "whsec_" + "a" * 32)  # fmt: skip
    chosen = [
        {"channel": "email", "email": "solo@acme.example"},
        {"channel": "email", "user_id": str(world.member)},
        {"channel": "telegram", "telegram_chat_id": -1001},
        {"channel": "slack", "destination_id": str(slack)},
        {"channel": "webhook", "destination_id": str(hook)},
    ]
    status, accepted = await api.call("POST", f"/v1/schedules/{sid}/run", {"recipients": chosen})
    assert status == 202, accepted
    message = await _queued_message(pool, accepted["run_id"])
    assert message["recipients"] == [
        {"channel": "email", "user_id": None, "email": "solo@acme.example"},
        {"channel": "email", "user_id": str(world.member), "email": "member@acme.example"},
        {"channel": "telegram", "telegram_chat_id": -1001},
        {"channel": "slack", "destination_id": str(slack), "target": "C0123456789"},
        {"channel": "webhook", "destination_id": str(hook), "target": "https://hooks.example.com/r"},
    ]
    assert "secret" not in orjson.dumps(message).decode()


@pytest.mark.parametrize(
    ("recipient", "field", "fragment"),
    [
        ({"channel": "slack"}, "recipients.0", "a slack recipient has destination_id only"),
        ({"channel": "email", "email": "a@b.example", "destination_id": "OTHER"}, "recipients.0", "destination_id is"),
        ({"channel": "webhook", "destination_id": "SLACK"}, "recipients.0.destination_id", "not a webhook destination"),
        ({"channel": "slack", "destination_id": "OTHER"}, "recipients.0.destination_id", "not a slack destination"),
        ({"channel": "sftp", "destination_id": str(UUID(int=5))}, "recipients.0.destination_id", "not a sftp"),
        ({"channel": "fax", "destination_id": "SLACK"}, "recipients.0.channel", "must be 'email', 'telegram'"),
    ],
)
async def test_run_now_refuses_destinations_it_cannot_use(
    api: Api, world: World, pool: Pool, settings: Settings, recipient: dict[str, Any], field: str, fragment: str
) -> None:
    _, created = await api.call("POST", "/v1/schedules", body(world))
    vault = settings.vault()
    ids = {
        "SLACK": str(await seed.destination(pool, vault, world.org, None, "slack", "C0123456789")),
        "OTHER": str(await seed.destination(pool, vault, world.other_org, None, "slack", "C0999999999")),
    }
    recipient = {k: ids.get(v, v) if isinstance(v, str) else v for k, v in recipient.items()}
    status, error = await api.call("POST", f"/v1/schedules/{created['id']}/run", {"recipients": [recipient]})
    assert status == 422, error
    [detail] = error["error"]["details"]
    assert detail["field"] == field and fragment in detail["message"], detail
    assert await pool.fetchval("SELECT count(*) FROM shared_report_runs") == 0


async def test_resend_refuses_what_it_cannot_resend(api: Api, world: World, pool: Pool) -> None:
    _, created = await api.call("POST", "/v1/schedules", body(world))
    sid = created["id"]
    _, accepted = await api.call("POST", f"/v1/schedules/{sid}/run")
    run_id = accepted["run_id"]
    status, error = await api.call("POST", f"/v1/runs/{run_id}/resend")
    assert status == 409 and "this one is queued" in error["error"]["message"]
    await pool.execute("UPDATE shared_report_runs SET status = 'partial' WHERE id = $1", UUID(run_id))
    assert (await api.call("POST", f"/v1/runs/{run_id}/resend", bearer=token(world.other_owner)))[0] == 404
    assert (await api.call("POST", f"/v1/runs/{run_id}/resend", bearer=token(world.member)))[0] == 403
    assert (await api.call("POST", f"/v1/runs/{uuid4()}/resend"))[0] == 404
    assert (await api.call("POST", "/v1/runs/not-a-run/resend"))[0] == 404

    status, resent = await api.call("POST", f"/v1/runs/{run_id}/resend")
    assert status == 202, resent
    row = await pool.fetchrow("SELECT trigger, origin_run_id, message FROM shared_report_runs WHERE id = $1",
                              UUID(resent["run_id"]))  # fmt: skip
    assert (row["trigger"], row["origin_run_id"]) == ("replay", UUID(run_id))
    # While that resend waits, another is refused: nobody is served twice by racing resends.
    status, error = await api.call("POST", f"/v1/runs/{run_id}/resend")
    assert status == 409 and "still queued or running" in error["error"]["message"]

    await pool.execute("UPDATE shared_report_runs SET status = 'failed'")
    assert (await api.call("DELETE", f"/v1/schedules/{sid}"))[0] == 204
    status, error = await api.call("POST", f"/v1/runs/{run_id}/resend")
    assert status == 410 and error["error"]["code"] == "gone"
