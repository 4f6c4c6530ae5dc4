"""Demo data: one organization, a shared link, ~10,000 videos, and schedules due now."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import orjson

from shared.db import Pool
from shared.vault import Vault

ORG_SLUG = "demo-co"
OWNER_EMAIL = "owner@demo.example"


@dataclass(frozen=True)
class DemoData:
    organization_id: UUID
    owner_id: UUID
    shared_link_id: UUID
    schedule_ids: list[UUID]
    videos: int


async def seed(pool: Pool, videos: int = 10_000) -> DemoData:
    async with pool.acquire() as conn, conn.transaction():
        org = await conn.fetchval(
            "INSERT INTO organizations (name, slug) VALUES ('Demo Co', $1) RETURNING id", ORG_SLUG
        )
        owner = await conn.fetchval(
            "INSERT INTO users (email, full_name) VALUES ($1, 'Olivia Owner') RETURNING id", OWNER_EMAIL
        )
        analyst = await conn.fetchval(
            "INSERT INTO users (email, full_name) VALUES ('analyst@demo.example', 'Ari Analyst') RETURNING id"
        )
        await conn.execute(
            "INSERT INTO organization_members VALUES ($1, $2, 'owner'), ($1, $3, 'member')",
            org,
            owner,
            analyst,
        )
        link = await conn.fetchval(
            "INSERT INTO shared_links (organization_id, slug, title, filters, created_by) "
            "VALUES ($1, 'weekly-performance', 'Weekly Performance', $2, $3) RETURNING id",
            org,
            {"platforms": ["tiktok", "youtube", "instagram"]},
            owner,
        )
        await conn.execute(
            """
            INSERT INTO videos (organization_id, title, video_url, platform, status, campaign_tag,
                                channel_username, published_at, created_at)
            SELECT $1,
                   'Video #' || g || CASE WHEN g % 97 = 0 THEN ' with "quotes", commas' ELSE '' END,
                   'https://videos.example/' || g,
                   (ARRAY['tiktok', 'youtube', 'instagram', 'twitch'])[1 + g % 4],
                   (ARRAY['active', 'active', 'archived'])[1 + g % 3],
                   CASE WHEN g % 5 = 0 THEN NULL ELSE 'Campaign ' || chr(65 + g % 3) END,
                   '@creator' || (g % 40),
                   CASE WHEN g % 50 = 0 THEN NULL ELSE now() - (g * interval '37 minutes') END,
                   now() - (g * interval '37 minutes') + interval '5 minutes'
            FROM generate_series(1, $2) g
            """,
            org,
            videos,
        )
        await conn.execute(
            "INSERT INTO video_statistics (video_id, views, likes, comments, reposts, updated_at) "
            "SELECT id, (abs(hashtext(id::text)) % 1000000), (abs(hashtext(id::text)) % 50000), "
            "(abs(hashtext(id::text)) % 3000), (abs(hashtext(id::text)) % 900), now() "
            "FROM videos WHERE organization_id = $1 AND (abs(hashtext(id::text)) % 10) <> 0",
            org,
        )
        weekly = await conn.fetchval(
            "INSERT INTO shared_report_schedules (organization_id, shared_link_id, created_by, name, cadence, "
            "scheduled_time, day_of_week, cron_expression, timezone, send_email, send_telegram, format, "
            "extra_formats, next_run_at) "
            "VALUES ($1, $2, $3, 'Weekly Performance', 'weekly', '09:00', 1, '0 9 * * 1', 'Europe/London', "
            "true, true, 'xlsx', '{csv}', now()) RETURNING id",
            org,
            link,
            owner,
        )
        await conn.execute(
            "INSERT INTO shared_report_schedule_recipients (schedule_id, channel, user_id, email, telegram_chat_id) "
            "VALUES ($1, 'email', $2, NULL, NULL), ($1, 'email', NULL, 'team@demo.example', NULL), "
            "($1, 'telegram', NULL, NULL, 424242)",
            weekly,
            owner,
        )
        monthly = await conn.fetchval(
            "INSERT INTO shared_report_schedules (organization_id, shared_link_id, created_by, name, cadence, "
            "scheduled_time, day_of_month, cron_expression, timezone, send_email, send_telegram, format, "
            "next_run_at) VALUES ($1, $2, $3, 'Month End (zipped)', 'monthly', '18:00', -1, '0 18 L * *', "
            "'America/New_York', true, true, 'csv.zip', now()) RETURNING id",
            org,
            link,
            owner,
        )
        # The monthly schedule has no recipients of its own: organization-wide ones are used.
        await conn.execute(
            "INSERT INTO organization_notification_email_recipients (organization_id, email) "
            "VALUES ($1, 'reports@demo.example')",
            org,
        )
        await conn.execute(
            "INSERT INTO organization_notification_telegram_recipients "
            "(organization_id, telegram_chat_id, label) VALUES ($1, -1001234567, 'Demo group')",
            org,
        )
    return DemoData(org, owner, link, [weekly, monthly], videos)


async def destinations(
    pool: Pool,
    vault: Vault,
    data: DemoData,
    *,
    slack_token: str,
    webhook_url: str,
    webhook_secret: str,
    sftp: dict[str, object],
    sftp_password: str,
    dead_url: str,
    dead_name: str,
) -> None:
    """The weekly schedule also goes to a Slack channel, a webhook and an SFTP drop directory; one more
    schedule delivers only to a webhook that is always down, so it ends dead with a dead letter."""
    weekly = data.schedule_ids[0]
    async with pool.acquire() as conn, conn.transaction():
        dead = await conn.fetchval(
            "INSERT INTO shared_report_schedules (organization_id, shared_link_id, created_by, name, cadence, "
            "scheduled_time, cron_expression, timezone, send_email, send_telegram, channels, next_run_at) "
            "VALUES ($1, $2, $3, $4, 'daily', '07:00', '0 7 * * *', 'UTC', false, false, '{webhook}', now()) "
            "RETURNING id",
            data.organization_id,
            data.shared_link_id,
            data.owner_id,
            dead_name,
        )
        await conn.execute(
            "INSERT INTO shared_report_destinations (organization_id, schedule_id, channel, target, config, secret)"
            " VALUES ($1, $2, 'webhook', $3, $4, $5)",
            data.organization_id,
            dead,
            dead_url,
            {"url": dead_url},
            vault.encrypt(webhook_secret),
        )
        data.schedule_ids.append(dead)
        await conn.execute(
            "INSERT INTO shared_report_channel_credentials (organization_id, channel, secret) VALUES ($1, 'slack', $2)",
            data.organization_id,
            vault.encrypt(slack_token),
        )
        rows = [
            ("slack", "C0DEMOREPORTS", {"slack_channel_id": "C0DEMOREPORTS"}, None),
            ("webhook", webhook_url, {"url": webhook_url}, webhook_secret),
            (
                "sftp",
                f"reports@127.0.0.1:{sftp['port']}:drop",
                sftp,
                orjson.dumps({"password": sftp_password}).decode(),
            ),
        ]
        for channel, target, config, secret in rows:
            await conn.execute(
                "INSERT INTO shared_report_destinations (organization_id, schedule_id, channel, target, config, secret)"
                " VALUES ($1, $2, $3, $4, $5, $6)",
                data.organization_id,
                weekly,
                channel,
                target,
                config,
                vault.encrypt(secret if isinstance(secret, str) else secret.decode()) if secret else None,
            )
        await conn.execute(
            "UPDATE shared_report_schedules SET channels = ARRAY['slack', 'webhook', 'sftp'] WHERE id = $1", weekly
        )
