"""The `shared_report` job: claim the run under a lease, have it built and delivered, record how it ended.

A try ends in one of: the run's verdict recorded (sent, partial, failed, skipped); a retry with backoff; a wait
(`CheckLater`); or a dead letter. Building the report is `consumer.pipeline`'s, delivering it
`consumer.fanout`'s; this module holds what every try does around them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

from arq import Retry

from consumer import alerts, dead, fanout, lease, metrics, notices, pipeline, queries
from consumer.deps import Deps
from consumer.pipeline import Verdict
from consumer.retry import backoff
from shared import logs
from shared.db import DB_ERRORS, Record
from shared.errors import (
    CheckLater,
    DeadLetter,
    InvalidMessage,
    LeaseLost,
    Misaddressed,
    ReportsError,
    RunFailed,
)
from shared.message import ReportMessage, parse_message
from shared.redact import redact

log = logging.getLogger(__name__)

# Failures expected from the outside world; anything else is logged with its traceback (a bug), then retried too.
_EXPECTED: tuple[type[BaseException], ...] = (TimeoutError, *DB_ERRORS)


@dataclass
class Claim:
    """What this try holds: the run row as claimed and the lease token that proves it."""

    token: UUID
    run: Record | None = None
    job_try: int = 1

    @property
    def attempts(self) -> int:
        return int(self.run["attempts"]) if self.run is not None else 0


async def shared_report(ctx: dict[str, Any], payload: Any = None) -> dict[str, Any]:
    deps: Deps = ctx["deps"]
    job_id: str = ctx.get("job_id", "")
    job_try: int = ctx.get("job_try", 1)
    logs.about(
        job_id=job_id,
        run_id=dead.payload_uuid(payload, "run_id"),
        schedule_id=dead.payload_uuid(payload, "schedule_id"),
    )
    try:
        message = parse_message(payload)
    except InvalidMessage as exc:
        metrics.POISON.labels("invalid_message").inc()
        return await dead.letter(deps, dead.Letter(payload, job_id, job_try, str(exc), poison=True))
    logs.about(run_id=message.run_id, schedule_id=message.schedule_id, organization_id=message.organization_id)
    claim = Claim(uuid4(), job_try=job_try)
    try:
        # Our own deadline, inside arq's, so a slow run is retried or dead-lettered rather than lost.
        async with asyncio.timeout(deps.settings.job_timeout_seconds * 0.9):
            return await _claim(deps, message, claim)
    except Misaddressed as exc:
        metrics.POISON.labels("misaddressed").inc()
        return await dead.letter(deps, dead.Letter(payload, job_id, job_try, str(exc), poison=True, of_run=False))
    except DeadLetter as exc:
        return await dead.letter(deps, dead.Letter(payload, job_id, claim.attempts, str(exc), message))
    except CheckLater as exc:
        await _wait(deps, message, claim, exc)
    except LeaseLost as exc:
        # Whoever holds the run now finishes it; this try only comes back later to confirm.
        log.warning("run %s: stopped, %s", message.run_id, exc)
        raise Retry(defer=deps.settings.lease_seconds) from exc
    except Exception as exc:  # every other failure is transient until the tries run out
        return await _failed_try(deps, dead.Letter(payload, job_id, claim.attempts, "", message), claim, exc)
    raise AssertionError("unreachable")  # pragma: no cover


async def _wait(deps: Deps, message: ReportMessage, claim: Claim, wait: CheckLater) -> None:
    if wait.note is not None:
        try:
            await deps.pool.execute(queries.WAIT_RUN, message.run_id, wait.note, claim.token)
        except DB_ERRORS:
            log.warning("could not record the wait of run %s", message.run_id)
        log.info("run %s: %s; checking again in %.1f s", message.run_id, wait.note, wait.seconds)
    raise Retry(defer=wait.seconds) from wait


async def _failed_try(deps: Deps, letter: dead.Letter, claim: Claim, exc: Exception) -> dict[str, Any]:
    """Retry with backoff, or dead-letter once the run's tries are used up."""
    settings, message = deps.settings, letter.message
    assert message is not None
    reason = redact(str(exc) or type(exc).__name__)
    known = isinstance(exc, ReportsError) and exc.retryable
    if not known and not isinstance(exc, _EXPECTED):
        log.exception("run %s: unexpected %s", message.run_id, type(exc).__name__)
    if claim.attempts >= settings.max_tries:
        return await dead.letter(deps, dataclasses.replace(letter, error=f"retries exhausted: {reason}"))
    delay = backoff(settings, claim.job_try, exc.retry_after if isinstance(exc, ReportsError) else None)
    if claim.run is not None:
        try:
            note = f"retrying in {delay:.0f} s: {reason}"[:4000]
            await deps.pool.execute(queries.RETRY_RUN, message.run_id, note, claim.token)
        except DB_ERRORS:
            # The lease lapses by itself; the retry or the sweep takes the run back.
            log.warning("could not record the retry of run %s", message.run_id)
    metrics.RETRIES.inc()
    log.warning("run %s try %d failed (%s); retrying in %.1f s", message.run_id, claim.job_try, reason, delay)
    raise Retry(defer=delay) from exc


