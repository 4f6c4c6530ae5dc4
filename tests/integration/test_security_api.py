"""What the API refuses at create so that no tenant can point the service at the inside of its network."""
# ruff: noqa: F811

from __future__ import annotations

import pytest

from tests.integration.test_api import Api, World, api, client, world  # noqa: F401
from tests.integration.test_destinations_api import PASSWORD, sftp

NON_PUBLIC_HOSTS = [
    "127.0.0.1",
    "localhost",
    "reports.localhost",
    "[::1]",
    "2130706433",
    "0x7f.1",
    "127.1",
    "169.254.169.254",
    "10.0.0.1",
    "192.168.1.20",
    "[::ffff:127.0.0.1]",
    "[64:ff9b::a9fe:a9fe]",
    "[fec0::1]",
    "[ff02::1]",
]


@pytest.mark.parametrize("host", NON_PUBLIC_HOSTS)
async def test_sftp_to_a_non_public_host_is_refused_at_create(api: Api, world: World, host: str) -> None:
    status, answer = await api.call("POST", "/v1/destinations", sftp(organization_id=str(world.org), host=host))
    assert status == 422, answer
    message = answer["error"]["message"]
    assert message.startswith("host:") and "non-public address" in message, message
    assert PASSWORD not in str(answer)


async def test_sftp_to_a_public_name_is_accepted(api: Api, world: World) -> None:
    for host in ("files.example.com", "8.8.8.8", "[2001:4860:4860::8888]"):
        status, answer = await api.call("POST", "/v1/destinations", sftp(organization_id=str(world.org), host=host))
        assert status == 201, (host, answer)


@pytest.mark.parametrize("host", ["2130706433", "0x7f.1", "[64:ff9b::a9fe:a9fe]", "[ff02::1]", "localhost"])
async def test_webhooks_to_other_forms_of_non_public_hosts_are_refused(api: Api, world: World, host: str) -> None:
    body = {
        "channel": "webhook",
        "organization_id": str(world.org),
        "url": f"https://{host}/hook",
        "secret": "whsec_" + "A" * 43 + "=",
    }
    status, answer = await api.call("POST", "/v1/destinations", body)
    assert status == 422 and "non-public address" in answer["error"]["message"], answer
