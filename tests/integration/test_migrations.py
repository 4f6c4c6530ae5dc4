"""Migrations: an empty database gets the whole schema; replaying is a no-op; code behind the DB refuses."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from shared.errors import MigrationError
from shared.migrate import load_migrations, migrate
from tests.support.databases import DatabaseFactory

TABLES = {
    "organizations",
    "users",
    "organization_members",
    "shared_links",
    "videos",
    "video_statistics",
    "organization_notification_email_recipients",
    "organization_notification_telegram_recipients",
    "shared_report_schedules",
    "shared_report_schedule_recipients",
    "shared_report_runs",
    "shared_report_notifications",
    "shared_report_dead_letters",
    "schema_migrations",
}

SCHEMA_QUERY = """
SELECT 'column' AS kind, table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable
       || ' ' || coalesce(column_default, '') AS what
FROM information_schema.columns WHERE table_schema = 'public'
UNION ALL
SELECT 'constraint', conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid)
FROM pg_constraint WHERE connamespace = 'public'::regnamespace
UNION ALL
SELECT 'index', indexdef FROM pg_indexes WHERE schemaname = 'public'
UNION ALL
SELECT 'trigger', tgname || ' ' || tgrelid::regclass::text FROM pg_trigger WHERE NOT tgisinternal
UNION ALL
SELECT 'view', viewname || ' ' || definition FROM pg_views WHERE schemaname = 'public'
ORDER BY 1, 2
"""


@pytest.fixture
async def empty_db(db_factory: DatabaseFactory) -> AsyncIterator[str]:
    name, url = await db_factory.create_empty()
    yield url
    await db_factory.drop(name)


async def _schema(url: str) -> list[tuple[str, str]]:
    conn = await asyncpg.connect(url)
    try:
        return [(r["kind"], r["what"]) for r in await conn.fetch(SCHEMA_QUERY)]
    finally:
        await conn.close()


async def test_fresh_database_gets_every_table_and_replay_changes_nothing(empty_db: str) -> None:
    applied = await migrate(empty_db)
    assert applied == [m.version for m in load_migrations()]
    first = await _schema(empty_db)
    tables = {w.split(".")[0] for k, w in first if k == "column"}
    assert tables >= TABLES
    assert any(k == "view" and w.startswith("videos_with_statistics_fast") for k, w in first)
    indexes = [w for k, w in first if k == "index"]
    assert any("shared_report_runs_cron_once" in i and "WHERE (trigger = 'cron'::text)" in i for i in indexes)
    assert any(
        "shared_report_schedules_due_idx" in i and "WHERE (enabled AND (deleted_at IS NULL))" in i for i in indexes
    )

    assert await migrate(empty_db) == []
    assert await _schema(empty_db) == first


async def test_unique_cron_run_constraint_rejects_a_second_run_for_the_same_fire(empty_db: str) -> None:
    await migrate(empty_db)
    conn = await asyncpg.connect(empty_db)
    try:
        org = await conn.fetchval("INSERT INTO organizations (name, slug) VALUES ('A', 'a') RETURNING id")
        link = await conn.fetchval(
            "INSERT INTO shared_links (organization_id, slug) VALUES ($1, 'l') RETURNING id", org
        )
        sched = await conn.fetchval(
            "INSERT INTO shared_report_schedules (organization_id, shared_link_id, name, cadence, "
            "scheduled_time, cron_expression) VALUES ($1, $2, 'r', 'daily', '09:00', '0 9 * * *') RETURNING id",
            org,
            link,
        )
        insert = (
            "INSERT INTO shared_report_runs (schedule_id, fire_at, trigger, status) "
            "VALUES ($1, '2026-01-01T09:00Z', $2, 'queued')"
        )
        await conn.execute(insert, sched, "cron")
        with pytest.raises(asyncpg.UniqueViolationError):
            await conn.execute(insert, sched, "cron")
        await conn.execute(insert, sched, "manual")  # manual runs may share the instant
        other_org = await conn.fetchval("INSERT INTO organizations (name, slug) VALUES ('B', 'b') RETURNING id")
        with pytest.raises(asyncpg.ForeignKeyViolationError):
            await conn.execute(
                "INSERT INTO shared_report_schedules (organization_id, shared_link_id, name, cadence, "
                "cron_expression) VALUES ($1, $2, 'r', 'custom', '0 9 * * *')",
                other_org,
                link,
            )
    finally:
        await conn.close()


async def test_refuses_a_database_ahead_of_the_code(empty_db: str) -> None:
    await migrate(empty_db)
    conn = await asyncpg.connect(empty_db)
    try:
        await conn.execute("INSERT INTO schema_migrations (version, name, checksum) VALUES (999, 'future', 'x')")
    finally:
        await conn.close()
    with pytest.raises(MigrationError, match="schema version 999 but this code knows only up to"):
        await migrate(empty_db)


async def test_concurrent_migrations_serialize_on_the_advisory_lock(empty_db: str) -> None:
    import asyncio

    results = await asyncio.gather(*(migrate(empty_db) for _ in range(3)))
    assert sorted(len(r) for r in results) == [0, 0, len(load_migrations())]
