"""The audit log over HTTP (GET /v1/audit) and what the routes write into it.

What the routes write is in producer/api/changes.py.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from aiohttp import web

from producer.api import sql
from producer.api.audit_models import AuditEntryOut, AuditList
from producer.api.auth import Principal
from producer.api.errors import ApiError, not_found, validation
from producer.api.paging import cursor, page, page_size
from producer.api.query import choice, instant
from producer.api.request_helpers import caller, db, query_uuid
from shared import audit
from shared.db import Record
from shared.health import json_response


async def _organizations(request: web.Request, principal: Principal) -> list[UUID] | None:
    """Where this principal may read the log: every organization it owns or administers (all for the service
    role); naming one it is only a member of is 403, one it is not in is 404."""
    pool = db(request)
    org = query_uuid(request, "organization_id")
    if principal.service:
        return None if org is None else [org]
    allowed = [r["organization_id"] for r in await pool.fetch(sql.AUDIT_ORGANIZATIONS, principal.user_id)]
    if org is None:
        return allowed
    if org not in allowed:
        role = await principal.role_in(pool, org)
        if role is None:
            raise not_found("organization")
        raise ApiError(403, f"your role '{role}' may not read this organization's audit log (owners and admins may)")
    return [org]


def _actor(request: web.Request) -> str | None:
    value = request.query.get("actor") or None
    if value is None or value == "service":
        return value
    try:
        return str(UUID(value))
    except ValueError as exc:
        raise validation("actor", "must be a user id (a UUID) or service") from exc


async def list_audit(request: web.Request) -> web.Response:
    principal = caller(request)
    size = page_size(request)
    after = cursor(request)
    filters: dict[str, Any] = {
        "schedule_id": query_uuid(request, "schedule_id"),
        "actor": _actor(request),
        "action": choice(request, "action", audit.ACTIONS),
        "since": instant(request, "since"),
    }
    orgs = await _organizations(request, principal)
    if orgs == []:
        return json_response(AuditList(items=[], next_cursor=None).model_dump(mode="json"))
    sql.scope(filters, orgs)
    query, args = sql.audit_entries(filters, after, size + 1)
    rows: list[Record] = await db(request).fetch(query, *args)
    shown, next_cursor = page(rows, size)
    items = [AuditEntryOut(**dict(r)) for r in shown]
    return json_response(AuditList(items=items, next_cursor=next_cursor).model_dump(mode="json"))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/audit", list_audit)
