"""Idempotency-Key on POST: the same key and request within 24 hours gets the first answer, done once."""

from __future__ import annotations

import hashlib

from aiohttp import web

from producer.api import sql
from producer.api.auth import authenticate
from producer.api.errors import ApiError, Handler, refusal
from producer.api.keys import POOL, SETTINGS
from shared.errors import InvalidInput

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
MAX_KEY = 255


def _key(request: web.Request) -> str | None:
    key = request.headers.get(HEADER)
    if key is None:
        return None
    # Printable ASCII without spaces, as a UUID or any client-made token is.
    if not 1 <= len(key) <= MAX_KEY or not all("!" <= char <= "~" for char in key):
        raise ApiError(
            422,
            f"{HEADER}: must be 1 to {MAX_KEY} printable ASCII characters without spaces, e.g. a UUID",
            [{"field": HEADER, "message": f"must be 1 to {MAX_KEY} printable ASCII characters without spaces"}],
        )
    return key


@web.middleware
async def idempotency_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method != "POST" or not request.path.startswith("/v1/"):
        return await handler(request)
    key = _key(request)
    if key is None:
        return await handler(request)
    try:
        principal = authenticate(request, request.app[SETTINGS])
    except ApiError:
        return await handler(request)  # unauthenticated: nothing is done, and the handler says why
    caller = "service" if principal.service else str(principal.user_id)
    body = await request.read()
    fingerprint = hashlib.sha256(b"%s %s\n%s" % (request.method.encode(), request.path_qs.encode(), body)).hexdigest()
    pool = request.app[POOL]
    if not await pool.fetchval(sql.RESERVE_KEY, caller, key, fingerprint):
        return await _answer_again(request, caller, key, fingerprint)
    try:
        try:
            response = await handler(request)
        except (ApiError, InvalidInput) as exc:
            response = refusal(exc)
    except BaseException:
        await pool.execute(sql.RELEASE_KEY, caller, key, fingerprint)
        raise
    if response.status >= 500 or not isinstance(response, web.Response):
        # Not an answer to keep: the next try with this key does the work.
        await pool.execute(sql.RELEASE_KEY, caller, key, fingerprint)
        return response
    stored = response.body if isinstance(response.body, bytes) else b""
    await pool.execute(
        *sql.KEEP_ANSWER.bind(
            caller=caller,
            key=key,
            fingerprint=fingerprint,
            status=response.status,
            content_type=response.content_type,
            body=stored,
        )
    )
    return response


async def _answer_again(request: web.Request, caller: str, key: str, fingerprint: str) -> web.StreamResponse:
    row = await request.app[POOL].fetchrow(sql.IDEMPOTENT_ANSWER, caller, key)
    if row is None:
        # Released by a failed first try a moment ago: this one is as new.
        raise ApiError(409, f"the request with this {HEADER} failed a moment ago; send it again")
    if row["fingerprint"] != fingerprint:
        raise ApiError(
            422,
            f"{HEADER}: this key was used within 24 hours for another request (another body or route); "
            "use a new key for a new request",
            [{"field": HEADER, "message": "was used within 24 hours for another request; use a new key"}],
        )
    if row["status"] is None:
        raise ApiError(409, f"the first request with this {HEADER} is still being answered; retry in a moment")
    if row["status"] == 204:
        response = web.Response(status=204)
    else:
        response = web.Response(status=row["status"], body=row["body"], content_type=row["content_type"])
    response.headers[REPLAYED] = "true"
    return response
