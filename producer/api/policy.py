"""GET/PUT /v1/organizations/{id}/policy: where the organization's reports may go (owners only)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from aiohttp import web

from producer.api import changes
from producer.api.auth import Principal, require_role
from producer.api.errors import ApiError
from producer.api.policy_models import PolicyOut, PolicyReplace
from producer.api.request_helpers import caller, db, path_uuid, read_body
from shared.health import json_response
from shared.sqlbind import Named

FIELDS = ("allowed_email_domains", "allowed_webhook_hosts", "allowed_sftp_hosts", "allow_telegram", "allow_slack")

GET = f"""
SELECT {", ".join(FIELDS)}, updated_by, updated_at FROM shared_report_destination_policies WHERE organization_id = $1
"""

PUT = Named(f"""
INSERT INTO shared_report_destination_policies (organization_id, {", ".join(FIELDS)}, updated_by, updated_at)
VALUES (:organization_id, {", ".join(":" + name for name in FIELDS)}, :updated_by, now())
ON CONFLICT (organization_id) DO UPDATE SET
    allowed_email_domains = excluded.allowed_email_domains, allowed_webhook_hosts = excluded.allowed_webhook_hosts,
    allowed_sftp_hosts = excluded.allowed_sftp_hosts, allow_telegram = excluded.allow_telegram,
    allow_slack = excluded.allow_slack, updated_by = excluded.updated_by, updated_at = now()
RETURNING {", ".join(FIELDS)}, updated_by, updated_at
""")

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
    return _out(org, await db(request).fetchrow(GET, org))


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
        before = await conn.fetchrow(GET + " FOR UPDATE", org)
        row = await conn.fetchrow(*PUT.bind(values, organization_id=org, updated_by=principal.user_id))
        old = {f: (before or DEFAULTS)[f] for f in FIELDS}
        await changes.changed(conn, principal, "policy.update", org, old, {f: row[f] for f in FIELDS})
    return _out(org, row)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/organizations/{id}/policy", get_policy)
    app.router.add_put("/v1/organizations/{id}/policy", put_policy)
