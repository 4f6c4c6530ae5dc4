"""GET/PUT /v1/organizations/{id}/policy: where the organization's reports may go (owners only)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from aiohttp import web

from producer.api import changes, sql
from producer.api.auth import Principal, require_role
from producer.api.errors import ApiError
from producer.api.policy_models import PolicyOut, PolicyReplace
from producer.api.request_helpers import caller, db, path_uuid, read_body
from shared.health import json_response

DEFAULTS: dict[str, Any] = {**PolicyReplace().model_dump(), "updated_by": None, "updated_at": None}


async def _owner(request: web.Request, principal: Principal, org: UUID) -> None:
    role = await require_role(principal, db(request), org, write=False, what="organization")
    if role not in ("owner", "service"):
        raise ApiError(403, f"your role '{role}' may not read or change the destination policy (owners may)")


def _out(org: UUID, row: Any) -> web.Response:
    data = dict(row) if row is not None else DEFAULTS
    return json_response(PolicyOut(organization_id=org, **data).model_dump(mode="json"))


async def get_policy(request: web.Request) -> web.Response:
    principal = caller(request)
    org = path_uuid(request, "id", "organization")
    await _owner(request, principal, org)
    return _out(org, await db(request).fetchrow(sql.POLICY, org))


async def put_policy(request: web.Request) -> web.Response:
    principal = caller(request)
    org = path_uuid(request, "id", "organization")
    await _owner(request, principal, org)
    body = await read_body(request, PolicyReplace)
    # Stored as matched: lower case, no trailing dot, each once.
    values = {
        name: sorted({v.lower().rstrip(".") for v in value}) if isinstance(value, list) else value
        for name, value in body.model_dump().items()
    }
    async with db(request).acquire() as conn, conn.transaction():
        before = await conn.fetchrow(sql.POLICY_FOR_UPDATE, org)
        row = await conn.fetchrow(*sql.PUT_POLICY.bind(values, organization_id=org, updated_by=principal.user_id))
        old = {f: (before or DEFAULTS)[f] for f in sql.POLICY_FIELDS}
        await changes.changed(conn, principal, "policy.update", org, old, {f: row[f] for f in sql.POLICY_FIELDS})
    return _out(org, row)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/organizations/{id}/policy", get_policy)
    app.router.add_put("/v1/organizations/{id}/policy", put_policy)
