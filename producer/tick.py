"""The tick: claim due schedules exactly once, record runs, advance, then enqueue; and when the next is due."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import orjson
from arq.connections import ArqRedis

from producer import metrics, queries
from producer.clock import db_now
from producer.planning import Plan, plan
from producer.recipients import NO_RECIPIENTS, Channels, group, resolve
from producer.window import within
from shared.cron import deterministic_offset_ms
from shared.db import Connection, Pool, Record
from shared.errors import InvalidInput
from shared.message import cron_message, job_id_for, recipients_json
from shared.queue import Job, enqueue_many
from shared.settings import Settings

log = logging.getLogger(__name__)


@dataclass(slots=True)
class PlannedRun:
    run_id: UUID
    schedule_id: UUID
    fire_at: datetime
    status: str
    job_id: str | None = None
    # The queue message as JSON, encoded once for both the run row and the job.
    message: bytes | None = None
    recipients: int = 0
    defer_until: datetime | None = None
    error: str | None = None


@dataclass
class TickResult:
    claimed: int = 0
    runs: dict[str, int] = field(default_factory=dict)
    enqueued: int = 0
    planned: list[PlannedRun] = field(default_factory=list)

    def count(self, status: str) -> int:
        return self.runs.get(status, 0)


def _message(row: Record, run_id: UUID, fire_at: datetime, recipients: list[dict[str, Any]]) -> bytes:
    return orjson.dumps(
        cron_message(run_id, row["id"], row["organization_id"], row["shared_link_id"], fire_at, recipients)
    )


async def _plan_batch(
    conn: Connection, rows: Sequence[Record], now: datetime
) -> tuple[list[PlannedRun], list[tuple[UUID, datetime | None, datetime | None, str | None]]]:
    ids = [r["id"] for r in rows]
    org_ids = list({r["organization_id"] for r in rows})
    own = group(await conn.fetch(queries.SCHEDULE_RECIPIENTS, ids))
    org = group(await conn.fetch(queries.ORG_RECIPIENTS, org_ids))
    runs: list[PlannedRun] = []
    advances: list[tuple[UUID, datetime | None, datetime | None, str | None]] = []
    dumped: dict[tuple[int, ...], list[dict[str, Any]]] = {}
    # Planning is pure in these values, and a batch often holds thousands of schedules that share them.
    plans: dict[tuple[Any, ...], Plan] = {}
    for row in rows:
        key = (
            row["cron_expression"],
            row["timezone"],
            row["next_run_at"],
            row["misfire_policy"],
            row["misfire_grace_seconds"],
        )
        schedule_plan = plans.get(key)
        if schedule_plan is None:
            try:
                schedule_plan = plans[key] = plan(key[0], key[1], key[2], now, key[3], key[4])
            except InvalidInput as exc:
                # A stored expression that no longer evaluates must not block the others: park it.
                log.error(
                    "schedule %s has an unusable cron expression: %s",
                    row["id"],
                    exc,
                    extra={"schedule_id": row["id"], "organization_id": row["organization_id"]},
                )
                advances.append((row["id"], None, None, "failed"))
                continue
        # Shared plans hold no schedule's window: each row cuts its own at its ends_at.
        schedule_plan = within(schedule_plan, row["ends_at"])
        recipients = resolve(row["id"], row["organization_id"], Channels.of(row), own, org)
        # Schedules that fall back to the same organization-wide list share one JSON form of it.
        shared_key = tuple(id(r) for r in recipients)
        if shared_key not in dumped:
            dumped[shared_key] = recipients_json(recipients)
        last_status: str | None = None
        for index, fire in enumerate(schedule_plan.fires):
            run = PlannedRun(uuid4(), row["id"], fire.fire_at, fire.status)
            if fire.status == "queued" and not recipients:
                run.status, run.error = "failed", NO_RECIPIENTS
            elif fire.status == "queued":
                run.job_id = job_id_for("cron", row["id"], fire.fire_at, run.run_id)
                run.message = _message(row, run.run_id, fire.fire_at, dumped[shared_key])
                run.recipients = len(recipients)
                offset = deterministic_offset_ms(run.job_id, row["jitter_seconds"])
                # Keep oldest-first order among several fires of one schedule.
                run.defer_until = fire.fire_at + timedelta(milliseconds=offset + index)
            runs.append(run)
            last_status = run.status
        last_fire = schedule_plan.fires[-1].fire_at if schedule_plan.fires else None
        advances.append((row["id"], schedule_plan.next_run_at, last_fire, last_status))
    return runs, advances


async def _claim_batch(conn: Connection, current: datetime, batch: int) -> tuple[int, list[PlannedRun]]:
    """Claim up to `batch` due schedules, record their runs and advance them, in one transaction; returns how
    many were claimed and the runs this call inserted."""
    async with conn.transaction():
        rows = await conn.fetch(queries.CLAIM_DUE, current, batch)
        if not rows:
            return 0, []
        planned, advances = await _plan_batch(conn, rows, current)
        inserted = {
            r["id"]
            for r in await conn.fetch(
                *queries.INSERT_RUNS.bind(
                    ids=[p.run_id for p in planned],
                    schedule_ids=[p.schedule_id for p in planned],
                    fire_ats=[p.fire_at for p in planned],
                    statuses=[p.status for p in planned],
                    job_ids=[p.job_id for p in planned],
                    messages=[None if p.message is None else p.message.decode() for p in planned],
                    defer_untils=[p.defer_until for p in planned],
                    errors=[p.error for p in planned],
                )
            )
        }
        await conn.execute(
            queries.ADVANCE,
            [a[0] for a in advances],
            [a[1] for a in advances],
            [a[2] for a in advances],
            [a[3] for a in advances],
        )
    return len(rows), [p for p in planned if p.run_id in inserted]


async def tick(
    pool: Pool,
    redis: ArqRedis | None,
    settings: Settings,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    after_commit: Callable[[], None] | None = None,
) -> TickResult:
    """One pass over everything due. `after_commit` lets tests inject a crash before the enqueue."""
    started = time.perf_counter()
    result = TickResult()
    batch = settings.tick_batch_size
    if dry_run:
        async with pool.acquire() as conn:
            current = now or await db_now(conn)
            rows = await conn.fetch(queries.PEEK_DUE, current, batch)
            result.planned, _ = await _plan_batch(conn, rows, current)
            result.claimed = len(rows)
        return _ticked(result, started)
    lanes = [_lane(pool, redis, settings, result, now, after_commit) for _ in range(settings.tick_connections)]
    failures = [r for r in await asyncio.gather(*lanes, return_exceptions=True) if isinstance(r, BaseException)]
    if failures:
        raise failures[0]
    return _ticked(result, started)


async def _lane(
    pool: Pool,
    redis: ArqRedis | None,
    settings: Settings,
    result: TickResult,
    now: datetime | None,
    after_commit: Callable[[], None] | None,
) -> None:
    """Claims batches until none is left. A batch is enqueued while the next is claimed: PostgreSQL works on one
    while Python and Redis work on the other. One enqueue at most is in flight, and its error surfaces before the
    next batch is enqueued. Several lanes claim side by side; SKIP LOCKED keeps their batches apart."""
    batch = settings.tick_batch_size
    enqueuing: asyncio.Future[int] | None = None
    try:
        while True:
            async with pool.acquire() as conn:
                claimed, fresh = await _claim_batch(conn, now or await db_now(conn), batch)
            if not claimed:
                break
            result.claimed += claimed
            statuses = Counter(p.status for p in fresh)
            for status, count in statuses.items():
                result.runs[status] = result.runs.get(status, 0) + count
                metrics.RUNS.labels(status).inc(count)
            metrics.DUE.inc(claimed)
            if after_commit is not None:
                after_commit()
            jobs = [p for p in fresh if p.status == "queued"]
            if enqueuing is not None:
                previous, enqueuing = enqueuing, None
                added = await previous  # awaited before `+=` reads the total, which other lanes also add to
                result.enqueued += added
            enqueuing = asyncio.ensure_future(_enqueue(pool, redis, settings, jobs, source="tick"))
            if claimed < batch:
                break
    finally:
        # Runs already committed are enqueued even when the next claim failed; if this enqueue fails too, they
        # stay queued and the sweep puts them back.
        if enqueuing is not None:
            added = await enqueuing
            result.enqueued += added


def _ticked(result: TickResult, started: float) -> TickResult:
    metrics.TICKS.inc()
    metrics.TICK_SECONDS.observe(time.perf_counter() - started)
    metrics.LAST_TICK.set(time.time())
    return result


async def _enqueue(
    pool: Pool, redis: ArqRedis | None, settings: Settings, runs: Sequence[PlannedRun], source: str
) -> int:
    if not runs:
        return 0
    assert redis is not None, "enqueueing needs Redis"
    jobs = [Job(r.job_id, r.message, r.defer_until) for r in runs if r.job_id and r.message]
    added = await enqueue_many(redis, settings.queue_name, jobs)
    await pool.execute(queries.MARK_ENQUEUED, [r.run_id for r in runs])
    now = datetime.now(UTC)
    for r in runs:
        metrics.FIRE_LAG.observe(max(0.0, (now - (r.defer_until or r.fire_at)).total_seconds()))
    metrics.ENQUEUED.labels(source).inc(len(added))
    return len(added)


async def seconds_until_due(pool: Pool) -> float | None:
    """By the database clock, the same clock the due check uses."""
    value: float | None = await pool.fetchval(queries.SECONDS_UNTIL_DUE)
    return value
