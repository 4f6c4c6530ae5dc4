"""Dead letters: record a message that cannot succeed, and replay one as a new `replay` run."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid4

import orjson
from arq.connections import ArqRedis

from shared import runs
from shared.db import Connection, Pool
from shared.errors import InvalidMessage, ReportsError
from shared.message import ReportMessage, parse_message
from shared.sqlbind import Named

# What is kept of a message that cannot run: enough to see what it was, never megabytes.
PAYLOAD_HEAD_BYTES = 64 * 1024

_INSERT = Named("""
INSERT INTO shared_report_dead_letters
    (run_id, organization_id, job_id, payload, error, attempts, payload_bytes, poison)
-- A message may name a run or organization that no longer exists: keep the letter, drop the dangling ids.
VALUES ((SELECT id FROM shared_report_runs WHERE id = :run_id),
        (SELECT id FROM organizations WHERE id = :organization_id),
        :job_id, :payload, :error, :attempts, :payload_bytes, :poison)
ON CONFLICT (run_id) WHERE run_id IS NOT NULL DO NOTHING
RETURNING id
""")

_MARK_RUN_DEAD = """
WITH r AS (
    UPDATE shared_report_runs
    SET status = 'dead', error = $2, finished_at = now(), lease_token = NULL, lease_expires_at = NULL
    WHERE id = $1 AND status IN ('queued', 'running') RETURNING schedule_id, trigger
)
-- A dead test run or replay does not become the schedule's last status; its own fires decide that.
UPDATE shared_report_schedules SET last_run_status = 'dead'
WHERE id IN (SELECT schedule_id FROM r WHERE trigger = 'cron')
"""

# Every intent of the run's chain (the original run and its replays) still `sending` when the chain ends or is
# replayed: its send's outcome is unknown and no worker will ever record it, so it becomes `unconfirmed`.
SETTLE_INTENTS = """
UPDATE shared_report_notifications SET status = 'unconfirmed'
WHERE status = 'sending' AND run_id IN (
    SELECT id FROM shared_report_runs
    WHERE coalesce(origin_run_id, id) = (SELECT coalesce(origin_run_id, id) FROM shared_report_runs WHERE id = $1)
)
RETURNING channel
"""

_GET = "SELECT id, run_id, payload, replayed_at FROM shared_report_dead_letters WHERE id = $1 FOR UPDATE"

# Whether the message's schedule was deleted (NULL: it does not exist), and which schedule the run it names has.
_ORIGIN = """
SELECT (SELECT deleted_at IS NOT NULL FROM shared_report_schedules WHERE id = $1) AS deleted,
       (SELECT schedule_id FROM shared_report_runs WHERE id = $2) AS run_schedule_id
"""

_MARK_REPLAYED = """
UPDATE shared_report_dead_letters SET replayed_at = now(), replay_count = replay_count + 1 WHERE id = $1
"""


@dataclass(frozen=True)
class Recorded:
    """A stored letter (`id` None when the run already had one) and the channels of the intents it settled."""

    id: UUID | None
    settled: list[str] = field(default_factory=list)


class NotReplayable(ReportsError):
    """The stored message cannot be replayed (it never was a valid message, or its schedule is gone)."""


def text_head(data: bytes | str, limit: int = PAYLOAD_HEAD_BYTES) -> str:
    """The first `limit` bytes as text PostgreSQL can store (no NUL, undecodable bytes replaced)."""
    raw = data.encode("utf-8", "replace") if isinstance(data, str) else data
    return raw[:limit].decode("utf-8", "replace").replace("\x00", "\ufffd")


def bounded(payload: Any) -> tuple[Any, int]:
    """The payload to store and its original size in bytes; a large one keeps only its head."""
    encoded = orjson.dumps(payload, default=repr)
    if len(encoded) <= PAYLOAD_HEAD_BYTES and b"\\u0000" not in encoded:
        return payload, len(encoded)
    return {"truncated": True, "head": text_head(encoded)}, len(encoded)


async def record(
    pool: Pool,
    *,
    run_id: UUID | None,
    organization_id: UUID | None,
    job_id: str,
    payload: Any,
    error: str,
    attempts: int,
    poison: bool = False,
    payload_bytes: int | None = None,
) -> Recorded:
    """Store the message (bounded); mark its run dead and settle its chain's open intents (see SETTLE_INTENTS)."""
    stored, size = bounded(payload)
    async with pool.acquire() as conn, conn.transaction():
        dead_id: UUID | None = await conn.fetchval(
            *_INSERT.bind(
                run_id=run_id,
                organization_id=organization_id,
                job_id=job_id[:1000],
                payload=stored,
                error=text_head(error, 4000),
                attempts=attempts,
                payload_bytes=payload_bytes if payload_bytes is not None else size,
                poison=poison,
            )
        )
        settled: list[str] = []
        if run_id is not None:
            await conn.execute(_MARK_RUN_DEAD, run_id, text_head(error, 4000))
            settled = [r["channel"] for r in await conn.fetch(SETTLE_INTENTS, run_id)]
    return Recorded(dead_id, settled)


async def replay(
    pool: Pool,
    redis: ArqRedis,
    queue_name: str,
    dead_letter_id: UUID,
    *,
    audit: Callable[[Connection, ReportMessage], Awaitable[None]] | None = None,
) -> UUID:
    """Re-enqueue the stored message as a new replay run; returns its id. `audit` writes who replayed it, in
    the transaction that records the replay run."""
    async with pool.acquire() as conn, conn.transaction():
        # The row lock serializes concurrent replays of one letter; the second sees it replayed.
        row = await conn.fetchrow(_GET, dead_letter_id)
        if row is None:
            raise NotReplayable(f"dead letter {dead_letter_id} does not exist")
        if row["replayed_at"] is not None:
            raise NotReplayable(
                f"dead letter {dead_letter_id} was already replayed at {row['replayed_at'].isoformat()}; "
                "its replay run has its own history (replay that run's dead letter if it failed too)"
            )
        try:
            original = parse_message(row["payload"])
        except InvalidMessage as exc:
            raise NotReplayable(f"the stored message is not valid and cannot be replayed: {exc}") from exc
        origin = await conn.fetchrow(_ORIGIN, original.schedule_id, original.run_id)
        if origin["deleted"] is None or origin["deleted"]:
            raise NotReplayable("the schedule of this message was deleted; it cannot be replayed")
        if origin["run_schedule_id"] not in (None, original.schedule_id):
            raise NotReplayable("the message names a run of another schedule; it cannot be replayed")
        message = ReportMessage(**{**original.model_dump(), "run_id": uuid4(), "trigger": "replay"})
        if row["run_id"] is not None:
            # Letters stored before intents were settled at dead-lettering may still hold open ones.
            await conn.execute(SETTLE_INTENTS, row["run_id"])
        await runs.record(conn, message, repeats=row["run_id"])
        await conn.execute(_MARK_REPLAYED, dead_letter_id)
        if audit is not None:
            await audit(conn, message)
    await runs.enqueue(pool, redis, queue_name, message)
    return message.run_id


__all__ = ["SETTLE_INTENTS", "NotReplayable", "Recorded", "record", "replay"]
