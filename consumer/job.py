"""The `shared_report` job: claim the run, export, deliver per recipient, retry or dead-letter."""

from __future__ import annotations

import asyncio
import errno
import logging
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from arq import Retry

from consumer import alerts, gate, lease, metrics, notices, queries
from consumer.deliver import Deliverer, ReportFiles
from consumer.delivery.outcome import Outcome, Report
from consumer.delivery.retry import capped
from consumer.export import export_to_file, file_name
from consumer.filters import parse_filters
from consumer.lease import LeaseLost
from consumer.summary import Summary, summarize
from shared import deadletters, logs, templates
from shared.db import DB_ERRORS, TRANSIENT_DB_ERRORS, Pool, Record
from shared.errors import ExportTooLarge, InvalidFilters, InvalidMessage, QueueError
from shared.message import AnyRecipient, EmailRecipient, ReportMessage, TelegramRecipient, format_instant, parse_message
from shared.redact import redact
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


class Misaddressed(Exception):
    """The message names a run of another schedule: it is dropped as poison and the run is left to its own job."""


class TransientFailure(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


SPOOL_FULL = "the server ran out of disk space while preparing the report"
# Failures expected from the outside world; anything else is logged with its traceback (a bug), then retried too.
RETRYABLE: tuple[type[BaseException], ...] = (TransientFailure, TimeoutError, QueueError, *DB_ERRORS)


def backoff(settings: Settings, job_try: int, retry_after: float | None) -> float:
    delay = min(settings.retry_cap_seconds, settings.retry_base_seconds * 2 ** max(0, job_try - 1))
    return float(max(delay, capped(settings, retry_after) or 0.0))


def _uuid(payload: Any, key: str) -> UUID | None:
    try:
        return UUID(str(payload[key])) if isinstance(payload, dict) and key in payload else None
    except (ValueError, TypeError):
        return None


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
    settings = deps.settings
    job_id: str = ctx.get("job_id", "")
    job_try: int = ctx.get("job_try", 1)
    logs.about(job_id=job_id, run_id=_uuid(payload, "run_id"), schedule_id=_uuid(payload, "schedule_id"))
    try:
        message = parse_message(payload)
    except InvalidMessage as exc:
        metrics.POISON.labels("invalid_message").inc()
        return await _dead(deps, payload, job_id, job_try, str(exc), poison=True)
    logs.about(run_id=message.run_id, schedule_id=message.schedule_id, organization_id=message.organization_id)
    claim = Claim(uuid4(), job_try=job_try)
    try:
        # Our own deadline, inside arq's, so a slow run is retried or dead-lettered rather than lost.
        async with asyncio.timeout(settings.job_timeout_seconds * 0.9):
            return await _process(deps, message, claim)
    except DeadLetter as exc:
        return await _dead(deps, payload, job_id, claim.attempts, str(exc), message=message)
    except Misaddressed as exc:
        metrics.POISON.labels("misaddressed").inc()
        return await _dead(deps, payload, job_id, job_try, str(exc), poison=True, of_run=False)
    except HeldElsewhere as exc:
        raise Retry(defer=exc.seconds) from exc
    except StaleWait as exc:
        try:
            await deps.pool.execute(queries.WAIT_RUN, message.run_id, exc.note, claim.token)
        except DB_ERRORS:
            log.warning("could not record the wait of run %s", message.run_id)
        log.info("run %s: %s; checking again in %.1f s", message.run_id, exc.note, exc.seconds)
        raise Retry(defer=exc.seconds) from exc
    except LeaseLost as exc:
        # Whoever holds the run now finishes it; this try only comes back later to confirm.
        log.warning("run %s: stopped, %s", message.run_id, exc)
        raise Retry(defer=settings.lease_seconds) from exc
    except Exception as exc:  # every other failure is transient until the tries run out
        reason = redact(str(exc) or type(exc).__name__)
        if not isinstance(exc, RETRYABLE):
            log.exception("run %s: unexpected %s", message.run_id, type(exc).__name__)
        if claim.attempts >= settings.max_tries:
            return await _dead(deps, payload, job_id, claim.attempts, f"retries exhausted: {reason}", message=message)
        retry_after = exc.retry_after if isinstance(exc, TransientFailure) else None
        delay = backoff(settings, job_try, retry_after)
        if claim.run is not None:
            try:
                note = f"retrying in {delay:.0f} s: {reason}"[:4000]
                await deps.pool.execute(queries.RETRY_RUN, message.run_id, note, claim.token)
            except DB_ERRORS:
                # The lease lapses by itself; the retry or the sweep takes the run back.
                log.warning("could not record the retry of run %s", message.run_id)
        metrics.RETRIES.inc()
        log.warning("run %s try %d failed (%s); retrying in %.1f s", message.run_id, job_try, reason, delay)
        raise Retry(defer=delay) from exc


async def _dead(
    deps: Deps,
    payload: Any,
    job_id: str,
    attempts: int,
    error: str,
    *,
    message: ReportMessage | None = None,
    poison: bool = False,
    of_run: bool = True,
) -> dict[str, Any]:
    """Dead-letter the message; the ids come from the payload, which may be malformed. With `of_run` false the
    letter is the message's alone: the run it names is neither linked nor marked dead."""
    error = redact(error)
    run_id = (message.run_id if message else _uuid(payload, "run_id")) if of_run else None
    org_id = message.organization_id if message else _uuid(payload, "organization_id")
    try:
        recorded = await deadletters.record(
            deps.pool,
            run_id=run_id,
            organization_id=org_id,
            job_id=job_id,
            payload=payload,
            error=error,
            attempts=attempts,
            poison=poison,
        )
    except DB_ERRORS as exc:
        # Not recorded, so not finished: keep the job and try again when the database is back.
        log.warning("could not record dead letter for job %s (%s); retrying", job_id, type(exc).__name__)
        raise Retry(defer=deps.settings.retry_base_seconds or 1.0) from exc
    metrics.DEAD_LETTERS.inc()
    _count_settled(recorded.settled)
    log.error("dead-lettered job %s: %s", job_id, error)
    # Only a message that passed validation names a schedule its creator should hear about.
    if message is not None:
        await notices.notify(deps, message.run_id, "dead", error, message.recipients)
    return {"status": "dead", "error": error}


class StaleWait(Exception):
    """The statistics are older than the schedule allows; check again later (not a failed try)."""

    def __init__(self, seconds: float, note: str) -> None:
        super().__init__(note)
        self.seconds = seconds
        self.note = note


async def _freshness(deps: Deps, message: ReportMessage, claim: Claim, schedule: Record) -> tuple[str, str] | None:
    """None when the statistics are fresh enough (or there is no gate); else (action, note) once the wait is over.
    A run that ignores the send conditions does not wait and is not skipped: it sends with the stale note."""
    window = schedule["require_fresh_within_seconds"]
    if not window:
        return None
    stats = await deps.pool.fetchrow(queries.STATS_UPDATED_AT, message.organization_id)
    updated, now = stats["updated"], stats["now"]
    if updated is not None and updated >= message.fire_at - timedelta(seconds=window):
        return None
    since = "never" if updated is None else updated.astimezone(UTC).isoformat(timespec="seconds")
    note = f"Data may be stale: statistics were last updated {since}."
    if not message.applies_conditions:
        return "send", note
    give_up_at = message.fire_at + timedelta(seconds=schedule["fresh_wait_max_seconds"])
    if now < give_up_at:
        delay = min(backoff(deps.settings, claim.job_try, None), (give_up_at - now).total_seconds())
        raise StaleWait(max(delay, 0.1), f"waiting for fresh statistics (last updated {since})")
    return schedule["stale_action"], note


class HeldElsewhere(Exception):
    def __init__(self, seconds: float) -> None:
        super().__init__(f"the run is held by another worker for {seconds:.1f} s more")
        self.seconds = seconds


async def _process(deps: Deps, message: ReportMessage, claim: Claim) -> dict[str, Any]:
    pool, settings = deps.pool, deps.settings
    run = await pool.fetchrow(
        queries.CLAIM_RUN, message.run_id, claim.token, settings.lease_seconds, message.schedule_id
    )
    if run is None:
        state = await pool.fetchrow(queries.RUN_STATUS, message.run_id)
        if state is None:
            raise DeadLetter(f"run {message.run_id} does not exist (deleted, or the message is stale)")
        if state["schedule_id"] != message.schedule_id:
            raise Misaddressed(
                f"the message names schedule {message.schedule_id}, which run {message.run_id} does not belong to; "
                "the message was dropped and the run left to its own job"
            )
        if state["status"] == "running":
            raise HeldElsewhere(max(0.5, state["lease_left"] or 0.0))
        # A duplicate delivery of a finished run: acknowledge without sending anything.
        log.info("run %s already %s; duplicate message skipped", message.run_id, state["status"])
        return {"status": state["status"], "duplicate": True}
    claim.run = run
    if run["attempts"] > settings.max_tries:
        # Earlier tries ended without a verdict (the worker was killed or lost its lease each time).
        raise DeadLetter(f"gave up after {settings.max_tries} tries that did not finish (worker lost or timed out)")
    async with lease.held(pool, message.run_id, claim.token, settings.lease_seconds):
        return await _claimed(deps, message, claim)


async def _claimed(deps: Deps, message: ReportMessage, claim: Claim) -> dict[str, Any]:
    # The claim read the schedule and its link with the run: the run's record holds both.
    schedule = claim.run
    assert schedule is not None
    if schedule["deleted_at"] is not None:
        raise DeadLetter(f"schedule {message.schedule_id} was deleted; nothing is sent for it")
    # The tenant must match.
    if schedule["organization_id"] != message.organization_id:
        raise DeadLetter("the message's organization does not match the schedule's")
    try:
        if schedule["revoked_at"] is not None:
            raise Permanent(f"shared link '{schedule['slug']}' was revoked; nothing was exported")
        try:
            filters = parse_filters(schedule["filters"])
        except InvalidFilters as exc:
            raise Permanent(str(exc)) from exc
        try:
            workdir = Path(tempfile.mkdtemp(prefix="report-", dir=deps.spool))
            try:
                return await _export_and_deliver(deps, message, claim, schedule, filters, workdir)
            finally:
                await asyncio.get_running_loop().run_in_executor(None, shutil.rmtree, workdir, True)
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            # The operator needs the folder and its setting; the customer needs to know it was not their report.
            log.error("run %s: the spool folder %s (SPOOL_DIR) is full: %s", message.run_id, deps.spool, exc)
            raise TransientFailure(SPOOL_FULL) from exc
    except Permanent as exc:
        await _finish(deps, message, claim, "failed", error=str(exc))
        return {"status": "failed", "error": str(exc)}


async def _finish(
    deps: Deps,
    message: ReportMessage,
    claim: Claim,
    status: str,
    *,
    rows: int | None = None,
    size: int | None = None,
    filename: str | None = None,
    error: str | None = None,
    sha256: str | None = None,
) -> None:
    error = redact(error) if error else None
    assert claim.run is not None
    done = await deps.pool.fetchrow(
        queries.FINISH_RUN,
        message.run_id,
        status,
        rows,
        size,
        filename,
        error,
        claim.token,
        sha256,
        message.fire_at,
        claim.run["origin"],
    )
    if done is None:
        raise LeaseLost("the run was taken back before its outcome was recorded")
    metrics.RUNS.labels(status).inc()
    _count_settled(done["settled"])
    if status in ("failed", "partial"):
        await notices.notify(deps, message.run_id, status, error or status, message.recipients)
    elif status == "sent" and message.trigger == "cron":
        await alerts.succeeded(deps, message.run_id, message.schedule_id)


def _count_settled(channels: list[str]) -> None:
    """Intents a lost try left open, settled `unconfirmed` when their chain ended: each may have been sent."""
    for channel in channels:
        metrics.UNCONFIRMED.labels(channel, "worker_lost").inc()


async def _export_and_deliver(
    deps: Deps, message: ReportMessage, claim: Claim, schedule: Record, filters: Any, workdir: Path
) -> dict[str, Any]:
    settings, pool = deps.settings, deps.pool
    run = claim.run
    assert run is not None
    stale = await _freshness(deps, message, claim, schedule)
    if stale is not None and stale[0] == "skip":
        why = f"{stale[1]} The wait for fresh statistics ended (stale_action is skip)."
        await _finish(deps, message, claim, "skipped", error=why)
        return {"status": "skipped", "reason": why}
    timezone = schedule["timezone"]
    fmt = schedule["format"]
    kind = fmt.removesuffix(".zip")
    filename = file_name(schedule["slug"], message.fire_at, timezone, kind)
    summaries: list[Summary] = []

    async def summary(conn: Any) -> None:
        # In the export's snapshot, and while the file is written if a connection is free: the file's rows.
        summaries.append(await summarize(conn, message.organization_id, filters, timezone, message.fire_at))

    try:
        async with pool.acquire() as conn:
            result = await export_to_file(
                conn,
                message.organization_id,
                filters,
                timezone,
                message.fire_at,
                workdir / filename,
                settings.export_chunk_bytes,
                kind=kind,
                beside=summary,
                side_pool=pool,
                formula_guard=schedule["csv_formula_guard"],
            )
    except ExportTooLarge as exc:
        raise Permanent(str(exc)) from exc
    (headline,) = summaries
    metrics.EXPORT_ROWS.inc(result.rows)
    metrics.EXPORT_SECONDS.observe(result.seconds)
    # A manual run skips for no send condition unless it asked to.
    reason = await _skip_reason(pool, schedule, run, result.rows, result.sha256) if message.applies_conditions else None
    if reason is not None:
        await _finish(
            deps, message, claim, "skipped", rows=result.rows, size=result.size, filename=filename, error=reason
        )
        return {"status": "skipped", "rows": result.rows, "reason": reason}

    files = ReportFiles(result.path, filename, result.size, want_zip=fmt.endswith(".zip"))
    fire_date = message.fire_at.astimezone(ZoneInfo(timezone)).date().isoformat()
    # The run and the templates name the file as its format delivers it (the zip for the .zip formats).
    delivered = (await files.zipped()).filename if files.want_zip else filename
    values = {
        "schedule_name": schedule["name"],
        "period": filters.period,
        "fire_date": fire_date,
        "rows": result.rows,
        "total_views": headline.totals["views"],
        "total_likes": headline.totals["likes"],
        "total_comments": headline.totals["comments"],
        "total_reposts": headline.totals["reposts"],
        "views_change": headline.change_text("views"),
        "top_title": headline.top[0][0] if headline.top else "",
        "file_name": delivered,
    }
    subject, body = (
        templates.render(field, schedule[field], values) if schedule[field] else None
        for field in ("subject_template", "message_template")
    )
    report = Report(
        schedule["name"],
        result.rows,
        fire_date,
        filename,
        headline,
        stale[1] if stale is not None else None,
        subject,
        body,
        organization_id=message.organization_id,
        schedule_id=message.schedule_id,
        run_id=message.run_id,
        fire_at=format_instant(message.fire_at),
        sha256=result.sha256,
        size=result.size,
    )
    done: set[tuple[str, str]] = set()
    for row in await pool.fetch(queries.DELIVERY_STATE, run["id"], run["origin"]):
        if row["kind"] == "unconfirmed":
            # An earlier try was lost between calling the provider and recording what it said.
            metrics.UNCONFIRMED.labels(row["channel"], "worker_lost").inc()
        else:
            done.add((row["channel"], row["recipient"]))
    pending = await gate.screen(pool, message, [r for r in message.recipients if (r.channel, r.key) not in done])
    limit = asyncio.Semaphore(settings.delivery_concurrency)

    async def one(recipient: AnyRecipient) -> Outcome:
        async with limit:
            return await _deliver_one(deps, message, run, recipient, report, files)

    outcomes = await asyncio.gather(*(one(r) for r in pending))
    transient = [o for o in outcomes if o.kind == "transient"]
    if transient:
        retry_after = max((o.retry_after or 0.0) for o in transient) or None
        raise TransientFailure(
            f"{len(transient)} recipient(s) not reached yet: {transient[0].detail['reason']}", retry_after
        )
    reached = await pool.fetchrow(queries.SERVED, run["origin"], run["id"])
    served, maybe = reached["served"], reached["maybe"]
    total = len(message.recipients) - await gate.gated(pool, run["id"])
    status = "sent" if served >= total else ("partial" if served or maybe else "failed")
    error = None if status == "sent" else _shortfall(total, served, maybe)
    if total <= 0:
        status, error = "skipped", gate.NOBODY_LEFT
    await _finish(
        deps,
        message,
        claim,
        status,
        rows=result.rows,
        size=result.size,
        filename=delivered,
        error=error,
        sha256=result.sha256,
    )
    return {"status": status, "rows": result.rows, "bytes": result.size, "served": served}


async def _skip_reason(pool: Pool, schedule: Record, run: Record, rows: int, sha256: str) -> str | None:
    """Why the send conditions say not to send this file, or None to send it."""
    # skip_if_empty is the min_rows = 1 case.
    min_rows = max(schedule["min_rows"], 1 if schedule["skip_if_empty"] else 0)
    if rows < min_rows:
        if rows == 0 and schedule["skip_if_empty"]:
            return "no rows matched and skip_if_empty is set"
        return f"{rows} row(s), fewer than min_rows {min_rows}"
    if schedule["only_if_changed"]:
        last = await pool.fetchrow(queries.LAST_SENT_CONTENT, run["schedule_id"], run["origin"])
        if last is not None and last["content_sha256"] == sha256:
            return f"unchanged since run {last['id']} (only_if_changed is set)"
    return None


def _shortfall(total: int, served: int, maybe: int) -> str:
    parts = []
    if total - served - maybe > 0:
        parts.append(f"{total - served - maybe} of {total} recipient(s) failed permanently")
    if maybe:
        parts.append(
            f"{maybe} of {total} recipient(s) maybe delivered (the provider took the report but did not answer "
            "with its success; check with them before replaying)"
        )
    return "; ".join(parts)


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
    deps: Deps,
    message: ReportMessage,
    run: Record,
    recipient: AnyRecipient,
    report: Report,
    files: ReportFiles,
) -> Outcome:
    chat_id = recipient.telegram_chat_id if isinstance(recipient, TelegramRecipient) else None
    intent = await deps.pool.fetchval(
        queries.RECORD_INTENT,
        message.schedule_id,
        message.run_id,
        recipient.channel,
        recipient.user_id if isinstance(recipient, EmailRecipient) else None,
        recipient.email if isinstance(recipient, EmailRecipient) else None,
        chat_id,
        recipient.key,
        {"attempt": run["attempts"]},
        getattr(recipient, "destination_id", None),
    )
    outcome = await deps.deliverer.deliver(str(message.run_id), recipient, report, files)
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
    if outcome.detail.get("unconfirmed"):
        metrics.UNCONFIRMED.labels(recipient.channel, outcome.detail.get("cause", "response_lost")).inc()
    status = {"sent": "sent", "unconfirmed": "unconfirmed"}.get(outcome.kind, "failed")
    payload = {
        **{k: redact(v) if isinstance(v, str) else v for k, v in outcome.detail.items()},
        "outcome": outcome.kind,
        "attempt": run["attempts"],
        "rows": report.rows,
        "bytes": files.csv.size,
        "permanent": outcome.kind in ("permanent", "too_large"),
    }
    # The provider has answered: from here on, losing this write would mean sending again.
    await _write(deps.pool, queries.RECORD_OUTCOME, intent, status, chat_id, payload)
    metrics.DELIVERIES.labels(recipient.channel, outcome.kind).inc()
    return outcome
