"""The HTTP API as a test calls it: tokens, an authenticated caller, the two organizations a test works in, a
schedule's request body and a matcher for the API's error answers."""

from __future__ import annotations

import time
from typing import Any
from uuid import UUID

import jwt
import orjson
from aiohttp.test_utils import TestClient

SECRET = "test-secret-please-change-0123456789"


def token(
    sub: UUID | None = None,
    *,
    role: str | None = None,
    aud: str = "authenticated",
    exp: int | None = None,
    secret: str = SECRET,
) -> str:
    claims: dict[str, Any] = {"aud": aud, "exp": exp or int(time.time()) + 600}
    if sub:
        claims["sub"] = str(sub)
    if role:
        claims["role"] = role
    return jwt.encode(claims, secret, algorithm="HS256")


class Api:
    def __init__(self, client: TestClient, bearer: str) -> None:
        self.client = client
        self.bearer = bearer

    async def call(
        self, method: str, path: str, body: Any = None, *, raw: bytes | None = None, bearer: str | None = None
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {bearer or self.bearer}", "Content-Type": "application/json"}
        data = raw if raw is not None else (None if body is None else orjson.dumps(body))
        async with self.client.request(method, path, data=data, headers=headers) as response:
            text = await response.text()
            return response.status, (orjson.loads(text) if text else None)


class World:
    """Acme (an owner, a member and a link) and Globex (an owner and a link): the `world` fixture."""

    org: UUID
    owner: UUID
    member: UUID
    link: UUID
    other_org: UUID
    other_owner: UUID
    other_link: UUID


def body(world: World, **extra: Any) -> dict[str, Any]:
    return {
        "shared_link_id": str(world.link),
        "cadence": "weekly",
        "scheduled_time": "09:30",
        "timezone": "Europe/London",
        "send_email": True,
        "recipients": [{"channel": "email", "email": "a@acme.example"}],
        **extra,
    }


def issue(status: int, field: str, fragment: str) -> Any:
    """A matcher for the error shape: code, message and details naming the field."""

    class Match:
        def __eq__(self, answer: object) -> bool:
            got_status, payload = answer  # type: ignore[misc]
            error = payload["error"]
            return (
                got_status == status
                and set(error) == {"code", "message", "details"}
                and any(d["field"] == field and fragment in d["message"] for d in error["details"])
            )

        def __repr__(self) -> str:
            return f"<{status} {field}: {fragment}>"

    return Match()
