"""The invariants an operator relies on, checked on demand (`python -m producer check`) and after every sweep."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import UUID

from arq.connections import ArqRedis

from producer import metrics, queries
from shared.db import Pool
from shared.queue import HELD_TTL_MS, has_consumer, held_by_no_worker, lost_jobs, queue_depth
from shared.settings import Settings

_EXAMPLES = 5
# The tick commits its runs, then enqueues their jobs: a run younger than this may not be on the queue yet.
_ENQUEUE_MOMENT_SECONDS = 5.0


@dataclass
class Finding:
    check: str
    count: int
    what: str
    fix: str
    examples: list[UUID] = field(default_factory=list)


async def _count(pool: Pool, count_sql: str, list_sql: str, *args: object) -> tuple[int, list[UUID]]:
    count = int(await pool.fetchval(count_sql, *args))
    examples = [r["id"] for r in await pool.fetch(list_sql, *args, _EXAMPLES)] if count else []
    return count, examples


async def check(pool: Pool, redis: ArqRedis | None, settings: Settings) -> list[Finding]:
    """Every check, with its count (0 when it holds); `redis` None skips the one that needs the queue."""
    # A lease lapsed longer ago than a sweep interval means no sweep is taking runs back.
    stuck_after = settings.sweep_interval_seconds + settings.lease_seconds
    findings: list[Finding] = []
    count, examples = await _count(pool, queries.COUNT_LEASE_EXPIRED, queries.CHECK_LEASE_EXPIRED, stuck_after)
    findings.append(
        Finding(
            "runs_stuck",
            count,
            f"running runs whose lease expired over {stuck_after:.0f} s ago",
            "is a producer running? its sweep takes these back",
            examples,
        )
    )
    count, examples = await _count(pool, queries.COUNT_OVERDUE_RUNS, queries.OVERDUE_RUNS, settings.overdue_seconds)
    findings.append(
        Finding(
            "runs_overdue",
            count,
            f"queued runs due over {settings.overdue_seconds:.0f} s ago",
            "is a consumer running on QUEUE_NAME and able to reach Redis and PostgreSQL?",
            examples,
        )
    )
    count, examples = await _count(
        pool,
        queries.COUNT_OVERDUE_SCHEDULES,
        queries.OVERDUE_SCHEDULES,
        settings.overdue_seconds + settings.tick_seconds,
    )
    findings.append(
        Finding(
            "schedules_overdue",
            count,
            "enabled schedules whose next fire passed without a tick",
            "is a producer running and able to reach PostgreSQL?",
            examples,
        )
    )
    if redis is not None:
        # No grace: a run whose job vanished (a Redis restart, a flush) counts at once.
        rows = await pool.fetch(queries.QUEUED_JOBS, _ENQUEUE_MOMENT_SECONDS)
        job_ids = [r["job_id"] for r in rows]
        missing = set(await lost_jobs(redis, job_ids))
        ids = [r["id"] for r in rows if r["job_id"] in missing]
        findings.append(
            Finding(
                "queued_without_job",
                len(ids),
                "queued runs whose job is not in Redis now (on QUEUE_NAME's Redis; a run never enqueued counts "
                f"{_ENQUEUE_MOMENT_SECONDS:.0f} s after it was recorded)",
                "the producer's sweep re-enqueues them; if the count stays, check that the sweep runs",
                ids[:_EXAMPLES],
            )
        )
        stuck = set(await held_by_no_worker(redis, job_ids, int(settings.lease_seconds * 1000)))
        ids = [r["id"] for r in rows if r["job_id"] in stuck]
        findings.append(
            Finding(
                "queued_in_progress_no_worker",
                len(ids),
                "queued runs whose job a worker took and no live worker holds now (its holder key lapsed "
                f"{HELD_TTL_MS / 1000:.0f} s after the worker's last sign of life)",
                f"another consumer takes the job once its in-progress marker lapses (LEASE_SECONDS, "
                f"{settings.lease_seconds:.0f} s); if the count stays, check that a consumer runs",
                ids[:_EXAMPLES],
            )
        )
    if redis is not None:
        depth = await queue_depth(redis, settings.queue_name)
        waiting = 0 if await has_consumer(redis, settings.queue_name) else depth
        findings.append(
            Finding(
                "queue_without_consumer",
                waiting,
                f"jobs on queue {settings.queue_name!r} with no consumer reading it",
                "start `python -m consumer` with the same QUEUE_NAME and REDIS_URL as the producer",
                [],
            )
        )
    count, examples = await _count(pool, queries.COUNT_UNREPLAYED_DEAD_LETTERS, queries.UNREPLAYED_DEAD_LETTERS)
    findings.append(
        Finding(
            "dead_letters_unreplayed",
            count,
            "dead letters not replayed",
            "fix the cause, then `python -m consumer dead-letters replay --id ID` (or --all)",
            examples,
        )
    )
    for finding in findings:
        metrics.INVARIANTS.labels(finding.check).set(finding.count)
    return findings


def report(findings: list[Finding], as_of: datetime | None = None) -> str:
    lines = [f"checked at {as_of.astimezone(UTC).isoformat(timespec='seconds')}"] if as_of is not None else []
    for f in findings:
        mark = "ok  " if f.count == 0 else "FAIL"
        lines.append(f"{mark} {f.check}: {f.count} {f.what}")
        if f.count:
            lines.append(f"     fix: {f.fix}")
            lines += [f"     e.g. {example}" for example in f.examples]
    return "\n".join(lines)
