"""A claimed run's report: the send conditions, the export and the report the recipients are told about.

`build` reads what the gates need, asks the pure gates in `consumer.conditions`, exports the file in one
snapshot (its summary beside it), and returns either the report to deliver or the run's verdict when a gate
says not to send. Delivering is `consumer.fanout`'s; claiming and finishing, `consumer.lifecycle`'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import shutil
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from consumer import conditions, metrics, queries
from consumer.channels.outcome import Origin, Report
from consumer.deps import Deps
from consumer.dispatch import ReportFiles
from consumer.export import ExportResult, Query, export_files, file_name
from consumer.filters import Filters, parse_filters
from consumer.retry import backoff
from consumer.summary import Summary, summarize
from shared import templates
from shared.db import Record
from shared.errors import CheckLater, ExportTooLarge, InvalidFilters, RunFailed, TryAgain
from shared.message import ReportMessage, format_instant

log = logging.getLogger(__name__)

SPOOL_FULL = "the server ran out of disk space while preparing the report"


@dataclass(frozen=True)
class Verdict:
    """How the run ends: what its record says, and what the job returns."""

    status: str
    rows: int | None = None
    size: int | None = None
    filename: str | None = None
    error: str | None = None
    sha256: str | None = None
    # One entry per file delivered (format, filename, bytes, sha256); None when nothing was exported.
    files: list[dict[str, Any]] | None = None
    result: dict[str, Any] = field(default_factory=dict)

    def answer(self) -> dict[str, Any]:
        return self.result or ({"status": self.status, "error": self.error} if self.error else {"status": self.status})


@dataclass(frozen=True)
class Prepared:
    """A report ready to deliver: what recipients are told, its files (one per format, the schedule's `format`
    first), and what the export measured of each."""

    report: Report
    files: list[ReportFiles]
    exports: list[ExportResult]
    formats: list[str]

    @property
    def export(self) -> ExportResult:
        return self.exports[0]

    @property
    def delivered(self) -> str:
        """The first file's name as delivered (the zip's, for the .zip formats)."""
        return self.files[0].delivered_name

    def ledger(self) -> list[dict[str, Any]]:
        return [
            {"format": fmt, "filename": f.delivered_name, "bytes": e.size, "sha256": e.sha256}
            for fmt, f, e in zip(self.formats, self.files, self.exports, strict=True)
        ]


@contextlib.asynccontextmanager
async def workdir(deps: Deps, message: ReportMessage) -> AsyncIterator[Path]:
    """A folder of the spool for this try, removed afterwards; a full disk is a retryable failure."""
    try:
        path = Path(tempfile.mkdtemp(prefix="report-", dir=deps.spool))
        try:
            yield path
        finally:
            await asyncio.get_running_loop().run_in_executor(None, shutil.rmtree, path, True)
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        # The operator needs the folder and its setting; the customer needs to know it was not their report.
        log.error("run %s: the spool folder %s (SPOOL_DIR) is full: %s", message.run_id, deps.spool, exc)
        raise TryAgain(SPOOL_FULL) from exc


async def build(deps: Deps, message: ReportMessage, job_try: int, run: Record, folder: Path) -> Prepared | Verdict:
    """The run's report, or the verdict of the gate that stopped it. `run` is the claimed run with its schedule
    and shared link."""
    if run["revoked_at"] is not None:
        raise RunFailed(f"shared link '{run['slug']}' was revoked; nothing was exported")
    try:
        filters = parse_filters(run["filters"])
    except InvalidFilters as exc:
        raise RunFailed(str(exc)) from exc
    stale = await _freshness(deps, message, job_try, run)
    if stale is not None and stale.action == "skip":
        why = f"{stale.note} The wait for fresh statistics ended (stale_action is skip)."
        return Verdict("skipped", error=why, result={"status": "skipped", "reason": why})
    formats = [run["format"], *run["extra_formats"]]
    kinds = [fmt.removesuffix(".zip") for fmt in formats]
    if len(set(kinds)) < len(kinds):
        # The API refuses this; a row written another way must not make two formats share one file.
        raise RunFailed(f"formats {', '.join(formats)} hold one kind twice; keep one of each (PATCH formats)")
    outputs = [(kind, folder / file_name(run["slug"], message.fire_at, run["timezone"], kind)) for kind in kinds]
    results, headline = await _export(deps, message, run, filters, outputs)
    first = results[0]
    reason = await _skip_reason(deps, message, run, first) if message.applies_conditions else None
    if reason is not None:
        verdict = {"status": "skipped", "rows": first.rows, "reason": reason}
        return Verdict("skipped", first.rows, first.size, first.path.name, reason, result=verdict)
    several = len(formats) > 1
    files = [
        ReportFiles(
            r.path,
            r.path.name,
            r.size,
            fmt.endswith(".zip"),
            zip_name=f"{r.path.name}.zip" if several else None,
            sha256=r.sha256,
        )
        for fmt, r in zip(formats, results, strict=True)
    ]
    for f in files:
        if f.want_zip:
            await f.zipped()
    # The run and the templates name the file as its format delivers it (the zip for the .zip formats).
    report = _report(message, run, filters, first, headline, files[0].delivered_name, stale.note if stale else None)
    return Prepared(report, files, results, formats)


async def _freshness(deps: Deps, message: ReportMessage, job_try: int, run: Record) -> conditions.Stale | None:
    if not run["require_fresh_within_seconds"]:
        return None
    stats = await deps.pool.fetchrow(queries.STATS_UPDATED_AT, message.organization_id)
    stale = conditions.freshness(
        run,
        updated=stats["updated"],
        now=stats["now"],
        fire_at=message.fire_at,
        applies_conditions=message.applies_conditions,
        retry_delay=backoff(deps.settings, job_try, None),
    )
    if stale is not None and stale.action == "wait":
        raise CheckLater(stale.wait_note, stale.wait_seconds, note=stale.wait_note)
    return stale


async def _export(
    deps: Deps, message: ReportMessage, run: Record, filters: Filters, outputs: list[tuple[str, Path]]
) -> tuple[list[ExportResult], Summary]:
    summaries: list[Summary] = []

    async def summary(conn: Any) -> None:
        # In the export's snapshot, and while the file is written if a connection is free: the file's rows.
        summaries.append(await summarize(conn, message.organization_id, filters, run["timezone"], message.fire_at))

    try:
        async with deps.pool.acquire() as conn:
            query = Query(message.organization_id, filters, run["timezone"], message.fire_at, run["csv_formula_guard"])
            results = await export_files(
                conn, query, outputs, deps.settings.export_chunk_bytes, beside=summary, side_pool=deps.pool
            )
    except ExportTooLarge as exc:
        raise RunFailed(str(exc)) from exc
    for result in results:
        metrics.EXPORT_ROWS.inc(result.rows)
        metrics.EXPORT_SECONDS.observe(result.seconds)
    (headline,) = summaries
    return results, headline


async def _skip_reason(deps: Deps, message: ReportMessage, run: Record, result: ExportResult) -> str | None:
    last = None
    if run["only_if_changed"]:
        last = await deps.pool.fetchrow(queries.LAST_SENT_CONTENT, run["schedule_id"], run["origin"])
    return conditions.skip_reason(run, result.rows, result.sha256, last)


def _report(
    message: ReportMessage,
    run: Record,
    filters: Filters,
    result: ExportResult,
    headline: Summary,
    delivered: str,
    stale: str | None,
) -> Report:
    fire_date = message.fire_at.astimezone(ZoneInfo(run["timezone"])).date().isoformat()
    values = {
        "schedule_name": run["name"],
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
        templates.render(name, run[name], values) if run[name] else None
        for name in ("subject_template", "message_template")
    )
    origin = Origin(
        message.organization_id, message.schedule_id, message.run_id, format_instant(message.fire_at), result.sha256
    )
    return Report(run["name"], result.rows, fire_date, result.path.name, origin, headline, stale, subject, body)
