"""The sweep: take back runs whose worker was lost, and put back queued runs whose job is missing."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from arq.connections import ArqRedis

from producer import metrics, queries
from shared.db import Pool, Record
from shared.queue import Job, held_by_no_worker, lost_jobs, requeue_many
from shared.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class SweepResult:
    requeued: int = 0
    taken_back: int = 0
    lost: int = 0
    # Queued runs whose job a worker took and no live worker holds (its marker lapses within LEASE_SECONDS).
    held_by_no_worker: int = 0


_NO_ID = UUID(int=0)
_EPOCH = datetime(1, 1, 1, tzinfo=UTC)


def _jobs(rows: Sequence[Record]) -> list[Job]:
    return [Job(r["job_id"], r["message"], r["defer_until"]) for r in rows if r["job_id"] and r["message"]]


async def sweep(pool: Pool, redis: ArqRedis, settings: Settings, *, grace_seconds: float | None = None) -> SweepResult:
    """Take back runs whose worker was lost, and re-enqueue queued runs whose job is missing, page by page."""
    grace = settings.sweep_grace_seconds if grace_seconds is None else grace_seconds
    batch = settings.sweep_batch_size
    result = SweepResult()
    while True:
        rows = await pool.fetch(queries.TAKE_BACK, batch)
        if rows:
            # Committed as queued first: if this requeue is lost, the queued pass below finds the run next time.
            await requeue_many(redis, settings.queue_name, _jobs(rows), takeover=True)
            result.taken_back += len(rows)
            metrics.TAKEN_BACK.inc(len(rows))
        if len(rows) < batch:
            break
    cursor: tuple[datetime, UUID] = (_EPOCH, _NO_ID)
    while True:
        rows = await pool.fetch(queries.SWEEP_QUEUED, grace, cursor[0], cursor[1], batch)
        if not rows:
            break
        cursor = (rows[-1]["created_at"], rows[-1]["id"])
        lost = set(await lost_jobs(redis, [r["job_id"] for r in rows]))
        todo = [r for r in rows if r["job_id"] in lost]
        present = [r["job_id"] for r in rows if r["job_id"] not in lost]
        result.held_by_no_worker += len(await held_by_no_worker(redis, present, int(settings.lease_seconds * 1000)))
        # A job present for a run never marked enqueued (its producer died between the enqueue and the mark).
        found = [r["id"] for r in rows if not r["enqueued"] and r["job_id"] not in lost]
        if todo:
            result.lost += len(todo)
            result.requeued += len(await requeue_many(redis, settings.queue_name, _jobs(todo), takeover=False))
        if todo or found:
            await pool.execute(queries.MARK_ENQUEUED, [r["id"] for r in todo] + found)
        if len(rows) < batch:
            break
    metrics.ENQUEUED.labels("sweep").inc(result.requeued)
    if result.taken_back:
        log.warning("sweep took back %d run(s) whose worker was lost", result.taken_back)
    if result.requeued:
        log.warning("sweep re-enqueued %d run(s) whose job was missing", result.requeued)
    return result
