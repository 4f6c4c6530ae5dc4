"""Routes for stored destinations and channel credentials: create, list, delete; secrets write-only."""

from __future__ import annotations

from typing import Any, cast
from uuid import UUID

import asyncpg
from aiohttp import web
from pydantic import TypeAdapter

from producer.api import allowed, changes, sql
from producer.api.auth import require_role
from producer.api.destinations_models import (
    AnyDestinationIn,
    CredentialOut,
    DestinationIn,
    DestinationList,
    DestinationOut,
    SftpIn,
    SlackCredentialReplace,
    WebhookIn,
)
from producer.api.errors import ApiError, not_found, validation
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
from shared import outbound
from shared.errors import ConfigError
from shared.health import json_response
from shared.vault import Vault

MAX_PER_OWNER = 100
_ADAPTER: TypeAdapter[Any] = TypeAdapter(DestinationIn)


class _Envelope:
    """Lets the shared body reader validate a discriminated union like a model."""

    @staticmethod
    def model_validate_json(raw: bytes) -> Any:
        return _ADAPTER.validate_json(raw, strict=True)


def _vault(request: web.Request) -> Vault:
    try:
        return request.app[SETTINGS].vault()
    except ConfigError as exc:
        raise ApiError(
            503, f"this server cannot store channel credentials: {exc}", code="credentials_unavailable"
        ) from exc


def _check_webhook_url(request: web.Request, url: str) -> None:
    try:
        outbound.check_url(url, request.app[SETTINGS].outbound_allow_private)
    except outbound.Blocked as exc:
        raise validation("url", f"{exc} (webhooks go to public https endpoints)") from exc


def _check_sftp_host(request: web.Request, host: str) -> None:
    try:
        outbound.check_host(host, request.app[SETTINGS].outbound_allow_private)
    except outbound.Blocked as exc:
        raise validation("host", f"{exc} (SFTP destinations are public servers)") from exc


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
    secret = body.stored_secret()
    if isinstance(body, WebhookIn):
        _check_webhook_url(request, body.url)
    if isinstance(body, SftpIn):
        _check_sftp_host(request, body.host)
    await allowed.check_destination(pool, org, body.channel, body.config(), body.target())
    stored = _vault(request).encrypt(secret) if secret is not None else None
    async with pool.acquire() as conn, conn.transaction():
        count = await conn.fetchval(sql.COUNT_DESTINATIONS, org, body.schedule_id)
        if count >= MAX_PER_OWNER:
            raise validation("schedule_id" if body.schedule_id else "organization_id", "has 100 destinations already")
        try:
            row = await conn.fetchrow(
                *sql.INSERT_DESTINATION.bind(
                    organization_id=org,
                    schedule_id=body.schedule_id,
                    channel=body.channel,
                    target=body.target(),
                    label=body.label,
                    config=body.config(),
                    secret=stored,
                )
            )
        except asyncpg.UniqueViolationError as exc:
            raise ApiError(409, f"this {body.channel} destination exists already for the same owner") from exc
        if body.schedule_id is not None:
            # A schedule given its own destination of a channel delivers to that channel.
            await conn.execute(sql.ENABLE_CHANNEL, body.schedule_id, body.channel)
        await changes.changed(
            conn,
            principal,
            "destination.create",
            org,
            None,
            changes.destination_state(row, stored),
            schedule_id=body.schedule_id,
            destination_id=row["id"],
        )
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
    async with pool.acquire() as conn, conn.transaction():
        gone = await conn.fetchrow(sql.DESTINATION + " FOR UPDATE", destination_id)
        if gone is None:
            raise not_found("destination")
        await conn.execute(sql.DELETE_DESTINATION, destination_id)
        await changes.changed(
            conn,
            principal,
            "destination.delete",
            gone["organization_id"],
            changes.destination_state(gone, gone["has_secret"] or None),
            None,
            schedule_id=gone["schedule_id"],
            destination_id=destination_id,
        )
    return web.Response(status=204)


def _credential_out(org: UUID, channel: str, updated_at: Any) -> web.Response:
    out = CredentialOut(organization_id=org, channel=channel, configured=updated_at is not None, updated_at=updated_at)
    return json_response(out.model_dump(mode="json"))


async def put_slack(request: web.Request) -> web.Response:
    principal = caller(request)
    body = await read_body(request, SlackCredentialReplace)
    pool = db(request)
    await require_role(principal, pool, body.organization_id, write=True, what="integration")
    token = _vault(request).encrypt(body.bot_token)
    async with pool.acquire() as conn, conn.transaction():
        before = await conn.fetchval(sql.CREDENTIAL_UPDATED + " FOR UPDATE", body.organization_id, "slack")
        updated = await conn.fetchval(sql.PUT_CREDENTIAL, body.organization_id, "slack", token)
        # A new token is a change even when the old one was set: both sides show only that one is set.
        was = {"bot_token": "set" if before is not None else None, "replaced_at": before}
        await changes.changed(
            conn,
            principal,
            "integration.update",
            body.organization_id,
            was,
            {"bot_token": "set", "replaced_at": updated},
        )
    return _credential_out(body.organization_id, "slack", updated)


async def _credential_org(request: web.Request, *, write: bool) -> UUID:
    principal = caller(request)
    org = query_uuid(request, "organization_id")
    if org is None:
        raise validation("organization_id", "is required (a query parameter)")
    await require_role(principal, db(request), org, write=write, what="integration")
    return org


async def get_slack(request: web.Request) -> web.Response:
    org = await _credential_org(request, write=False)
    updated = await db(request).fetchval(sql.CREDENTIAL_UPDATED, org, "slack")
    return _credential_out(org, "slack", updated)


async def delete_slack(request: web.Request) -> web.Response:
    org = await _credential_org(request, write=True)
    async with db(request).acquire() as conn, conn.transaction():
        deleted = await conn.fetchval(sql.DELETE_CREDENTIAL + " RETURNING updated_at", org, "slack")
        if deleted is not None:
            await changes.changed(
                conn, caller(request), "integration.delete", org, {"bot_token": "set"}, {"bot_token": None}
            )
    return web.Response(status=204)


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_post("/v1/destinations", create_destination)
    r.add_get("/v1/destinations", list_destinations)
    r.add_delete("/v1/destinations/{id}", delete_destination)
    r.add_put("/v1/integrations/slack", put_slack)
    r.add_get("/v1/integrations/slack", get_slack)
    r.add_delete("/v1/integrations/slack", delete_slack)
