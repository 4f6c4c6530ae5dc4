"""Helpers that put source data and schedules in a test database."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from shared.db import Pool
from shared.vault import Vault


async def organization(pool: Pool, slug: str | None = None) -> UUID:
    slug = slug or f"org-{uuid4().hex[:8]}"
    org_id: UUID = await pool.fetchval(
        "INSERT INTO organizations (name, slug) VALUES ($1, $2) RETURNING id", slug.title(), slug
    )
    return org_id


async def user(pool: Pool, email: str | None = None, org: UUID | None = None, role: str = "owner") -> UUID:
    email = email or f"user-{uuid4().hex[:8]}@example.com"
    user_id: UUID = await pool.fetchval(
        "INSERT INTO users (email, full_name) VALUES ($1, $2) RETURNING id", email, "Test User"
    )
    if org is not None:
        await pool.execute(
            "INSERT INTO organization_members (organization_id, user_id, role) VALUES ($1, $2, $3)",
            org,
            user_id,
            role,
        )
    return user_id


async def shared_link(
    pool: Pool,
    org: UUID,
    filters: dict[str, Any] | None = None,
    slug: str | None = None,
    title: str = "Weekly Views",
) -> UUID:
    link_id: UUID = await pool.fetchval(
        "INSERT INTO shared_links (organization_id, slug, title, filters) VALUES ($1, $2, $3, $4) RETURNING id",
        org,
        slug or f"link-{uuid4().hex[:8]}",
        title,
        filters or {},
    )
    return link_id


async def schedule(
    pool: Pool,
    org: UUID,
    link: UUID,
    *,
    cron: str = "0 9 * * *",
    timezone: str = "UTC",
    next_run_at: datetime,
    created_by: UUID | None = None,
    **columns: Any,
) -> UUID:
    fields = {
        "organization_id": org,
        "shared_link_id": link,
        "name": "Report",
        "cadence": "custom",
        "cron_expression": cron,
        "timezone": timezone,
        "next_run_at": next_run_at,
        "created_by": created_by,
        **columns,
    }
    names = ", ".join(fields)
    params = ", ".join(f"${i}" for i in range(1, len(fields) + 1))
    schedule_id: UUID = await pool.fetchval(
        f"INSERT INTO shared_report_schedules ({names}) VALUES ({params}) RETURNING id", *fields.values()
    )
    return schedule_id


async def recipient(
    pool: Pool,
    schedule_id: UUID,
    *,
    email: str | None = None,
    chat: int | None = None,
    user_id: UUID | None = None,
) -> None:
    channel = "telegram" if chat is not None else "email"
    await pool.execute(
        "INSERT INTO shared_report_schedule_recipients (schedule_id, channel, user_id, email, telegram_chat_id)"
        " VALUES ($1, $2, $3, $4, $5)",
        schedule_id,
        channel,
        user_id,
        email,
        chat,
    )


async def destination(
    pool: Pool,
    vault: Vault,
    org: UUID,
    schedule_id: UUID | None,
    channel: str,
    target: str,
    config: dict[str, Any] | None = None,
    secret: str | None = None,
) -> UUID:
    """A stored destination, its secret encrypted as the API stores it; enables the channel on the schedule."""
    destination_id: UUID = await pool.fetchval(
        "INSERT INTO shared_report_destinations (organization_id, schedule_id, channel, target, config, secret)"
        " VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        org,
        schedule_id,
        channel,
        target,
        config or {},
        vault.encrypt(secret) if secret is not None else None,
    )
    if schedule_id is not None:
        await pool.execute(
            "UPDATE shared_report_schedules SET channels = array_append(channels, $2)"
            " WHERE id = $1 AND NOT ($2 = ANY(channels))",
            schedule_id,
            channel,
        )
    return destination_id


async def channel_credential(pool: Pool, vault: Vault, org: UUID, channel: str, secret: str) -> None:
    await pool.execute(
        "INSERT INTO shared_report_channel_credentials (organization_id, channel, secret) VALUES ($1, $2, $3)",
        org,
        channel,
        vault.encrypt(secret),
    )
