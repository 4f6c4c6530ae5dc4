"""The destinations service: what storing, removing a destination or a channel credential takes, in one
transaction with its audit row. Callers have parsed the request and checked the caller's role."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

from producer.api import allowed, changes, sql
from producer.api.auth import Principal
from producer.api.destinations_models import AnyDestinationIn, SftpIn, WebhookIn
from producer.api.errors import ApiError, not_found, validation
from shared import outbound
from shared.db import Pool, Record
from shared.errors import ConfigError
from shared.settings import Settings
from shared.vault import Vault

# Per organization, and per schedule for a schedule's own destinations.
MAX_PER_OWNER = 100


def _vault(settings: Settings) -> Vault:
    try:
        return settings.vault()
    except ConfigError as exc:
        raise ApiError(
            503, f"this server cannot store channel credentials: {exc}", code="credentials_unavailable"
        ) from exc


def _check_address(settings: Settings, body: AnyDestinationIn) -> None:
    allow_private = settings.outbound_allow_private
    if isinstance(body, WebhookIn):
        try:
            outbound.check_url(body.url, allow_private)
        except outbound.Blocked as exc:
            raise validation("url", f"{exc} (webhooks go to public https endpoints)") from exc
    elif isinstance(body, SftpIn):
        try:
            outbound.check_host(body.host, allow_private)
        except outbound.Blocked as exc:
            raise validation("host", f"{exc} (SFTP destinations are public servers)") from exc


async def create(pool: Pool, settings: Settings, principal: Principal, org: UUID, body: AnyDestinationIn) -> Record:
    """Stores the destination (its secret encrypted); one of a schedule's own turns its channel on."""
    _check_address(settings, body)
    await allowed.check_destination(pool, org, body.channel, body.config(), body.target())
    secret = body.stored_secret()
    stored = _vault(settings).encrypt(secret) if secret is not None else None
    async with pool.acquire() as conn, conn.transaction():
        count = await conn.fetchval(sql.COUNT_DESTINATIONS, org, body.schedule_id)
        if count >= MAX_PER_OWNER:
            owner = "schedule_id" if body.schedule_id else "organization_id"
            raise validation(owner, f"has {MAX_PER_OWNER} destinations already")
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
        assert row is not None
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
    return row


async def delete(pool: Pool, principal: Principal, destination_id: UUID) -> None:
    async with pool.acquire() as conn, conn.transaction():
        gone = await conn.fetchrow(sql.DESTINATION_FOR_UPDATE, destination_id)
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


async def credential_updated(pool: Pool, org: UUID, channel: str) -> datetime | None:
    updated: datetime | None = await pool.fetchval(sql.CREDENTIAL_UPDATED, org, channel)
    return updated


async def put_credential(
    pool: Pool, settings: Settings, principal: Principal, org: UUID, channel: str, token: str
) -> datetime:
    """Stores the organization's bot token for the channel, encrypted; returns when."""
    stored = _vault(settings).encrypt(token)
    async with pool.acquire() as conn, conn.transaction():
        before = await conn.fetchval(sql.CREDENTIAL_UPDATED_FOR_UPDATE, org, channel)
        updated: datetime = await conn.fetchval(sql.PUT_CREDENTIAL, org, channel, stored)
        # A new token is a change even when the old one was set: both sides show only that one is set.
        was = {"bot_token": "set" if before is not None else None, "replaced_at": before}
        await changes.changed(
            conn, principal, "integration.update", org, was, {"bot_token": "set", "replaced_at": updated}
        )
    return updated


async def delete_credential(pool: Pool, principal: Principal, org: UUID, channel: str) -> None:
    async with pool.acquire() as conn, conn.transaction():
        deleted = await conn.fetchval(sql.DELETE_CREDENTIAL, org, channel)
        if deleted is not None:
            await changes.changed(conn, principal, "integration.delete", org, {"bot_token": "set"}, {"bot_token": None})
