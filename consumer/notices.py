"""One notice to a schedule's owner (or its organization's owners and admins) when a run of it fails, ends partial
or is dead-lettered."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING
from uuid import UUID

from consumer import metrics, queries
from shared.redact import redact

if TYPE_CHECKING:
    from consumer.job import Deps

log = logging.getLogger(__name__)

ADVICE = {
    "failed": "Check the schedule's recipients and its shared link (revoked links and invalid filters fail "
    "every run), then trigger a test run from the API.",
    "partial": "The run's history lists each recipient's outcome; fix or remove the recipients that failed. "
    "Those that were served will not get it twice.",
    "dead": "Fix the cause, then replay the run from the dead letters (API or `python -m consumer dead-letters "
    "replay`); recipients already served are skipped.",
}
HEADLINE = {
    "failed": "failed: no recipient was served",
    "partial": "was delivered to some recipients only",
    "dead": "could not be delivered and was moved to the dead letters",
}


def text_for(schedule_name: str, status: str, reason: str) -> str:
    return (
        f"The scheduled report '{schedule_name}' {HEADLINE[status]}.\n\n"
        f"Reason: {redact(reason)[:1000]}\n\nWhat to do: {ADVICE[status]}"
    )


async def notify(deps: Deps, run_id: UUID, status: str, reason: str) -> None:
    """To the owner of the run's schedule (or, when they are no longer in its organization, to the organization's
    owners and admins): best effort and at most once per run; never changes the run's outcome."""
    if not deps.settings.notify_failures:
        return
    try:
        rows = await deps.pool.fetch(queries.CLAIM_NOTICE, run_id)
    except Exception as exc:  # a notice must never turn a finished run into a failed job
        metrics.NOTICES.labels("error").inc()
        log.error("failure notice for run %s not sent: %s", run_id, redact(str(exc) or type(exc).__name__))
        return
    if not rows:  # already notified, or no such run
        return
    addresses = [row["email"] for row in rows if row["email"]]
    if not addresses:
        metrics.NOTICES.labels("no_creator_email").inc()
        return
    name = rows[0]["name"]
    text = text_for(name, status, reason)
    for address in addresses:
        try:
            outcome = await deps.deliverer.failure_email(str(run_id), address, name, status, text)
        except Exception as exc:
            metrics.NOTICES.labels("error").inc()
            log.error("failure notice for run %s not sent: %s", run_id, redact(str(exc) or type(exc).__name__))
            continue
        metrics.NOTICES.labels(outcome.kind).inc()
        if outcome.kind != "sent":
            log.error("failure notice for run %s not sent: %s", run_id, redact(str(outcome.detail.get("reason"))))
