"""Manual runs (run now, dead-letter replays): how often they may be asked for, and which recipients are
outside what the schedule already sends to.

Each manual run is a full export, so they are counted per schedule and per organization over a window
(MANUAL_RUNS_PER_SCHEDULE, MANUAL_RUNS_PER_ORGANIZATION per MANUAL_RUN_WINDOW_SECONDS), shared by every
producer replica through Redis. A run-now may name its own recipients; one outside the schedule's recipients,
the organization's recipients and its members' addresses gets the organization's report, with the tenant's
subject, from the service's sender: only owners and admins may do that, and the run records who asked and
which recipients were outside.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from uuid import UUID

from arq.connections import ArqRedis
from redis.exceptions import RedisError

from producer import queries
from producer.recipients import Recipient, group
from shared import quota
from shared.db import Pool
from shared.errors import ReportsError
from shared.message import DestinationRecipient
from shared.settings import Settings

log = logging.getLogger(__name__)

PREFIX = "scheduled-reports:manual"


class TooManyRuns(ReportsError):
    """Manual runs were asked for faster than the limits allow; `retry_after` says when one will be."""

    retryable = True

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message, retry_after=retry_after)
        self.wait_seconds = retry_after


async def admit(redis: ArqRedis, settings: Settings, schedule_id: UUID | None, organization_id: UUID | None) -> None:
    """Count one manual run of this schedule and organization, or raise TooManyRuns."""
    limits = []
    if schedule_id is not None:
        limits.append(quota.Limit(f"schedule:{schedule_id}", settings.manual_runs_per_schedule))
    if organization_id is not None:
        limits.append(quota.Limit(f"organization:{organization_id}", settings.manual_runs_per_organization))
    try:
        wait = await quota.book(redis, limits, settings.manual_run_window_seconds, PREFIX)
    except (RedisError, OSError) as exc:
        # The limit guards cost, not correctness: a Redis outage must not stop runs the sweep can still queue.
        log.warning("manual run limits unavailable (%s); admitting the run", type(exc).__name__)
        return
    if wait:
        raise TooManyRuns(
            f"too many manual runs: at most {settings.manual_runs_per_schedule} per schedule and "
            f"{settings.manual_runs_per_organization} per organization every "
            f"{settings.manual_run_window_seconds:g} s; try again in {wait:.0f} s",
            wait,
        )


async def outside(pool: Pool, schedule_id: UUID, organization_id: UUID, chosen: Iterable[Recipient]) -> list[str]:
    """The chosen recipients (as "channel:key") that are not the schedule's, the organization's, or a member's."""
    rows = [
        *await pool.fetch(queries.SCHEDULE_RECIPIENTS, [schedule_id]),
        *await pool.fetch(queries.ORG_RECIPIENTS, [organization_id]),
    ]
    known = {(r.channel, r.key) for recipients in group(rows).values() for r in recipients}
    known |= {("email", row["email"]) for row in await pool.fetch(queries.MEMBER_EMAILS, organization_id)}
    # A stored destination is the organization's own: the override accepts only those.
    return sorted(
        {
            f"{r.channel}:{r.key}"
            for r in chosen
            if not isinstance(r, DestinationRecipient) and (r.channel, r.key) not in known
        }
    )
