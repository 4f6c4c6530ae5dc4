"""A video as a report reads it (source rows and statistics), and the instant the export tests report at: the
default dates put a video in the week before FIRE."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from shared.db import Pool

FIRE = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)


async def video(
    pool: Pool,
    org: UUID,
    *,
    title: str | None = "t",
    published: str | None = "2026-11-20T12:00Z",
    stats: tuple[int | None, ...] | None = (1, 2, 3, 4),
    **cols: object,
) -> UUID:
    values = {
        "organization_id": org,
        "title": title,
        "video_url": "https://v.example/1",
        "platform": "tiktok",
        "status": "active",
        "campaign_tag": "A",
        "channel_username": "@c",
        "published_at": datetime.fromisoformat(published.replace("Z", "+00:00")) if published else None,
        "created_at": datetime(2026, 11, 1, 23, 30, tzinfo=UTC),
        **cols,
    }
    names = ", ".join(values)
    marks = ", ".join(f"${i}" for i in range(1, len(values) + 1))
    vid: UUID = await pool.fetchval(f"INSERT INTO videos ({names}) VALUES ({marks}) RETURNING id", *values.values())
    if stats is not None:
        await pool.execute(
            "INSERT INTO video_statistics (video_id, views, likes, comments, reposts) VALUES ($1, $2, $3, $4, $5)",
            vid,
            *stats,
        )
    return vid