async def _claim(deps: Deps, message: ReportMessage, claim: Claim) -> dict[str, Any]:
    pool, settings = deps.pool, deps.settings
    run = await pool.fetchrow(
        queries.CLAIM_RUN, message.run_id, claim.token, settings.lease_seconds, message.schedule_id
    )
    if run is None:
        return await _not_claimed(deps, message)
    claim.run = run
    if run["attempts"] > settings.max_tries:
        # Earlier tries ended without a verdict (the worker was killed or lost its lease each time).
        raise DeadLetter(f"gave up after {settings.max_tries} tries that did not finish (worker lost or timed out)")
    async with lease.held(pool, message.run_id, claim.token, settings.lease_seconds):
        verdict = await _held(deps, message, claim, run)
        await finish(deps, message, claim, verdict)
        return verdict.answer()


async def _not_claimed(deps: Deps, message: ReportMessage) -> dict[str, Any]:
    state = await deps.pool.fetchrow(queries.RUN_STATUS, message.run_id)
    if state is None:
        raise DeadLetter(f"run {message.run_id} does not exist (deleted, or the message is stale)")
    if state["schedule_id"] != message.schedule_id:
        raise Misaddressed(
            f"the message names schedule {message.schedule_id}, which run {message.run_id} does not belong to; "
            "the message was dropped and the run left to its own job"
        )
    if state["status"] == "running":
        seconds = max(0.5, state["lease_left"] or 0.0)
        raise CheckLater(f"the run is held by another worker for {seconds:.1f} s more", seconds)
    # A duplicate delivery of a finished run: acknowledge without sending anything.
    log.info("run %s already %s; duplicate message skipped", message.run_id, state["status"])
    return {"status": state["status"], "duplicate": True}


async def _held(deps: Deps, message: ReportMessage, claim: Claim, run: Record) -> Verdict:
    # The claim read the schedule and its link with the run: the run's record holds both.
    if run["deleted_at"] is not None:
        raise DeadLetter(f"schedule {message.schedule_id} was deleted; nothing is sent for it")
    if run["organization_id"] != message.organization_id:
        raise DeadLetter("the message's organization does not match the schedule's")
    try:
        async with pipeline.workdir(deps, message) as folder:
            prepared = await pipeline.build(deps, message, claim.job_try, run, folder)
            if isinstance(prepared, Verdict):
                return prepared
            return await fanout.deliver(deps, message, run, prepared)
    except RunFailed as exc:
        return Verdict("failed", error=str(exc))


async def finish(deps: Deps, message: ReportMessage, claim: Claim, verdict: Verdict) -> None:
    assert claim.run is not None
    error = redact(verdict.error) if verdict.error else None
    done = await deps.pool.fetchrow(
        *queries.FINISH_RUN.bind_from(
            dataclasses.asdict(verdict),
            run_id=message.run_id,
            error=error,
            token=claim.token,
            fire_at=message.fire_at,
            origin=claim.run["origin"],
        )
    )
    if done is None:
        raise LeaseLost("the run was taken back before its outcome was recorded")
    metrics.RUNS.labels(verdict.status).inc()
    dead.count_settled(done["settled"])
    if verdict.status in ("failed", "partial"):
        await notices.notify(deps, message.run_id, verdict.status, error or verdict.status, message.recipients)
    elif verdict.status == "sent" and message.trigger == "cron":
        await alerts.succeeded(deps, message.run_id, message.schedule_id)
