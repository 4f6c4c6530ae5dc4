"""Messages a person understands: the field, what it takes and an example; never a library's or a regex's text."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.api import Api, World, body

LIBRARY_WORDS = ("Input should", "String should", "Value error", "pattern", "^", "pydantic", "validation error for")


def detail(error: dict[str, Any]) -> tuple[str, str]:
    first = error["error"]["details"][0]
    return first["field"], first["message"]


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"scheduled_time": "25:00"}, "scheduled_time", "must be HH:MM (24-hour), e.g. 09:30"),
        (
            {"recipients": [{"channel": "email", "email": "team.example.com"}]},
            "recipients.0.email",
            "must be an email address, e.g. team@example.com",
        ),
        ({"day_of_week": "funday"}, "day_of_week", "must be 0-6 (0 = Sunday) or a day name, e.g. 1 or monday"),
        ({"day_of_week": 7}, "day_of_week", "must be 0-6 (0 = Sunday) or a day name, e.g. 1 or monday"),
        ({"jitter_seconds": "10"}, "jitter_seconds", 'must be a whole number, e.g. 3 (a JSON number, not "3")'),
        ({"send_email": "yes"}, "send_email", 'must be true or false (a JSON boolean, not "true" or 1)'),
        ({"format": "pdf"}, "format", "must be 'csv', 'csv.zip', 'ndjson', 'ndjson.zip', 'xlsx' or 'xlsx.zip'"),
        ({"jitter_seconds": 4000}, "jitter_seconds", "must be at most 3600"),
        ({"name": ""}, "name", "must have at least 1 character(s)"),
        ({"shared_link_id": "x"}, "shared_link_id", "must be a UUID, e.g. 1b4e28ba-2fa1-11d2-883f-0016d3cca427"),
        ({"Name": "x"}, "Name", "is not a field of this request (names are case-sensitive); remove it"),
        ({"channels": ["slack", "slack"]}, "channels", "must not repeat a channel"),
    ],
)
async def test_each_message_names_the_field_and_the_fix(
    api: Api, world: World, change: dict[str, Any], field: str, message: str
) -> None:
    status, error = await api.call("POST", "/v1/schedules", body(world, **change))
    assert status == 422, error
    assert detail(error) == (field, message)
    assert error["error"]["message"] == f"{field}: {message}"


async def test_day_of_week_takes_numbers_and_names(api: Api, world: World) -> None:
    for given, cron in (("monday", "30 9 * * 1"), ("Sun", "30 9 * * 0"), (0, "30 9 * * 0"), ("SATURDAY", "30 9 * * 6")):
        status, created = await api.call("POST", "/v1/schedules", body(world, day_of_week=given))
        assert status == 201, created
        assert created["cron_expression"] == cron and isinstance(created["day_of_week"], int)
    status, patched = await api.call("PATCH", f"/v1/schedules/{created['id']}", {"day_of_week": "wed"})
    assert status == 200 and patched["day_of_week"] == 3


async def test_no_library_or_regex_text_in_any_4xx(api: Api, world: World) -> None:
    _, created = await api.call("POST", "/v1/schedules", body(world))
    sid = created["id"]
    wrong: list[tuple[str, str, Any]] = [
        ("POST", "/v1/schedules", [1]),
        ("POST", "/v1/schedules", "text"),
        ("POST", "/v1/schedules", {}),
        ("POST", "/v1/schedules", body(world, recipients=[{"channel": "sms"}, {"channel": "email"}, 3])),
        ("POST", "/v1/schedules", body(world, cadence="hourly", timezone=5, day_of_month="3", min_rows=1.5)),
        ("PATCH", f"/v1/schedules/{sid}", {"cron_expression": "é", "cadence": None, "misfire_policy": "x"}),
        ("PUT", f"/v1/schedules/{sid}/recipients", {"recipients": "all"}),
        ("POST", f"/v1/schedules/{sid}/run", {"recipients": [], "respect_conditions": "yes"}),
        ("POST", "/v1/schedules/preview", {"count": 0, "from": "tomorrow"}),
        ("POST", "/v1/destinations", {"channel": "slack", "slack_channel_id": "#general", "schedule_id": sid}),
        ("POST", "/v1/destinations", {"channel": "fax"}),
        ("POST", "/v1/destinations", {"channel": "sftp", "host": "-bad-", "username": "a b", "schedule_id": sid}),
        ("GET", "/v1/schedules?limit=x", None),
        ("GET", "/v1/runs?since=now", None),
    ]
    for method, path, payload in wrong:
        status, error = await api.call(method, path, payload)
        assert 400 <= status < 500, (method, path, error)
        text = str(error)
        assert not [w for w in LIBRARY_WORDS if w in text], (method, path, text)


@pytest.mark.parametrize(
    "path",
    [
        "/v1/schedules?status=failed",
        "/v1/schedules?enabled=true&limit=5",
        "/v1/schedules/{sid}?expand=runs",
        "/v1/schedules/{sid}/runs?status=failed",
        "/v1/dead-letters?replayed=false",
        "/v1/destinations?channel=slack",
        "/v1/timezones?q=Europe",
    ],
)
async def test_unknown_query_parameters_answer_400_naming_them(api: Api, world: World, path: str) -> None:
    _, created = await api.call("POST", "/v1/schedules", body(world))
    status, error = await api.call("GET", path.format(sid=created["id"]))
    assert status == 400, error
    unknown = path.split("?")[1].split("=")[0]
    assert error["error"]["code"] == "bad_request"
    assert error["error"]["details"][0] == {"field": unknown, "message": "is not a parameter of this route"}
    assert f"'{unknown}'" in error["error"]["message"]


async def test_known_parameters_still_work(api: Api, world: World) -> None:
    assert (await api.call("GET", f"/v1/schedules?organization_id={world.org}&limit=5"))[0] == 200
    assert (await api.call("GET", f"/v1/destinations?organization_id={world.org}"))[0] == 200


async def test_malformed_token_says_what_a_jwt_looks_like(api: Api) -> None:
    for bad in ("not-a-jwt", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.e30.x"):
        status, error = await api.call("GET", "/v1/schedules", bearer=bad)
        assert status == 401
        assert error["error"]["message"] == "invalid token: not a JWT (expected header.payload.signature)"
