"""Dead letters over HTTP: list them, newest first, and replay one (counted with run-now)."""

from __future__ import annotations

from aiohttp import web

from producer import manual
from producer.api import sql
from producer.api.accepted import accepted
from producer.api.auth import require_role
from producer.api.errors import ApiError, not_found
from producer.api.keys import REDIS, SETTINGS
from producer.api.models import DeadLetterList, DeadLetterOut
from producer.api.paging import cursor, page, page_size
from producer.api.request_helpers import caller, db, path_row, visible_orgs
from shared import audit, deadletters
from shared.health import json_response


async def list_dead_letters(request: web.Request) -> web.Response:
    principal = caller(request)
    size = page_size(request)
    before_at, before_id = cursor(request) or (None, None)
    orgs = await visible_orgs(request, principal)
    rows = await db(request).fetch(sql.DEAD_LETTERS, orgs, before_at, before_id, size + 1)
    shown, next_cursor = page(rows, size, at="failed_at")
    items = [DeadLetterOut(**dict(r)) for r in shown]
    return json_response(DeadLetterList(items=items, next_cursor=next_cursor).model_dump(mode="json"))


async def replay_dead_letter(request: web.Request) -> web.Response:
    principal = caller(request)
    dead_id, row = await path_row(request, sql.DEAD_LETTER, "dead letter")
    pool = db(request)
    # One without an organization (its run is gone) is the service role's alone.
    if row["organization_id"] is None:
        if not principal.service:
            raise not_found("dead letter")
    else:
        await require_role(principal, pool, row["organization_id"], write=True, what="dead letter")
    await manual.admit(request.app[REDIS], request.app[SETTINGS], row["schedule_id"], row["organization_id"])
    try:
        run_id = await deadletters.replay(
            pool,
            request.app[REDIS],
            request.app[SETTINGS].queue_name,
            dead_id,
            audit=audit.replayed(principal.user_id, dead_id),
        )
    except deadletters.NotReplayable as exc:
        raise ApiError(409, str(exc)) from exc
    return await accepted(request, run_id)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/dead-letters", list_dead_letters)
    app.router.add_post("/v1/dead-letters/{id}/replay", replay_dead_letter)
