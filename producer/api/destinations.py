"""Routes for stored destinations and channel credentials: create, list, delete; secrets write-only. The rules
live in the destinations service."""

from __future__ import annotations

from typing import Any, cast
from uuid import UUID

from aiohttp import web
from pydantic import TypeAdapter

from producer.api import destinations_service as service
from producer.api import sql
from producer.api.auth import require_role
from producer.api.destinations_models import (
    AnyDestinationIn,
    CredentialOut,
    DestinationIn,
    DestinationList,
    DestinationOut,
    SlackCredentialReplace,
)
from producer.api.errors import validation
from producer.api.keys import SETTINGS
from producer.api.request_helpers import (
    caller,
    db,
    path_row,
    query_uuid,
    read_body,
    visible_orgs,
    visible_schedule,
)
from shared.health import json_response

_ADAPTER: TypeAdapter[Any] = TypeAdapter(DestinationIn)


class _Envelope:
    """Lets the shared body reader validate a discriminated union like a model."""

    @staticmethod
    def model_validate_json(raw: bytes) -> Any:
        return _ADAPTER.validate_json(raw, strict=True)


def _out(row: Any) -> dict[str, Any]:
    data = {k: row[k] for k in DestinationOut.model_fields if k != "has_secret"}
    return DestinationOut(**data, has_secret=row["has_secret"]).model_dump(mode="json")


async def create_destination(request: web.Request) -> web.Response:
    principal = caller(request)
    body = cast(AnyDestinationIn, await read_body(request, _Envelope))
    pool = db(request)
    if body.schedule_id is not None:
        schedule = await visible_schedule(request, principal, body.schedule_id, write=True)
        org = schedule["organization_id"]
    else:
        org = body.organization_id
        assert org is not None
        await require_role(principal, pool, org, write=True, what="destination")
    row = await service.create(pool, request.app[SETTINGS], principal, org, body)
    return json_response(_out(row), status=201)


async def list_destinations(request: web.Request) -> web.Response:
    principal = caller(request)
    pool = db(request)
    schedule_id = query_uuid(request, "schedule_id")
    if schedule_id is not None:
        schedule = await visible_schedule(request, principal, schedule_id, write=False)
        orgs: list[UUID] | None = [schedule["organization_id"]]
    else:
        orgs = await visible_orgs(request, principal)
    rows = await pool.fetch(sql.LIST_DESTINATIONS, orgs, schedule_id)
    return json_response(DestinationList.model_validate({"items": [_out(r) for r in rows]}).model_dump(mode="json"))


async def delete_destination(request: web.Request) -> web.Response:
    principal = caller(request)
    destination_id, row = await path_row(request, sql.DESTINATION_OWNER, "destination")
    pool = db(request)
    await require_role(principal, pool, row["organization_id"], write=True, what="destination")
    await service.delete(pool, principal, destination_id)
    return web.Response(status=204)


def _credential_out(org: UUID, channel: str, updated_at: Any) -> web.Response:
    out = CredentialOut(organization_id=org, channel=channel, configured=updated_at is not None, updated_at=updated_at)
    return json_response(out.model_dump(mode="json"))


async def put_slack(request: web.Request) -> web.Response:
    principal = caller(request)
    body = await read_body(request, SlackCredentialReplace)
    pool = db(request)
    org = body.organization_id
    await require_role(principal, pool, org, write=True, what="integration")
    updated = await service.put_credential(pool, request.app[SETTINGS], principal, org, "slack", body.bot_token)
    return _credential_out(org, "slack", updated)


async def _credential_org(request: web.Request, *, write: bool) -> UUID:
    principal = caller(request)
    org = query_uuid(request, "organization_id")
    if org is None:
        raise validation("organization_id", "is required (a query parameter)")
    await require_role(principal, db(request), org, write=write, what="integration")
    return org


async def get_slack(request: web.Request) -> web.Response:
    org = await _credential_org(request, write=False)
    return _credential_out(org, "slack", await service.credential_updated(db(request), org, "slack"))


async def delete_slack(request: web.Request) -> web.Response:
    org = await _credential_org(request, write=True)
    await service.delete_credential(db(request), caller(request), org, "slack")
    return web.Response(status=204)


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_post("/v1/destinations", create_destination)
    r.add_get("/v1/destinations", list_destinations)
    r.add_delete("/v1/destinations/{id}", delete_destination)
    r.add_put("/v1/integrations/slack", put_slack)
    r.add_get("/v1/integrations/slack", get_slack)
    r.add_delete("/v1/integrations/slack", delete_slack)
