"""What every handler takes from its request: who calls (auth), the body, ids in the path and query, and what the
caller may see (visibility). Handlers parse and authorize with these; the rules live in the services."""

from __future__ import annotations

from typing import TypeVar
from uuid import UUID

import orjson
from aiohttp import web
from pydantic import BaseModel, ValidationError

from producer.api import messages, sql
from producer.api.auth import Principal, authenticate, require_role
from producer.api.errors import ApiError, gone, not_found, validation
from producer.api.keys import POOL, SETTINGS
from shared.db import Connection, Pool, Record

M = TypeVar("M", bound=BaseModel)


def caller(request: web.Request) -> Principal:
    return authenticate(request, request.app[SETTINGS])


def db(request: web.Request) -> Pool:
    return request.app[POOL]


async def read_body(request: web.Request, model: type[M], *, optional: bool = False) -> M:
    """The JSON body as `model`; an empty body is the model's defaults when `optional`."""
    raw = await request.read()
    if not raw.strip():
        if optional:
            return model()
        raise ApiError(400, "the request body is empty; send a JSON object")
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, f"malformed JSON: {exc}") from exc
    try:
        # Validated from the JSON text itself, so strict mode judges JSON types, not Python ones.
        return model.model_validate_json(raw)
    except ValidationError as exc:
        details = [
            {"field": messages.field(err), "message": messages.message(err)} for err in exc.errors(include_url=False)
        ]
        raise ApiError(422, "; ".join(f"{d['field']}: {d['message']}" for d in details), details) from exc


def path_uuid(request: web.Request, name: str, what: str) -> UUID:
    """An id in the path; one that is not a UUID names nothing, so it is not found."""
    try:
        return UUID(request.match_info[name])
    except ValueError as exc:
        raise not_found(what) from exc


async def path_row(request: web.Request, query: str, what: str) -> tuple[UUID, Record]:
    """The path's id and the row `query` finds for it; not found when there is none."""
    item_id = path_uuid(request, "id", what)
    row = await db(request).fetchrow(query, item_id)
    if row is None:
        raise not_found(what)
    return item_id, row


def query_uuid(request: web.Request, name: str) -> UUID | None:
    value = request.query.get(name)
    if value is None or value == "":
        return None
    try:
        return UUID(value)
    except ValueError as exc:
        raise validation(name, "must be a UUID") from exc


async def visible_orgs(request: web.Request, principal: Principal) -> list[UUID] | None:
    """The organizations a list may show: the one `organization_id` names, or all the caller's (None: every one,
    for the service role)."""
    org = query_uuid(request, "organization_id")
    mine = await principal.organizations(db(request))
    if org is None:
        return mine
    if mine is not None and org not in mine:
        # Like any other object of another organization: not found, revealing nothing.
        raise not_found("organization")
    return [org]


async def visible_schedule(
    request: web.Request,
    principal: Principal,
    schedule_id: UUID,
    *,
    write: bool,
    conn: Pool | Connection | None = None,
    lock: bool = False,
    deleted: bool = False,
) -> Record:
    """The schedule, if the caller may read it, or change it with `write`: then a deleted one is gone, unless
    `deleted` (restoring it)."""
    row = await (conn or db(request)).fetchrow(sql.SCHEDULE_FOR_UPDATE if lock else sql.SCHEDULE, schedule_id)
    if row is None:
        raise not_found()
    await require_role(principal, db(request), row["organization_id"], write=write)
    if write and not deleted and row["deleted_at"] is not None:
        raise gone(row["deleted_at"])
    return row


async def visible_link(request: web.Request, principal: Principal, link_id: UUID) -> Record:
    """An active shared link of one of the caller's organizations."""
    link = await db(request).fetchrow(sql.LINK, link_id)
    if link is None or await principal.role_in(db(request), link["organization_id"]) is None:
        raise validation("shared_link_id", "no active shared link with this id in your organizations")
    return link
