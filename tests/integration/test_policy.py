"""The destination policy through the HTTP API: owners only, audited, and enforced where recipients and
destinations are written (a 422 naming the recipient and the rule)."""

from __future__ import annotations

from typing import Any

from shared.db import Pool
from tests.support import seed
from tests.support.api import Api, World, body, token
from tests.support.destinations import sftp

WEBHOOK = {"channel": "webhook", "url": "https://hooks.acme.example/r", "secret": "whsec_" + "D" * 43 + "="}


def policy_path(world: World) -> str:
    return f"/v1/organizations/{world.org}/policy"


async def put(api: Api, world: World, **rules: Any) -> dict[str, Any]:
    status, answer = await api.call("PUT", policy_path(world), rules)
    assert status == 200, answer
    result: dict[str, Any] = answer
    return result


async def test_owner_reads_and_replaces_the_policy_and_it_is_audited(api: Api, world: World, pool: Pool) -> None:
    status, default = await api.call("GET", policy_path(world))
    assert status == 200 and default["allowed_email_domains"] == [] and default["allow_telegram"] is True
    assert default["updated_at"] is None
    saved = await put(api, world, allowed_email_domains=["Acme.Example.", "acme.example"], allow_slack=False)
    assert saved["allowed_email_domains"] == ["acme.example"] and saved["allow_slack"] is False
    assert saved["updated_by"] == str(world.owner)
    _, again = await api.call("GET", policy_path(world))
    assert again == saved
    row = await pool.fetchrow("SELECT * FROM shared_report_audit_log WHERE action = 'policy.update'")
    assert row["changes"] == {
        "allow_slack": {"before": True, "after": False},
        "allowed_email_domains": {"before": [], "after": ["acme.example"]},
    }
    # Admins and members may not; another organization's owner does not see it.
    admin = await seed.user(pool, "admin@acme.example", world.org, "admin")
    for who in (admin, world.member):
        status, refused = await api.call("PUT", policy_path(world), {}, bearer=token(who))
        assert status == 403 and "owners may" in refused["error"]["message"], refused
        assert (await api.call("GET", policy_path(world), bearer=token(who)))[0] == 403
    assert (await api.call("GET", policy_path(world), bearer=token(world.other_owner)))[0] == 404
    # Names only: a URL, a wildcard or an unknown field are refused naming the field.
    for bad, field in (
        ({"allowed_webhook_hosts": ["https://x.example"]}, "allowed_webhook_hosts.0"),
        ({"allowed_email_domains": ["*.acme.example"]}, "allowed_email_domains.0"),
        ({"allow_telegram": "no"}, "allow_telegram"),
        ({"allowed_domains": []}, "allowed_domains"),
    ):
        status, error = await api.call("PUT", policy_path(world), bad)
        assert status == 422 and error["error"]["details"][0]["field"] == field, error


async def test_forbidden_recipients_are_refused_naming_recipient_and_rule(api: Api, world: World, pool: Pool) -> None:
    await put(api, world, allowed_email_domains=["acme.example"], allow_telegram=False)
    outside = [{"channel": "email", "email": "a@acme.example"}, {"channel": "email", "email": "x@gmail.example"}]
    status, error = await api.call("POST", "/v1/schedules", body(world, recipients=outside))
    assert status == 422, error
    detail = error["error"]["details"][0]
    assert detail["field"] == "recipients.1"
    assert "x@gmail.example" in detail["message"] and "allowed_email_domains (acme.example)" in detail["message"]
    assert await pool.fetchval("SELECT count(*) FROM shared_report_schedules") == 0
    # A subdomain of an allowed domain is allowed; a Telegram chat is not.
    status, created = await api.call(
        "POST", "/v1/schedules", body(world, recipients=[{"channel": "email", "email": "b@eu.acme.example"}])
    )
    assert status == 201, created
    sid = created["id"]
    chat = {"recipients": [{"channel": "telegram", "telegram_chat_id": 4242}]}
    status, error = await api.call("PUT", f"/v1/schedules/{sid}/recipients", chat)
    assert status == 422 and "Telegram chat 4242" in error["error"]["message"] and "allow_telegram" in str(error)
    # A member whose own address is outside, chosen by user id, and a test run to an outside address.
    outsider = await seed.user(pool, "contractor@elsewhere.example", world.org, "member")
    status, error = await api.call(
        "PUT", f"/v1/schedules/{sid}/recipients", {"recipients": [{"channel": "email", "user_id": str(outsider)}]}
    )
    assert status == 422 and "contractor@elsewhere.example" in error["error"]["message"]
    status, error = await api.call("POST", f"/v1/schedules/{sid}/run", {"recipients": outside})
    assert status == 422 and "x@gmail.example" in error["error"]["message"]
    assert await pool.fetchval("SELECT count(*) FROM shared_report_runs") == 0


async def test_forbidden_destinations_are_refused(api: Api, world: World, pool: Pool) -> None:
    await put(api, world, allowed_webhook_hosts=["hooks.partner.example"], allowed_sftp_hosts=["drop.partner.example"])
    org = {"organization_id": str(world.org)}
    status, error = await api.call("POST", "/v1/destinations", {**WEBHOOK, **org})
    assert status == 422 and error["error"]["details"][0]["field"] == "url", error
    assert "hooks.acme.example" in error["error"]["message"] and "allowed_webhook_hosts" in error["error"]["message"]
    status, error = await api.call("POST", "/v1/destinations", sftp(**org))
    assert status == 422 and error["error"]["details"][0]["field"] == "host", error
    assert WEBHOOK["secret"] not in str(error)
    status, _ = await api.call("POST", "/v1/destinations", sftp(host="eu.drop.partner.example", **org))
    assert status == 201
    await put(api, world, allow_slack=False)
    slack = {"channel": "slack", "slack_channel_id": "C0123456789", **org}
    status, error = await api.call("POST", "/v1/destinations", slack)
    assert status == 422 and error["error"]["details"][0]["field"] == "channel" and "allow_slack" in str(error)
    # The policy just set lifted the host lists: the webhook is allowed now.
    assert (await api.call("POST", "/v1/destinations", {**WEBHOOK, **org}))[0] == 201
    assert await pool.fetchval("SELECT count(*) FROM shared_report_destinations") == 2
