"""One-off runs (manual test runs and dead-letter replays): record the run, then enqueue its job."""

from __future__ import annotations

from uuid import UUID

from arq.connections import ArqRedis

from shared.db import Connection, Pool
from shared.message import ReportMessage
from shared.queue import Job, enqueue_many
from shared.sqlbind import Named

# A replay points at the first run of its chain, so recipients served by any of them are not served again.
_INSERT = Named("""
INSERT INTO shared_report_runs (id, schedule_id, fire_at, trigger, status, job_id, message, origin_run_id,
                                requested_by, outside_recipients)
SELECT :run_id, :schedule_id, :fire_at, :trigger, 'queued', :job_id, :message,
       (SELECT coalesce(origin_run_id, id) FROM shared_report_runs WHERE id = :repeats), :requested_by,
       :outside::text[]
""")

_MARK_ENQUEUED = "UPDATE shared_report_runs SET enqueued_at = now() WHERE id = $1"


async def record(
    conn: Connection | Pool,
    message: ReportMessage,
    *,
    repeats: UUID | None = None,
    requested_by: UUID | None = None,
    outside: list[str] | None = None,
) -> None:
    """Insert the queued run for `message`; `repeats` is the run a replay repeats; `requested_by` the user who
    asked for a manual run, and `outside` its recipients that are not the schedule's or the organization's."""
    await conn.execute(
        *_INSERT.bind(
            run_id=message.run_id,
            schedule_id=message.schedule_id,
            fire_at=message.fire_at,
            trigger=message.trigger,
            job_id=message.job_id,
            message=message.to_json(),
            repeats=repeats,
            requested_by=requested_by,
            outside=outside or [],
        )
    )


async def enqueue(pool: Pool, redis: ArqRedis, queue_name: str, message: ReportMessage) -> int:
    """Put a recorded run's job on the queue; returns 1 if it was new. Call after the run is committed."""
    added = await enqueue_many(redis, queue_name, [Job(message.job_id, message.to_json())])
    await pool.execute(_MARK_ENQUEUED, message.run_id)
    return len(added)
