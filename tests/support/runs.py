"""One schedule due at FIRE, fired by the real scheduler, and the rows its run leaves: for tests that run the
consumer's job in-process (tests.support.harness)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from arq.connections import ArqRedis

from producer.tick import tick
from shared.db import Pool
from shared.settings import Settings
from tests.support import seed
from tests.support.reports import video

FIRE = datetime(2026, 11, 16, 6, 0, tzinfo=UTC)  # in the past, so deferred jobs are due at once


async def make(
    pool: Pool,
    *,
    emails: tuple[str, ...] = ("a@example.com",),
    chats: tuple[int, ...] = (),
    videos: int = 3,
    **columns: Any,
) -> tuple[UUID, UUID]:
    org = await seed.organization(pool)
    creator = await seed.user(pool, "creator@example.com", org)
    link = await seed.shared_link(pool, org, slug="weekly-views", filters=columns.pop("filters", None))
    sched = await seed.schedule(
        pool, org, link, next_run_at=FIRE, created_by=creator, send_telegram=bool(chats), **columns
    )
    for e in emails:
        await seed.recipient(pool, sched, email=e)
    for c in chats:
        await seed.recipient(pool, sched, chat=c)
    for i in range(videos):
        await video(pool, org, title=f"video {i}")
    return org, sched


async def fire(pool: Pool, redis: ArqRedis, settings: Settings) -> UUID:
    await tick(pool, redis, settings, now=FIRE)
    run_id: UUID = await pool.fetchval("SELECT id FROM shared_report_runs ORDER BY created_at DESC LIMIT 1")
    return run_id


async def run_row(pool: Pool, run_id: UUID) -> dict[str, Any]:
    return dict(await pool.fetchrow("SELECT * FROM shared_report_runs WHERE id = $1", run_id))


async def notes(pool: Pool, run_id: UUID) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        "SELECT channel, recipient, status, payload, telegram_chat_id "
        "FROM shared_report_notifications WHERE run_id = $1 ORDER BY created_at",
        run_id,
    )
    return [dict(r) for r in rows]
