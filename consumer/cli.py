"""One-off commands: export a shared link to a file; list and replay dead letters."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

from consumer import queries
from consumer.export import export_to_file
from consumer.filters import parse_filters
from shared import audit, deadletters
from shared.cron import zone
from shared.db import pool_context
from shared.errors import FieldIssue, InvalidInput
from shared.migrate import require_current
from shared.queue import connect as connect_redis
from shared.queue import has_consumer, no_consumer_warning, queue_depth
from shared.settings import Settings


def _as_uuid(text: str) -> UUID | None:
    try:
        return UUID(text)
    except ValueError:
        return None


async def export(
    settings: Settings,
    link: str,
    out: Path,
    timezone: str | None,
    as_of: str | None,
    kind: str = "csv",
    formula_guard: bool = True,
) -> int:
    if as_of:
        try:
            fire_at = datetime.fromisoformat(as_of.replace("Z", "+00:00"))
        except ValueError as exc:
            raise InvalidInput(FieldIssue("--as-of", "must be ISO 8601, e.g. 2026-11-23T06:00:00Z")) from exc
        if fire_at.tzinfo is None:
            raise InvalidInput(FieldIssue("--as-of", "must include a timezone, e.g. 2026-11-23T06:00:00Z"))
    else:
        fire_at = datetime.now(UTC)
    tz = timezone or "UTC"
    zone(tz)
    async with pool_context(settings.dsn, statement_cache=settings.statement_cache, max_size=2) as pool:
        await require_current(pool)
        row = await pool.fetchrow(queries.LINK_BY_SLUG_OR_ID, link, _as_uuid(link))
        if row is None:
            raise InvalidInput(FieldIssue("--shared-link", f"no shared link has the slug or id '{link}'"))
        if row["revoked_at"] is not None:
            raise InvalidInput(FieldIssue("--shared-link", f"shared link '{link}' was revoked"))
        filters = parse_filters(row["filters"])
        async with pool.acquire() as conn:
            result = await export_to_file(
                conn,
                row["organization_id"],
                filters,
                tz,
                fire_at,
                out,
                settings.export_chunk_bytes,
                kind=kind,
                formula_guard=formula_guard,
            )
    print(f"wrote {result.rows} rows, {result.size} bytes to {out} in {result.seconds:.2f} s")
    return 0


async def dead_letters_list(settings: Settings) -> int:
    async with pool_context(settings.dsn, statement_cache=settings.statement_cache, max_size=2) as pool:
        await require_current(pool)
        rows = await pool.fetch(queries.DEAD_LETTERS_NEWEST)
    if not rows:
        print("no dead letters")
    for r in rows:
        replayed = f" replayed {r['replay_count']}x" if r["replay_count"] else ""
        print(
            f"{r['id']}  {r['failed_at']:%Y-%m-%d %H:%M:%S}  tries={r['attempts']}{replayed}  {r['job_id']}\n"
            f"    {r['error']}"
        )
    return 0


async def dead_letters_replay(settings: Settings, dead_id: str | None, replay_all: bool) -> int:
    async with pool_context(settings.dsn, statement_cache=settings.statement_cache, max_size=2) as pool:
        await require_current(pool)
        if replay_all:
            ids = [r["id"] for r in await pool.fetch(queries.DEAD_LETTERS_NOT_REPLAYED)]
        else:
            parsed = _as_uuid(dead_id or "")
            if parsed is None:
                raise InvalidInput(FieldIssue("--id", "must be a dead letter id (a UUID)"))
            ids = [parsed]
        redis = await connect_redis(settings.redis_dsn, **settings.redis_options)
        failures = 0
        try:
            for dead in ids:
                try:
                    run_id = await deadletters.replay(
                        pool, redis, settings.queue_name, dead, audit=audit.replayed(None, dead, operator="cli")
                    )
                    print(f"replayed {dead} as run {run_id}")
                except deadletters.NotReplayable as exc:
                    failures += 1
                    print(f"not replayed {dead}: {exc}")
            if len(ids) > failures and not await has_consumer(redis, settings.queue_name):
                print(no_consumer_warning(settings.queue_name, await queue_depth(redis, settings.queue_name)))
        finally:
            await redis.aclose()
    return 1 if failures else 0
