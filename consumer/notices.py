"""One notice when a run fails, ends partial or is dead-lettered: a test run's or a replay's to the schedule's
owner (or, when they left its organization, its owners and admins), the schedule's own fires' to its
notify_on_failure, once per quiet window (consumer/alerts.py)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from uuid import UUID

from consumer import alerts, metrics, queries
from consumer.deps import Deps
from shared.message import AnyRecipient
from shared.redact import redact

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


_LISTED = 20


@dataclass(frozen=True)
class Reach:
    """Which recipients the run's chain did not deliver to, and which it may have (an outcome that is unknown)."""

    missed: list[str] = field(default_factory=list)
    maybe: list[str] = field(default_factory=list)


def _listing(names: list[str]) -> str:
    shown = ", ".join(redact(n) for n in names[:_LISTED])
    return shown + (f" and {len(names) - _LISTED} more" if len(names) > _LISTED else "")


def text_for(schedule_name: str, status: str, reason: str, reach: Reach | None = None) -> str:
    lines = [f"The scheduled report '{schedule_name}' {HEADLINE[status]}.", f"Reason: {redact(reason)[:1000]}"]
    if reach is not None and reach.missed:
        lines.append(f"Not delivered: {_listing(reach.missed)}")
    if reach is not None and reach.maybe:
        lines.append(
            f"Maybe delivered (the send may have arrived but its outcome is unknown; they may have it, or have "
            f"it more than once): {_listing(reach.maybe)}"
        )
    lines.append(f"What to do: {ADVICE[status]}")
    return "\n\n".join(lines)


async def reach(deps: Deps, run_id: UUID, recipients: Sequence[AnyRecipient]) -> Reach:
    """Recipients of the message not served by the run's chain, split by whether a send may have reached them."""
    rows = await deps.pool.fetch(queries.CHAIN_OUTCOMES, run_id)
    seen = {(r["channel"], r["recipient"]): r for r in rows}
    result = Reach()
    for recipient in recipients:
        row = seen.get((recipient.channel, recipient.key))
        # Served, or not sent to on purpose (unsubscribed, or outside the destination policy): not a failure.
        if row is not None and (row["sent"] or row["withheld"]):
            continue
        (result.maybe if row is not None and row["maybe"] else result.missed).append(
            f"{recipient.channel} {recipient.key}"
        )
    return result


async def notify(deps: Deps, run_id: UUID, status: str, reason: str, recipients: Sequence[AnyRecipient] = ()) -> None:
    """To the owner of the run's schedule (or, when they are no longer in its organization, to the organization's
    owners and admins): best effort and at most once per run; never changes the run's outcome. With the
    message's `recipients`, the notice lists those not delivered apart from those that may have been (never
    telling anyone a report failed for a recipient who may have it)."""
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
    name = rows[0]["name"]
    try:
        text = text_for(name, status, reason, await reach(deps, run_id, recipients) if recipients else None)
        if rows[0]["trigger"] == "cron":
            # The schedule's own fires: its notify_on_failure, once per quiet window (consumer/alerts).
            await alerts.failed(deps, run_id, rows[0]["schedule_id"], status, text)
            return
    except Exception as exc:
        metrics.NOTICES.labels("error").inc()
        log.error("failure notice for run %s not sent: %s", run_id, redact(str(exc) or type(exc).__name__))
        return
    addresses = [row["email"] for row in rows if row["email"]]
    if not addresses:
        metrics.NOTICES.labels("no_creator_email").inc()
        return
    for address in addresses:
        try:
            outcome = await deps.dispatcher.failure_email(str(run_id), address, name, status, text)
        except Exception as exc:
            metrics.NOTICES.labels("error").inc()
            log.error("failure notice for run %s not sent: %s", run_id, redact(str(exc) or type(exc).__name__))
            continue
        metrics.NOTICES.labels(outcome.kind).inc()
        if outcome.kind != "sent":
            log.error("failure notice for run %s not sent: %s", run_id, redact(str(outcome.detail.get("reason"))))
