"""A message's dead letter: recorded with its run (unless the message is poison), and the schedule's owner told."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from arq import Retry

from consumer import metrics, notices
from consumer.deps import Deps
from shared import deadletters
from shared.db import DB_ERRORS
from shared.message import ReportMessage
from shared.redact import redact

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Letter:
    """A message to dead-letter; the ids come from the payload, which may be malformed. Without `of_run` the
    letter is the message's alone: the run it names is neither linked nor marked dead."""

    payload: Any
    job_id: str
    attempts: int
    error: str
    message: ReportMessage | None = None
    poison: bool = False
    of_run: bool = True


def payload_uuid(payload: Any, key: str) -> UUID | None:
    try:
        return UUID(str(payload[key])) if isinstance(payload, dict) and key in payload else None
    except (ValueError, TypeError):
        return None


async def letter(deps: Deps, letter: Letter) -> dict[str, Any]:
    error = redact(letter.error)
    message, payload = letter.message, letter.payload
    run_id = (message.run_id if message else payload_uuid(payload, "run_id")) if letter.of_run else None
    org_id = message.organization_id if message else payload_uuid(payload, "organization_id")
    try:
        recorded = await deadletters.record(
            deps.pool,
            run_id=run_id,
            organization_id=org_id,
            job_id=letter.job_id,
            payload=payload,
            error=error,
            attempts=letter.attempts,
            poison=letter.poison,
        )
    except DB_ERRORS as exc:
        # Not recorded, so not finished: keep the job and try again when the database is back.
        log.warning("could not record dead letter for job %s (%s); retrying", letter.job_id, type(exc).__name__)
        raise Retry(defer=deps.settings.retry_base_seconds or 1.0) from exc
    metrics.DEAD_LETTERS.inc()
    count_settled(recorded.settled)
    log.error("dead-lettered job %s: %s", letter.job_id, error)
    # Only a message that passed validation names a schedule its creator should hear about.
    if message is not None:
        await notices.notify(deps, message.run_id, "dead", error, message.recipients)
    return {"status": "dead", "error": error}


def count_settled(channels: list[str]) -> None:
    """Intents a lost try left open, settled `unconfirmed` when their chain ended: each may have been sent."""
    for channel in channels:
        metrics.UNCONFIRMED.labels(channel, "worker_lost").inc()
