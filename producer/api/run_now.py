"""Running a schedule now: to its own recipients, or to those the request names, within the manual-run limits."""

from __future__ import annotations

from uuid import UUID, uuid4

from arq.connections import ArqRedis

from producer import manual, metrics
from producer import queries as scheduler_queries
from producer.api import changes, schedule_recipients
from producer.api.auth import Principal
from producer.api.errors import validation
from producer.api.models import RunRequest
from producer.api.overrides import override
from producer.clock import db_now
from producer.recipients import Channels, group, resolve
from shared import runs
from shared.db import Pool, Record
from shared.message import AnyRecipient, ReportMessage
from shared.settings import Settings


async def _recipients(pool: Pool, row: Record, body: RunRequest) -> tuple[list[AnyRecipient], list[str]]:
    """Who it goes to, and which of them are outside the schedule's, the organization's and its members'."""
    schedule_id, org = row["id"], row["organization_id"]
    if body.recipients is None:
        own = group(await pool.fetch(scheduler_queries.SCHEDULE_RECIPIENTS, [schedule_id]))
        org_rows = group(await pool.fetch(scheduler_queries.ORG_RECIPIENTS, [org]))
        return resolve(schedule_id, org, Channels.of(row), own, org_rows), []
    await schedule_recipients.check(pool, org, body.recipients)
    chosen = await override(pool, org, body.recipients)
    # Recorded with the run; only owners and admins get this far (the handler asks for write access).
    return chosen, await manual.outside(pool, schedule_id, org, chosen)


async def start(
    pool: Pool, redis: ArqRedis, settings: Settings, principal: Principal, row: Record, body: RunRequest
) -> UUID:
    """Records and queues the run; its id."""
    schedule_id, org = row["id"], row["organization_id"]
    chosen, outside = await _recipients(pool, row, body)
    if not chosen:
        raise validation(
            "recipients",
            "this schedule has no recipients for its enabled channels and the "
            "organization has none; add recipients or pass them in the body",
        )
    # Counted only once the request is otherwise valid: a refused one uses up nothing.
    await manual.admit(redis, settings, schedule_id, org)
    message = ReportMessage(
        v=1,
        run_id=uuid4(),
        schedule_id=schedule_id,
        organization_id=org,
        shared_link_id=row["shared_link_id"],
        fire_at=await db_now(pool),
        trigger="manual",
        recipients=chosen,
        respect_conditions=body.respect_conditions,
    )
    async with pool.acquire() as conn, conn.transaction():
        await runs.record(conn, message, requested_by=principal.user_id, outside=outside)
        what = {"run_id": message.run_id, "recipients": sorted(f"{r.channel}:{r.key}" for r in chosen)}
        await changes.changed(conn, principal, "run.now", org, None, what, schedule_id=schedule_id)
    added = await runs.enqueue(pool, redis, settings.queue_name, message)
    metrics.ENQUEUED.labels("manual").inc(added)
    return message.run_id
