"""Property: no input makes any route answer 5xx, and a rejected request changes nothing in the database.

Hypothesis drives over 10,000 requests through the real app (real PostgreSQL and Redis): arbitrary Unicode in
every field (all categories, NUL, lone surrogates escaped in JSON, very long), wrong JSON types, odd query
strings and headers.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import quote
from uuid import UUID

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from producer.app import create_app
from shared.db import create_pool
from shared.queue import connect as connect_redis
from shared.settings import Settings
from tests.support import seed
from tests.support.api import token

EXAMPLES = 10_500
# aiohttp's default limit on a request's URL and on each header; above it the request is not HTTP it will read.
HTTP_LINE_LIMIT = 8190
FIELDS = [
    "shared_link_id", "name", "cadence", "scheduled_time", "day_of_week", "day_of_month", "cron_expression",
    "timezone", "send_email", "send_telegram", "format", "misfire_policy", "misfire_grace_seconds",
    "jitter_seconds", "skip_if_empty", "enabled", "recipients", "starts_at", "ends_at",
]  # fmt: skip
QUERY_KEYS = [
    "limit", "cursor", "organization_id", "x", "status", "trigger", "since", "until", "schedule_id", "days",
]  # fmt: skip
NASTY = [
    "", "\x00", "a\x00b", "²", "٨", "0٨:00", "09:30", "America", "Europe", "Europe/London", "UTC", "1e2", "-1",
    "0", "true", "null", "0 9 * * 1#²", "0 9 * * 1", "* * * * *", "9" * 400, "💥" * 300, "\ud800", "\udfff",
    "../../etc/passwd", "'; DROP TABLE users; --", "<script>", "\u202e", "\r\n", "0001-01-01T00:00:00+14:00",
]  # fmt: skip

text = st.one_of(
    st.sampled_from(NASTY),
    st.text(st.characters(codec=None, exclude_categories=()), max_size=40),
    st.text(max_size=2000).map(lambda t: t * 3),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    text,
)
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3), max_leaves=6
)
recipient = st.fixed_dictionaries(
    {"channel": st.sampled_from(["email", "telegram", "sms"]) | text},
    optional={"email": values, "telegram_chat_id": values, "user_id": values},
)


def body_strategy(valid: dict[str, Any]) -> st.SearchStrategy[Any]:
    mutated = st.builds(lambda key, value: {**valid, key: value}, st.sampled_from([*FIELDS, "unknown_field"]), values)
    many = st.dictionaries(st.sampled_from(FIELDS), values, max_size=6)
    recipients = st.builds(lambda r: {**valid, "recipients": r}, st.lists(recipient, max_size=3) | values)
    # A preview's own body: timing fields, count and from.
    timing = {k: valid[k] for k in ("cadence", "scheduled_time", "timezone")}
    preview = st.builds(
        lambda key, value: {**timing, key: value},
        st.sampled_from(["cadence", "scheduled_time", "cron_expression", "timezone", "count", "from"]),
        values,
    )
    return st.one_of(mutated, many, recipients, preview, values)


def encode(value: Any) -> bytes:
    # ensure_ascii writes lone surrogates as \\udXXX escapes, as a hostile client would.
    return json.dumps(value, ensure_ascii=True).encode()


def query_part(value: str) -> str:
    return quote(value.encode("utf-8", "surrogatepass"), safe="")


@pytest.mark.timeout(400)
def test_no_input_answers_5xx_or_changes_data_when_rejected(database_url: str, redis_url: str) -> None:
    asyncio.run(_fuzz(database_url, redis_url))


async def _fuzz(database_url: str, redis_url: str) -> None:
    settings = Settings(
        database_url=database_url,
        redis_url=redis_url,
        jwt_secret="test-secret-please-change-0123456789",
        log_format="text",
        log_level="CRITICAL",
    )
    pool = await create_pool(database_url, max_size=4)
    redis = await connect_redis(redis_url)
    try:
        org = await seed.organization(pool, "fuzz")
        owner = await seed.user(pool, "fuzz@fuzz.example", org, "owner")
        link = await seed.shared_link(pool, org, slug="fuzz-link")
        valid = {
            "shared_link_id": str(link),
            "cadence": "daily",
            "scheduled_time": "09:30",
            "timezone": "Europe/London",
            "recipients": [{"channel": "email", "email": "a@fuzz.example"}],
        }
        auth = {"Authorization": f"Bearer {token(owner)}", "Content-Type": "application/json"}
        loop = asyncio.get_running_loop()
        tally = {"requests": 0, "4xx": 0, "2xx": 0, "too_long": 0}
        async with TestClient(TestServer(create_app(settings, run_scheduler=False))) as client:
            async with client.post("/v1/schedules", data=orjson.dumps(valid), headers=auth) as r:
                assert r.status == 201
                sid = (await r.json())["id"]
            routes = [
                ("GET", "/v1/schedules"),
                ("POST", "/v1/schedules"),
                ("GET", f"/v1/schedules/{sid}"),
                ("PATCH", f"/v1/schedules/{sid}"),
                ("PUT", f"/v1/schedules/{sid}/recipients"),
                ("POST", f"/v1/schedules/{sid}/run"),
                ("GET", f"/v1/schedules/{sid}/runs"),
                ("GET", "/v1/dead-letters"),
                ("POST", "/v1/dead-letters/{any}/replay"),
                ("GET", "/v1/schedules/{any}"),
                ("DELETE", "/v1/schedules/{any}"),
                ("POST", "/v1/schedules/preview"),
                ("GET", "/v1/timezones"),
                ("GET", "/v1/runs"),
                ("GET", f"/v1/schedules/{sid}/stats"),
                ("POST", f"/v1/schedules/{sid}/restore"),
                ("POST", "/v1/schedules/{any}/restore"),
                ("POST", "/v1/runs/{any}/resend"),
                ("POST", f"/v1/schedules/{sid}/owner"),
            ]

            async def fingerprint() -> tuple[Any, ...]:
                row = await pool.fetchrow(
                    "SELECT (SELECT count(*) FROM shared_report_schedules),"
                    " (SELECT count(*) FROM shared_report_schedule_recipients),"
                    " (SELECT count(*) FROM shared_report_runs),"
                    " (SELECT max(updated_at) FROM shared_report_schedules WHERE deleted_at IS NULL)"
                )
                return tuple(row)

            async def one(
                route: tuple[str, str], payload: Any, query: dict[str, str], any_id: str, header: str
            ) -> None:
                method, path = route
                path = path.replace("{any}", query_part(any_id))
                qs = "&".join(f"{k}={query_part(v)}" for k, v in query.items())
                headers = dict(auth)
                if header:
                    headers["Authorization"] = header
                before = await fingerprint()
                data = None if method in ("GET", "DELETE") else encode(payload)
                url = f"{path}?{qs}" if qs else path
                async with client.request(method, url, data=data, headers=headers) as r:
                    status = r.status
                    answer = await r.read()
                tally["requests"] += 1
                assert status < 500, (method, path, qs, payload, answer[:500])
                if len(url) > HTTP_LINE_LIMIT:
                    # The HTTP layer refuses it before the API sees it, in plain text (docs/api.md, Errors).
                    tally["too_long"] += 1
                    assert status == 400 and answer.startswith(b"Got more than 8190 bytes"), answer[:200]
                    assert await fingerprint() == before, (method, path)
                elif status >= 400:
                    tally["4xx"] += 1
                    error = orjson.loads(answer)["error"]
                    assert set(error) == {"code", "message", "details"}, answer
                    assert await fingerprint() == before, (method, path, payload)
                else:
                    tally["2xx"] += 1

            @hsettings(
                max_examples=EXAMPLES,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(
                route=st.sampled_from(routes),
                payload=body_strategy(valid),
                query=st.dictionaries(st.sampled_from(QUERY_KEYS), text, max_size=2),
                any_id=st.sampled_from([str(UUID(int=0)), sid]) | text,
                header=st.sampled_from(["", "", "", "Bearer", "Basic abc", "Bearer x.y.z", f"bearer {token(owner)}"])
                | st.text(
                    st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_categories=("Cc",)), max_size=40
                ),
            )
            def example(route: Any, payload: Any, query: dict[str, str], any_id: str, header: str) -> None:
                # Hypothesis calls this synchronously; each example runs on the test's own loop.
                asyncio.run_coroutine_threadsafe(one(route, payload, query, any_id, header), loop).result()

            await loop.run_in_executor(None, example)
    finally:
        await redis.aclose()
        await pool.close()
    assert tally["requests"] >= 10_000
    print(
        f"fuzz: {tally['requests']} requests, {tally['4xx']} rejected with 4xx, {tally['2xx']} accepted, "
        f"{tally['too_long']} refused by the HTTP layer as too long, 0 5xx"
    )
