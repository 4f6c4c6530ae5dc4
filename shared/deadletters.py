"""Dead letters: record a message that cannot succeed, and replay one as a new `replay` run."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

from arq.connections import ArqRedis

from shared.db import Pool
from shared.errors import InvalidMessage, ReportsError
from shared.message import ReportMessage, job_id_for, parse_message
from shared.queue import Job, enqueue_many

_INSERT = """
INSERT INTO shared_report_dead_letters (run_id, organization_id, job_id, payload, error, attempts)
VALUES ($1, (SELECT id FROM organizations WHERE id = $2), $3, $4, $5, $6)
ON CONFLICT (run_id) WHERE run_id IS NOT NULL DO NOTHING
RETURNING id
"""

_MARK_RUN_DEAD = """
WITH r AS (
    UPDATE shared_report_runs SET status = 'dead', error = $2, finished_at = now()
    WHERE id = $1 RETURNING schedule_id
)
UPDATE shared_report_schedules SET last_run_status = 'dead' WHERE id IN (SELECT schedule_id FROM r)
"""

_GET = "SELECT id, run_id, payload, replayed_at FROM shared_report_dead_letters WHERE id = $1 FOR UPDATE"

_INSERT_REPLAY = """
INSERT INTO shared_report_runs (id, schedule_id, fire_at, trigger, status, job_id, message, origin_run_id)
SELECT $1, $2, $3, 'replay', 'queued', $4, $5,
       (SELECT coalesce(origin_run_id, id) FROM shared_report_runs WHERE id = $6)
"""

_MARK_REPLAYED = """
UPDATE shared_report_dead_letters SET replayed_at = now(), replay_count = replay_count + 1 WHERE id = $1
"""


class NotReplayable(ReportsError):
    """The stored message cannot be replayed (it never was a valid message, or its schedule is gone)."""


async def record(
    pool: Pool,
    *,
    run_id: UUID | None,
    organization_id: UUID | None,
    job_id: str,
    payload: Any,
    error: str,
    attempts: int,
) -> UUID | None:
    """Store the message; mark its run dead. Returns the new dead letter id, or None if already stored."""
    async with pool.acquire() as conn, conn.transaction():
        dead_id: UUID | None = await conn.fetchval(
            _INSERT, run_id, organization_id, job_id, payload, error[:4000], attempts
        )
        if run_id is not None:
            await conn.execute(_MARK_RUN_DEAD, run_id, error[:4000])
    return dead_id


async def replay(pool: Pool, redis: ArqRedis, queue_name: str, dead_letter_id: UUID) -> UUID:
    """Re-enqueue the stored message as a new replay run; returns its id."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(_GET, dead_letter_id)
        if row is None:
            raise NotReplayable(f"dead letter {dead_letter_id} does not exist")
        try:
            original = parse_message(row["payload"])
        except InvalidMessage as exc:
            raise NotReplayable(f"the stored message is not valid and cannot be replayed: {exc}") from exc
        deleted = await conn.fetchval(
            "SELECT deleted_at IS NOT NULL FROM shared_report_schedules WHERE id = $1", original.schedule_id
        )
        if deleted is None or deleted:
            raise NotReplayable("the schedule of this message was deleted; it cannot be replayed")
        run_id = uuid4()
        message = ReportMessage(**{**original.model_dump(), "run_id": run_id, "trigger": "replay"})
        job_id = job_id_for("replay", message.schedule_id, message.fire_at, run_id)
        await conn.execute(
            _INSERT_REPLAY,
            run_id,
            message.schedule_id,
            message.fire_at,
            job_id,
            message.to_json(),
            row["run_id"],
        )
        await conn.execute(_MARK_REPLAYED, dead_letter_id)
    await enqueue_many(redis, queue_name, [Job(job_id, message.to_json())])
    await pool.execute("UPDATE shared_report_runs SET enqueued_at = now() WHERE id = $1", run_id)
    return run_id


__all__ = ["NotReplayable", "record", "replay"]
