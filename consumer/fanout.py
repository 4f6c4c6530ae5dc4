"""Delivering a prepared report to every recipient not yet served, with the run's intent and outcome log.

Before a provider is called, an intent row (`sending`) is written; after it answers, the outcome. A try lost in
between leaves the intent open, and the run's end settles it `unconfirmed` (maybe sent): nobody is sent the
same report twice without it being counted. Recipients served by an earlier try, or by the run a replay
repeats, are not sent to again.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from consumer import conditions, gate, metrics, queries
from consumer.channels.outcome import Outcome
from consumer.deps import Deps
from consumer.pipeline import Prepared, Verdict
from shared.db import TRANSIENT_DB_ERRORS, Pool, Record
from shared.errors import TryAgain
from shared.message import AnyRecipient, ReportMessage, ledger_columns
from shared.redact import redact

log = logging.getLogger(__name__)


async def deliver(deps: Deps, message: ReportMessage, run: Record, prepared: Prepared) -> Verdict:
    """Send to everyone left; a recipient not reached yet makes the try retryable (after the longest wait a
    provider asked for), else the run's verdict from what its log says."""
    pending = await gate.screen(deps.pool, message, await _not_served(deps.pool, message, run))
    limit = asyncio.Semaphore(deps.settings.delivery_concurrency)

    async def send_to(recipient: AnyRecipient) -> Outcome:
        async with limit:
            return await _deliver_one(deps, message, run, recipient, prepared)

    outcomes = await asyncio.gather(*(send_to(r) for r in pending))
    transient = [o for o in outcomes if o.kind == "transient"]
    if transient:
        retry_after = max((o.retry_after or 0.0) for o in transient) or None
        raise TryAgain(
            f"{len(transient)} recipient(s) not reached yet: {transient[0].detail['reason']}", retry_after=retry_after
        )
    return await _verdict(deps.pool, message, run, prepared)


async def _not_served(pool: Pool, message: ReportMessage, run: Record) -> list[AnyRecipient]:
    done: set[tuple[str, str]] = set()
    for row in await pool.fetch(queries.DELIVERY_STATE, run["id"], run["origin"]):
        if row["kind"] == "unconfirmed":
            # An earlier try was lost between calling the provider and recording what it said.
            metrics.UNCONFIRMED.labels(row["channel"], "worker_lost").inc()
        else:
            done.add((row["channel"], row["recipient"]))
    return [r for r in message.recipients if (r.channel, r.key) not in done]


async def _verdict(pool: Pool, message: ReportMessage, run: Record, prepared: Prepared) -> Verdict:
    reached = await pool.fetchrow(queries.SERVED, run["origin"], run["id"])
    served, maybe = reached["served"], reached["maybe"]
    total = len(message.recipients) - reached["gated"]
    status, error = conditions.run_status(total, served, maybe)
    if total <= 0:
        error = gate.NOBODY_LEFT
    export = prepared.export
    return Verdict(
        status,
        export.rows,
        export.size,
        prepared.delivered,
        error,
        export.sha256,
        prepared.ledger(),
        result={"status": status, "rows": export.rows, "bytes": export.size, "served": served},
    )


async def _write(pool: Pool, query: str, *args: Any) -> Any:
    """A write that must not be lost: retried until the database answers (the lease bounds the wait)."""
    delay = 0.1
    while True:
        try:
            return await pool.fetchval(query, *args)
        except TRANSIENT_DB_ERRORS as exc:
            log.warning("write failed (%s); retrying in %.1f s", type(exc).__name__, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)


async def _deliver_one(
    deps: Deps, message: ReportMessage, run: Record, recipient: AnyRecipient, prepared: Prepared
) -> Outcome:
    who = ledger_columns(recipient)
    intent = await deps.pool.fetchval(
        *queries.RECORD_INTENT.bind(
            who, schedule_id=message.schedule_id, run_id=message.run_id, payload={"attempt": run["attempts"]}
        )
    )
    outcome = await deps.dispatcher.deliver(str(message.run_id), recipient, prepared.report, prepared.files)
    if outcome.detail.get("unconfirmed"):
        metrics.UNCONFIRMED.labels(recipient.channel, outcome.detail.get("cause", "response_lost")).inc()
    status = {"sent": "sent", "unconfirmed": "unconfirmed"}.get(outcome.kind, "failed")
    payload = {
        **{k: redact(v) if isinstance(v, str) else v for k, v in outcome.detail.items()},
        "outcome": outcome.kind,
        "attempt": run["attempts"],
        "rows": prepared.report.rows,
        "bytes": prepared.export.size,
        "permanent": outcome.kind in ("permanent", "too_large"),
    }
    # The recipient as the provider now knows it, when that changed (a Telegram group became a supergroup).
    now_known = ledger_columns(outcome.recipient)["chat_id"] if outcome.recipient is not None else who["chat_id"]
    # The provider has answered: from here on, losing this write would mean sending again.
    await _write(deps.pool, queries.RECORD_OUTCOME, intent, status, now_known, payload)
    metrics.DELIVERIES.labels(recipient.channel, outcome.kind).inc()
    return outcome
