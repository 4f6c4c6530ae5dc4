"""Failure notices that reach the right people once.

A schedule's `notify_on_failure` says whom to tell: `owner` (its owner; the organization's owners and admins
once that user has left the organization), `admins` (the organization's owners and admins), email addresses,
and `destination:<id>` (a Slack or webhook destination of the organization); NULL means the owner. A
schedule's own failing fires form a streak: the first failure is told at once, later ones at most once per
FAILURE_NOTICE_QUIET_HOURS with the count since the last notice, and the first successful fire after a told
failure sends one "recovered" notice. Like last_run_status, only the schedule's own fires count: a test run or
a replay that fails tells the schedule's owner only, each time, and neither starts nor ends a streak.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from consumer import metrics, queries
from consumer.channels import REGISTRY
from consumer.channels.outcome import Origin, Outcome, Report
from consumer.deps import Deps
from shared.db import Record
from shared.message import DestinationRecipient
from shared.redact import redact

log = logging.getLogger(__name__)


@dataclass
class Audience:
    emails: list[str] = field(default_factory=list)
    destinations: list[DestinationRecipient] = field(default_factory=list)


async def audience(deps: Deps, schedule: Record) -> Audience:
    """Whom this schedule's failures are told to, each address once."""
    wanted = list(schedule["notify_on_failure"] or ["owner"])
    emails: list[str] = []
    ids: list[UUID] = []
    admins: list[str] | None = None
    for entry in wanted:
        if entry == "owner" and schedule["owner_is_member"]:
            emails.append(schedule["owner_email"] or "")
        elif entry in ("owner", "admins"):
            # `owner` of a schedule whose owner was removed or left the organization: its owners and admins.
            if admins is None:
                admins = [r["email"] for r in await deps.pool.fetch(queries.NOTICE_ADMINS, schedule["organization_id"])]
            emails += admins
        elif entry.startswith("destination:"):
            ids.append(UUID(entry.removeprefix("destination:")))
        else:
            emails.append(entry)
    seen: dict[str, str] = {}
    for address in emails:
        if address:
            seen.setdefault(address.lower(), address)
    rows = await deps.pool.fetch(queries.NOTICE_DESTINATIONS, schedule["organization_id"], ids) if ids else []
    targets = [DestinationRecipient(channel=r["channel"], destination_id=r["id"], target=r["target"]) for r in rows]
    return Audience(list(seen.values()), targets)


async def _tell(deps: Deps, run_id: UUID, schedule: Record, status: str, text: str) -> None:
    people = await audience(deps, schedule)
    if not people.emails and not people.destinations:
        metrics.NOTICES.labels("no_creator_email").inc()
        return
    outcomes: list[Outcome] = []
    for address in people.emails:
        outcomes.append(await deps.dispatcher.failure_email(str(run_id), address, schedule["name"], status, text))
    ctx = deps.dispatcher.context(f"notice:{run_id}")
    report = Report(schedule["name"], 0, "", "", Origin(schedule["organization_id"], schedule["id"]))
    for target in people.destinations:
        channel = REGISTRY.get(target.channel)
        if channel is not None:
            outcomes.append(await channel.send_text(ctx, target, report, text))
    for outcome in outcomes:
        metrics.NOTICES.labels(outcome.kind).inc()
        if outcome.kind != "sent":
            log.error("notice for run %s not sent: %s", run_id, redact(str(outcome.detail.get("reason"))))


def _since(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")


async def failed(deps: Deps, run_id: UUID, schedule_id: UUID, status: str, text: str) -> None:
    """A failure of the schedule's own fires: told now, or counted for the next notice."""
    quiet = deps.settings.failure_notice_quiet_hours * 3600
    schedule = await deps.pool.fetchrow(queries.NOTICE_SCHEDULE, schedule_id)
    streak = await deps.pool.fetchrow(queries.STREAK_FAILED, schedule_id, quiet)
    if schedule is None or streak is None or not streak["due"]:
        metrics.NOTICES.labels("quiet").inc()
        return
    if not await deps.pool.fetchval(queries.STREAK_TOLD, schedule_id, quiet):
        return  # another worker told it just now
    if streak["noticed_at"] is not None:
        text = (
            f"{streak['failures']} run(s) failed since the last notice ({_since(streak['noticed_at'])}); "
            f"failing since {_since(streak['failing_since'])}.\n\n{text}"
        )
    await _tell(deps, run_id, schedule, status, text)


async def succeeded(deps: Deps, run_id: UUID, schedule_id: UUID) -> None:
    """The streak ends; one "recovered" notice when someone was told of it."""
    if not deps.settings.notify_failures:
        return
    try:
        ended = await deps.pool.fetchrow(queries.STREAK_RECOVERED, schedule_id)
        if ended is None or ended["noticed_at"] is None:
            return
        schedule = await deps.pool.fetchrow(queries.NOTICE_SCHEDULE, schedule_id)
        if schedule is None:
            return
        text = (
            f"The scheduled report '{schedule['name']}' was delivered again (run {run_id}), after failing since "
            f"{_since(ended['failing_since'])}. No action is needed."
        )
        await _tell(deps, run_id, schedule, "recovered", text)
    except Exception as exc:  # a notice must never turn a finished run into a failed job
        metrics.NOTICES.labels("error").inc()
        log.error("recovered notice for run %s not sent: %s", run_id, redact(str(exc) or type(exc).__name__))
