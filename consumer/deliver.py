"""Deliver one report file to one recipient, choosing the attachment that fits the channel."""

from __future__ import annotations

import asyncio
import html
from pathlib import Path

import aiohttp

from consumer import summary
from consumer.delivery import loops, smtp, telegram
from consumer.delivery.outcome import Attachment, Outcome, Report
from consumer.export import zip_file
from consumer.ratelimit import RateLimiter
from shared.message import EmailRecipient, TelegramRecipient
from shared.settings import EmailTransport, Settings

CONTENT_TYPES = {
    ".csv": "text/csv",
    ".ndjson": "application/x-ndjson",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


class ReportFiles:
    """The CSV of one run, and its zip made at most once, when a channel needs it."""

    def __init__(self, csv: Path, filename: str, size: int, want_zip: bool) -> None:
        # `csv` is the report as exported, whatever its format: the file a channel gets unless it is zipped.
        self.csv = Attachment(csv, filename, CONTENT_TYPES.get(csv.suffix, "application/octet-stream"), size)
        self.want_zip = want_zip
        self._zip: Attachment | None = None
        self._lock = asyncio.Lock()

    async def zipped(self) -> Attachment:
        async with self._lock:
            if self._zip is None:
                name = str(Path(self.csv.filename).with_suffix(".zip"))
                target = self.csv.path.with_suffix(".zip")
                size = await zip_file(self.csv.path, self.csv.filename, target)
                self._zip = Attachment(target, name, "application/zip", size)
            return self._zip

    async def first(self) -> Attachment:
        return await self.zipped() if self.want_zip else self.csv


class Deliverer:
    def __init__(self, settings: Settings, session: aiohttp.ClientSession, limiter: RateLimiter) -> None:
        self.settings = settings
        self.session = session
        self.limiter = limiter

    def limit(self, channel: str) -> int:
        s = self.settings
        return s.telegram_max_bytes if channel == "telegram" else s.email_max_attachment_bytes

    async def deliver(
        self, run_id: str, recipient: EmailRecipient | TelegramRecipient, report: Report, files: ReportFiles
    ) -> Outcome:
        limit = self.limit(recipient.channel)
        attachment = await files.first()
        if attachment.size > limit and attachment is files.csv:
            attachment = await files.zipped()
        if attachment.size <= limit:
            outcome = await self._send(run_id, recipient, report, attachment)
            if outcome.kind != "too_large" or attachment is not files.csv:
                return outcome
            attachment = await files.zipped()
            if attachment.size <= limit:
                outcome = await self._send(run_id, recipient, report, attachment)
                if outcome.kind != "too_large":
                    return outcome
        # Still too large: tell the recipient how to get a smaller report instead of failing silently.
        notice = await self._send_text(run_id, recipient, report, report.too_large_text(attachment.size, limit))
        return Outcome.too_large(
            size=attachment.size,
            limit=limit,
            rows=report.rows,
            notice=notice.kind,
            notice_detail=notice.detail,
        )

    async def _send(
        self,
        run_id: str,
        recipient: EmailRecipient | TelegramRecipient,
        report: Report,
        attachment: Attachment,
    ) -> Outcome:
        if isinstance(recipient, TelegramRecipient):
            return await telegram.send_document(
                self.session,
                self.settings,
                self.limiter,
                chat_id=recipient.telegram_chat_id,
                caption=summary.caption(
                    report.subject or f"{report.name} ({report.fire_date})",
                    report.summary,
                    "\n".join(x for x in (report.stale, report.message) if x) or None,
                ),
                attachment=attachment,
            )
        return await self.email(run_id, recipient.email, report, attachment, note=None)

    async def _send_text(
        self, run_id: str, recipient: EmailRecipient | TelegramRecipient, report: Report, text: str
    ) -> Outcome:
        if isinstance(recipient, TelegramRecipient):
            return await telegram.send_message(
                self.session, self.settings, self.limiter, chat_id=recipient.telegram_chat_id, text=text
            )
        return await self.email(run_id, recipient.email, report, None, note=text)

    async def email(
        self, run_id: str, to: str, report: Report, attachment: Attachment | None, note: str | None
    ) -> Outcome:
        s = self.settings
        if s.email_transport is EmailTransport.smtp:
            body = note or f"Attached: {report.filename} with {report.rows} rows ({report.fire_date})."
            if note is None:
                body = "\n\n".join(x for x in (report.stale, report.message, body) if x)
            html_body = None
            if report.summary is not None and note is None:
                body += "\n\n" + summary.plain_text(report.summary)
                html_body = (
                    (f"<p><i>{html.escape(report.stale)}</i></p>" if report.stale else "")
                    + (f"<p>{html.escape(report.message)}</p>" if report.message else "")
                    + f"<p>Attached: <b>{html.escape(report.filename)}</b> with {report.rows:,} rows "
                    f"({html.escape(report.fire_date)}).</p>" + summary.html_table(report.summary)
                )
            return await smtp.send(
                s,
                to=to,
                subject=report.subject or f"Report: {report.name} ({report.fire_date})",
                text=body,
                html=html_body,
                attachment=attachment,
            )
        variables: dict[str, object] = {
            "reportName": report.name,
            "rowCount": report.rows,
            "fireDate": report.fire_date,
            # The name of the file as attached (the zip when the format or the size calls for one).
            "fileName": attachment.filename if attachment is not None else report.filename,
        }
        if report.summary is not None:
            variables.update(summary.variables(report.summary))
        variables["staleNote"] = report.stale or ""
        variables["subject"] = report.subject or f"Report: {report.name} ({report.fire_date})"
        variables["message"] = report.message or ""
        if note:
            variables["note"] = note
        assert s.loops_transactional_id is not None
        return await loops.send(
            self.session,
            s,
            self.limiter,
            transactional_id=s.loops_transactional_id,
            run_id=run_id,
            email=to,
            variables=variables,
            attachment=attachment,
        )

    async def failure_email(self, run_id: str, to: str, schedule_name: str, status: str, text: str) -> Outcome:
        s = self.settings
        subject = f"Report {status}: {schedule_name}"
        if s.email_transport is EmailTransport.smtp:
            return await smtp.send(s, to=to, subject=subject, text=text, attachment=None)
        assert s.loops_transactional_id is not None
        return await loops.send(
            self.session,
            s,
            self.limiter,
            transactional_id=s.loops_failure_transactional_id or s.loops_transactional_id,
            # The provider's idempotency key makes a repeated notice for one run a no-op.
            run_id=f"failure:{run_id}",
            email=to,
            variables={"reportName": schedule_name, "status": status, "error": text[:500], "note": text},
            attachment=None,
        )
