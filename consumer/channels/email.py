"""Email: through Loops (a transactional template with variables) or SMTP (HTML and plain text)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

from consumer import summary
from consumer.channels import loops, smtp
from consumer.channels.base import Context, notice_id
from consumer.channels.outcome import Attachment, Outcome, Report
from shared import unsubscribe
from shared.message import EmailRecipient
from shared.settings import EmailTransport
from shared.templates import one_line


def subject(report: Report) -> str:
    return one_line(report.subject or f"Report: {report.name} ({report.fire_date})")


def attached(report: Report, attachments: Sequence[Attachment]) -> list[str]:
    """The files an email's text names: as attached, except that the report's own file zipped for its size
    keeps the report's name, as it always has."""
    own_zip = str(Path(report.filename).with_suffix(".zip"))
    if len(attachments) == 1 and attachments[0].filename == own_zip:
        return [report.filename]
    return [a.filename for a in attachments] or [report.filename]


async def send(ctx: Context, to: str, report: Report, attachments: Sequence[Attachment], note: str | None) -> Outcome:
    """One email to `to`: the report with every file of `attachments` in it, or `note` (a notice) alone."""
    s = ctx.settings
    # RFC 8058 one-click unsubscribe, scoped to this schedule and address (none without PUBLIC_BASE_URL).
    leave = unsubscribe.link(s, report.origin.organization_id, report.origin.schedule_id, to)
    if s.email_transport is EmailTransport.smtp:
        names = attached(report, attachments)
        body = note or f"Attached: {', '.join(names)} with {report.rows} rows ({report.fire_date})."
        if note is None:
            body = "\n\n".join(x for x in (report.stale, report.message, body) if x)
        html_body = None
        if report.summary is not None and note is None:
            body += "\n\n" + summary.plain_text(report.summary)
            bold = ", ".join(f"<b>{html.escape(n)}</b>" for n in names)
            html_body = (
                (f"<p><i>{html.escape(report.stale)}</i></p>" if report.stale else "")
                + (f"<p>{html.escape(report.message)}</p>" if report.message else "")
                + f"<p>Attached: {bold} with {report.rows:,} rows "
                f"({html.escape(report.fire_date)}).</p>" + summary.html_table(report.summary)
            )
        headers = None
        if leave is not None:
            body += f"\n\nUnsubscribe: {leave}"
            if html_body is not None:
                html_body += f'<p><a href="{html.escape(leave)}">Unsubscribe</a></p>'
            headers = {"List-Unsubscribe": f"<{leave}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
        return await smtp.send(
            s, to=to, subject=subject(report), text=body, html=html_body, attachments=attachments, headers=headers
        )
    names = [a.filename for a in attachments] or [report.filename]
    variables: dict[str, object] = {
        "reportName": report.name,
        "rowCount": report.rows,
        "fireDate": report.fire_date,
        # The names of the files as attached (a zip when the format or the size calls for one): the first, and
        # all of them for a template that lists every file.
        "fileName": names[0],
        "fileNames": ", ".join(names),
    }
    if report.summary is not None:
        variables.update(summary.variables(report.summary))
    variables["staleNote"] = report.stale or ""
    variables["subject"] = subject(report)
    variables["message"] = report.message or ""
    # The template shows it as a link (and Loops can set the List-Unsubscribe header from it).
    variables["unsubscribeUrl"] = leave or ""
    if note:
        variables["note"] = note
    assert s.loops_transactional_id is not None
    return await loops.send(
        ctx.session,
        s,
        ctx.limiter,
        transactional_id=s.loops_transactional_id,
        # A notice after part of the report went is another email: Loops would drop it under the report's key.
        run_id=f"{ctx.run_id}:{notice_id(note)}" if note else ctx.run_id,
        email=to,
        variables=variables,
        attachments=attachments,
    )


async def failure_notice(ctx: Context, to: str, schedule_name: str, status: str, text: str) -> Outcome:
    s = ctx.settings
    title = one_line(f"Report {status}: {schedule_name}")
    if s.email_transport is EmailTransport.smtp:
        return await smtp.send(s, to=to, subject=title, text=text)
    assert s.loops_transactional_id is not None
    return await loops.send(
        ctx.session,
        s,
        ctx.limiter,
        transactional_id=s.loops_failure_transactional_id or s.loops_transactional_id,
        # The provider's idempotency key makes a repeated notice for one run a no-op.
        run_id=f"failure:{ctx.run_id}",
        email=to,
        variables={"reportName": schedule_name, "status": status, "error": text[:500], "note": text},
    )


class EmailChannel:
    name = "email"

    async def send_files(
        self, ctx: Context, recipient: EmailRecipient, report: Report, attachments: Sequence[Attachment]
    ) -> Outcome:
        return await send(ctx, recipient.email, report, attachments, note=None)

    async def send_text(self, ctx: Context, recipient: EmailRecipient, report: Report, text: str) -> Outcome:
        return await send(ctx, recipient.email, report, (), note=text)


CHANNEL = EmailChannel()
