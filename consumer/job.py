"""The `shared_report` job: claim the run, export, deliver per recipient, retry or dead-letter."""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from arq import Retry

from consumer import metrics, queries
from consumer.deliver import Deliverer, ReportFiles
from consumer.delivery.outcome import Outcome, Report
from consumer.export import export_to_file, file_name
from consumer.filters import parse_filters
from shared import deadletters
from shared.db import DB_ERRORS, Pool, Record
from shared.errors import InvalidFilters, InvalidMessage, QueueError
from shared.message import EmailRecipient, ReportMessage, TelegramRecipient, parse_message
from shared.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class Deps:
    settings: Settings
    pool: Pool
    deliverer: Deliverer
    spool: Path


class Permanent(Exception):
    """The run cannot succeed as configured; retrying would not help."""


class DeadLetter(Exception):
    """The message must go to the dead-letter queue at once."""


class TransientFailure(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


RETRYABLE: tuple[type[BaseException], ...] = (TransientFailure, TimeoutError, QueueError, *DB_ERRORS)


def backoff(settings: Settings, job_try: int, retry_after: float | None) -> float:
    delay = min(settings.retry_cap_seconds, settings.retry_base_seconds * 2 ** max(0, job_try - 1))
    return float(max(delay, retry_after or 0.0))


def _uuid(payload: Any, key: str) -> UUID | None:
    try:
        return UUID(str(payload[key])) if isinstance(payload, dict) and key in payload else None
    except (ValueError, TypeError):
        return None


async def shared_report(ctx: dict[str, Any], payload: Any = None) -> dict[str, Any]:
    deps: Deps = ctx["deps"]
    settings = deps.settings
    job_id: str = ctx.get("job_id", "")
    job_try: int = ctx.get("job_try", 1)
    try:
        message = parse_message(payload)
    except InvalidMessage as exc:
        return await _dead(deps, payload, job_id, job_try, str(exc))
    if job_try > settings.max_tries:
        # Earlier tries ended without a verdict (the worker was killed or timed out each time).
        error = f"gave up after {settings.max_tries} tries that did not finish (worker crash or timeout)"
        return await _dead(deps, payload, job_id, job_try, error)
    try:
        # Our own deadline, inside arq's, so a slow run is retried or dead-lettered rather than lost.
        async with asyncio.timeout(settings.job_timeout_seconds * 0.9):
            return await _process(deps, message)
    except DeadLetter as exc:
        return await _dead(deps, payload, job_id, job_try, str(exc))
    except RETRYABLE as exc:
        reason = str(exc) or type(exc).__name__
        if job_try >= settings.max_tries:
            return await _dead(deps, payload, job_id, job_try, f"retries exhausted: {reason}")
        retry_after = exc.retry_after if isinstance(exc, TransientFailure) else None
        delay = backoff(settings, job_try, retry_after)
        try:
            await deps.pool.execute(queries.RETRY_RUN, message.run_id, f"retrying in {delay:.0f} s: {reason}"[:4000])
        except DB_ERRORS:
            log.warning("could not record the retry of run %s", message.run_id)
        metrics.RETRIES.inc()
        log.warning("run %s try %d failed (%s); retrying in %.1f s", message.run_id, job_try, reason, delay)
        raise Retry(defer=delay) from exc


async def _dead(deps: Deps, payload: Any, job_id: str, attempts: int, error: str) -> dict[str, Any]:
    """Dead-letter the message; the ids come from the payload, which may be malformed."""
    run_id, schedule_id = _uuid(payload, "run_id"), _uuid(payload, "schedule_id")
    dead_id = await deadletters.record(
        deps.pool,
        run_id=run_id,
        organization_id=_uuid(payload, "organization_id"),
        job_id=job_id,
        payload=payload if isinstance(payload, dict | list | str | int | float) else repr(payload),
        error=error,
        attempts=attempts,
    )
    metrics.DEAD_LETTERS.inc()
    log.error("dead-lettered job %s: %s", job_id, error)
    if dead_id is not None and schedule_id is not None:
        row = await deps.pool.fetchrow(queries.CREATOR_EMAIL, schedule_id)
        if row is not None and row["email"]:
            outcome = await deps.deliverer.failure_email(str(run_id), row["email"], row["name"], error)
            if outcome.kind != "sent":
                log.error("failure email to the creator of schedule %s not sent: %s", schedule_id, outcome.detail)
    return {"status": "dead", "error": error}


async def _process(deps: Deps, message: ReportMessage) -> dict[str, Any]:
    pool = deps.pool
    run = await pool.fetchrow(queries.CLAIM_RUN, message.run_id)
    if run is None:
        status = await pool.fetchval(queries.RUN_STATUS, message.run_id)
        if status is None:
            raise DeadLetter(f"run {message.run_id} does not exist (deleted, or the message is stale)")
        # A duplicate delivery of a finished run: acknowledge without sending anything.
        log.info("run %s already %s; duplicate message skipped", message.run_id, status)
        return {"status": status, "duplicate": True}
    schedule = await pool.fetchrow(queries.SCHEDULE, message.schedule_id)
    if schedule is None or schedule["deleted_at"] is not None:
        raise DeadLetter(f"schedule {message.schedule_id} was deleted; nothing is sent for it")
    # The schedule's link is read now, so an edit made after the enqueue is honoured; the tenant must match.
    if schedule["organization_id"] != message.organization_id:
        raise DeadLetter("the message's organization does not match the schedule's")
    try:
        if schedule["revoked_at"] is not None:
            raise Permanent(f"shared link '{schedule['slug']}' was revoked; nothing was exported")
        try:
            filters = parse_filters(schedule["filters"])
        except InvalidFilters as exc:
            raise Permanent(str(exc)) from exc
        workdir = Path(tempfile.mkdtemp(prefix="report-", dir=deps.spool))
        try:
            return await _export_and_deliver(deps, message, run, schedule, filters, workdir)
        finally:
            await asyncio.get_running_loop().run_in_executor(None, shutil.rmtree, workdir, True)
    except Permanent as exc:
        await _finish(pool, message, "failed", error=str(exc))
        return {"status": "failed", "error": str(exc)}


async def _finish(
    pool: Pool,
    message: ReportMessage,
    status: str,
    *,
    rows: int | None = None,
    size: int | None = None,
    filename: str | None = None,
    error: str | None = None,
) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(queries.FINISH_RUN, message.run_id, status, rows, size, filename, error)
        await conn.execute(queries.SCHEDULE_STATUS, message.schedule_id, status, message.fire_at)
    metrics.RUNS.labels(status).inc()


async def _export_and_deliver(
    deps: Deps, message: ReportMessage, run: Record, schedule: Record, filters: Any, workdir: Path
) -> dict[str, Any]:
    settings, pool = deps.settings, deps.pool
    timezone = schedule["timezone"]
    filename = file_name(schedule["slug"], message.fire_at, timezone)
    async with pool.acquire() as conn:
        result = await export_to_file(
            conn,
            message.organization_id,
            filters,
            timezone,
            message.fire_at,
            workdir / filename,
            settings.export_page_size,
        )
    metrics.EXPORT_ROWS.inc(result.rows)
    metrics.EXPORT_SECONDS.observe(result.seconds)
    if result.rows == 0 and schedule["skip_if_empty"]:
        await _finish(
            pool,
            message,
            "skipped",
            rows=0,
            size=result.size,
            filename=filename,
            error="no rows matched and skip_if_empty is set",
        )
        return {"status": "skipped", "rows": 0}

    files = ReportFiles(result.path, filename, result.size, want_zip=schedule["format"] == "csv.zip")
    report = Report(
        schedule["name"],
        result.rows,
        message.fire_at.astimezone(ZoneInfo(timezone)).date().isoformat(),
        filename,
    )
    done = {(r["channel"], r["recipient"]) for r in await pool.fetch(queries.DONE_RECIPIENTS, run["id"], run["origin"])}
    pending = [r for r in message.recipients if (r.channel, r.key) not in done]
    limit = asyncio.Semaphore(settings.delivery_concurrency)

    async def one(recipient: EmailRecipient | TelegramRecipient) -> Outcome:
        async with limit:
            return await _deliver_one(deps, message, run, recipient, report, files)

    outcomes = await asyncio.gather(*(one(r) for r in pending))
    transient = [o for o in outcomes if o.kind == "transient"]
    if transient:
        retry_after = max((o.retry_after or 0.0) for o in transient) or None
        raise TransientFailure(
            f"{len(transient)} recipient(s) not reached yet: {transient[0].detail['reason']}", retry_after
        )
    served = await pool.fetchval(queries.SERVED, run["origin"])
    total = len(message.recipients)
    status = "sent" if served >= total else ("partial" if served else "failed")
    error = None if status == "sent" else f"{total - served} of {total} recipient(s) failed permanently"
    # The run names the file as its format delivers it (the zip for csv.zip).
    recorded = (await files.zipped()).filename if files.want_zip else filename
    await _finish(pool, message, status, rows=result.rows, size=result.size, filename=recorded, error=error)
    return {"status": status, "rows": result.rows, "bytes": result.size, "served": served}


async def _deliver_one(
    deps: Deps,
    message: ReportMessage,
    run: Record,
    recipient: EmailRecipient | TelegramRecipient,
    report: Report,
    files: ReportFiles,
) -> Outcome:
    outcome = await deps.deliverer.deliver(str(message.run_id), recipient, report, files)
    chat_id = recipient.telegram_chat_id if isinstance(recipient, TelegramRecipient) else None
    if outcome.kind == "migrate" and outcome.new_chat_id is not None and chat_id is not None:
        # The group became a supergroup: store the new id everywhere, then try once more there.
        async with deps.pool.acquire() as conn, conn.transaction():
            await conn.execute(queries.MIGRATE_SCHEDULE_CHAT, chat_id, outcome.new_chat_id, message.organization_id)
            await conn.execute(queries.MIGRATE_ORG_CHAT, chat_id, outcome.new_chat_id, message.organization_id)
        migrated = TelegramRecipient(channel="telegram", telegram_chat_id=outcome.new_chat_id)
        retried = await deps.deliverer.deliver(str(message.run_id), migrated, report, files)
        outcome = Outcome(
            retried.kind if retried.kind != "migrate" else "permanent",
            {**retried.detail, "migrated_from": chat_id},
            retried.retry_after,
        )
        chat_id = migrated.telegram_chat_id
    status = "sent" if outcome.kind == "sent" else "failed"
    payload = {
        **outcome.detail,
        "outcome": outcome.kind,
        "attempt": run["attempts"],
        "rows": report.rows,
        "bytes": files.csv.size,
        "permanent": outcome.kind in ("permanent", "too_large"),
    }
    await deps.pool.execute(
        queries.RECORD_NOTIFICATION,
        message.schedule_id,
        message.run_id,
        recipient.channel,
        recipient.user_id if isinstance(recipient, EmailRecipient) else None,
        recipient.email if isinstance(recipient, EmailRecipient) else None,
        chat_id,
        recipient.key,
        status,
        payload,
    )
    metrics.DELIVERIES.labels(recipient.channel, outcome.kind).inc()
    return outcome
