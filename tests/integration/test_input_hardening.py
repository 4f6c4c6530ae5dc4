"""Each input that once answered 500 or was wrongly accepted: the exact request and the 4xx body it gets now."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient

from shared.db import Pool
from tests.support.api import Api, World, body, issue, token


async def counts(pool: Pool) -> tuple[int, ...]:
    row = await pool.fetchrow(
        "SELECT (SELECT count(*) FROM shared_report_schedules), (SELECT count(*) FROM shared_report_runs),"
        " (SELECT count(*) FROM shared_report_schedule_recipients),"
        " (SELECT coalesce(max(updated_at)::text, '') FROM shared_report_schedules) AS u"
    )
    return tuple(row)


@pytest.mark.parametrize(
    ("extra", "field", "fragment"),
    [
        ({"timezone": "America"}, "timezone", "unknown IANA time zone"),
        ({"timezone": "Europe"}, "timezone", "unknown IANA time zone"),
        (
            {"cadence": None, "scheduled_time": None, "cron_expression": "0 9 * * 1#²"},
            "cron_expression",
            "printable ASCII, e.g. 0 9 * * 1",
        ),
        ({"scheduled_time": "0٨:00"}, "scheduled_time", "HH:MM (24-hour), e.g. 09:30"),
        ({"name": "a\x00b"}, "name", "control characters"),
        ({"recipients": [{"channel": "email", "email": "a\x00@x.example"}]}, "recipients.0.email", "control"),
        ({"send_email": "yes"}, "send_email", "true or false"),
        ({"enabled": 1}, "enabled", "true or false"),
        ({"jitter_seconds": "10"}, "jitter_seconds", "whole number"),
        ({"cadence": "monthly", "day_of_month": True}, "day_of_month", "whole number"),
        (
            {"recipients": [{"channel": "telegram", "telegram_chat_id": "424242"}]},
            "recipients.0.telegram_chat_id",
            "whole number",
        ),
    ],
)
async def test_create_rejects_with_422_naming_the_field(
    api: Api, world: World, pool: Pool, extra: dict[str, Any], field: str, fragment: str
) -> None:
    payload = {k: v for k, v in body(world, **extra).items() if v is not None}
    before = await counts(pool)
    assert await api.call("POST", "/v1/schedules", payload) == issue(422, field, fragment)
    assert await counts(pool) == before


@pytest.mark.parametrize(
    ("patch", "field", "fragment"),
    [
        ({"scheduled_time": ""}, "scheduled_time", "HH:MM (24-hour), e.g. 09:30"),
        ({"timezone": "Europe"}, "timezone", "unknown IANA time zone"),
        ({"name": "x\x00"}, "name", "control characters"),
        ({"enabled": 1}, "enabled", "true or false"),
    ],
)
async def test_patch_rejects_without_changing_anything(
    api: Api, world: World, pool: Pool, patch: dict[str, Any], field: str, fragment: str
) -> None:
    status, created = await api.call("POST", "/v1/schedules", body(world))
    assert status == 201
    before = await counts(pool)
    assert await api.call("PATCH", f"/v1/schedules/{created['id']}", patch) == issue(422, field, fragment)
    assert await counts(pool) == before
    _, again = await api.call("GET", f"/v1/schedules/{created['id']}")
    assert again["next_run_at"] == created["next_run_at"] and again["scheduled_time"] == "09:30"


async def test_nul_in_recipients_and_run_requests(api: Api, world: World) -> None:
    _, created = await api.call("POST", "/v1/schedules", body(world))
    sid = created["id"]
    bad = {"recipients": [{"channel": "email", "email": "b\x00@acme.example"}]}
    assert await api.call("PUT", f"/v1/schedules/{sid}/recipients", bad) == issue(422, "recipients.0.email", "control")
    assert await api.call("POST", f"/v1/schedules/{sid}/run", bad) == issue(422, "recipients.0.email", "control")


@pytest.mark.parametrize("path", ["/v1/schedules", "/v1/dead-letters", "/v1/schedules/{sid}/runs"])
@pytest.mark.parametrize("limit", ["²", "٣", "1e2", "-1", "0", "101", "0009999"])
async def test_limit_takes_ascii_digits_only(api: Api, world: World, path: str, limit: str) -> None:
    _, created = await api.call("POST", "/v1/schedules", body(world))
    target = path.format(sid=created["id"])
    assert await api.call("GET", f"{target}?limit={limit}") == issue(422, "limit", "integer from 1 to 100")


@pytest.mark.parametrize("instant", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2026-01-01T00:00:00"])
async def test_cursor_out_of_range_is_a_422(api: Api, world: World, instant: str) -> None:
    cursor = base64.urlsafe_b64encode(orjson.dumps([instant, str(world.link)])).decode().rstrip("=")
    assert await api.call("GET", f"/v1/schedules?cursor={cursor}") == issue(422, "cursor", "start without one")


async def test_every_error_has_details(api: Api, world: World) -> None:
    for status, answer in [
        await api.call("POST", "/v1/schedules", raw=b"{"),
        await api.call("GET", "/v1/schedules", bearer="not-a-jwt"),
        await api.call("GET", "/v1/schedules/00000000-0000-0000-0000-000000000000"),
        await api.call(
            "PATCH",
            f"/v1/schedules/{(await api.call('POST', '/v1/schedules', body(world)))[1]['id']}",
            {"name": "x"},
            bearer=token(world.member),
        ),
    ]:
        assert status in (400, 401, 403, 404) and answer["error"]["details"] == [], answer


async def test_foreign_organization_filter_is_a_404(api: Api, world: World) -> None:
    for path in ("/v1/schedules", "/v1/dead-letters"):
        status, answer = await api.call("GET", f"{path}?organization_id={world.other_org}")
        assert status == 404 and answer["error"]["code"] == "not_found", answer


@pytest.mark.parametrize("value", [b"Bearer \xff\xfe\xfd", b"Bearer abc\xc3\x28def", b"\xff"])
async def test_non_utf8_authorization_is_a_401(client: TestClient, value: bytes) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", client.server.port)
    writer.write(b"GET /v1/schedules HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: " + value + b"\r\n\r\n")
    await writer.drain()
    response = await reader.read()
    writer.close()
    head, _, payload = response.partition(b"\r\n\r\n")
    assert head.split(b" ")[1] == b"401", response[:300]
    assert orjson.loads(payload)["error"]["code"] == "unauthorized"


@pytest.mark.parametrize("where", ["url", "header"])
async def test_an_oversized_request_line_or_header_is_a_plain_400_that_changes_nothing(
    client: TestClient, world: World, pool: Pool, where: str
) -> None:
    """The HTTP layer refuses it before the API sees it (docs/api.md, Errors): no 5xx, nothing written."""
    before = await counts(pool)
    path = "/v1/schedules?x=" + "%F0%9F%92%A5" * 700 if where == "url" else "/v1/schedules"
    extra = b"X-Pad: " + b"a" * 9000 + b"\r\n" if where == "header" else b""
    reader, writer = await asyncio.open_connection("127.0.0.1", client.server.port)
    writer.write(
        b"POST "
        + path.encode()
        + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer "
        + token(world.owner).encode()
        + b"\r\n"
        + extra
        + b"Content-Type: application/json\r\n"
        + b"Content-Length: 2\r\n\r\n{}"
    )
    await writer.drain()
    response = await reader.read()
    writer.close()
    head, _, payload = response.partition(b"\r\n\r\n")
    assert head.split(b" ")[1] == b"400" and b"text/plain" in head, response[:300]
    assert payload.startswith(b"Got more than 8190 bytes")
    assert await counts(pool) == before


async def test_the_openapi_document_says_strict_types(api: Api) -> None:
    status, doc = await api.call("GET", "/v1/openapi.json")
    assert status == 200
    create = doc["components"]["schemas"]["ScheduleCreate"]["properties"]
    assert any(o.get("pattern") for o in create["scheduled_time"]["anyOf"])
    error = doc["components"]["schemas"]["ErrorBody"]
    assert "details" in error["required"]
