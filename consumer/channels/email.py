"""Email: through Loops (a transactional template with variables) or SMTP (HTML and plain text)."""

from __future__ import annotations

import html
from collections.abc import Sequence

from consumer import summary
from consumer.channels import loops, smtp
from consumer.channels.base import Context
from consumer.channels.outcome import Attachment, Outcome, Report
from shared import unsubscribe
from shared.message import EmailRecipient
from shared.settings import EmailTransport, Settings
from shared.templates import one_line


def subject(report: Report) -> str:
    return one_line(report.subject or f"Report: {report.name} ({report.fire_date})")


async def send(ctx: Context, to: str, report: Report, attachment: Attachment | None, note: str | None) -> Outcome:
    s = ctx.settings
    # RFC 8058 one-click unsubscribe, scoped to this schedule and address (none without PUBLIC_BASE_URL).
    leave = unsubscribe.link(s, report.organization_id, report.schedule_id, to)
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
        headers = None
        if leave is not None:
            body += f"\n\nUnsubscribe: {leave}"
            if html_body is not None:
                html_body += f'<p><a href="{html.escape(leave)}">Unsubscribe</a></p>'
            headers = {"List-Unsubscribe": f"<{leave}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
        return await smtp.send(
            s, to=to, subject=subject(report), text=body, html=html_body, attachment=attachment, headers=headers
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
        run_id=ctx.run_id,
        email=to,
        variables=variables,
        attachment=attachment,
    )


async def failure_notice(ctx: Context, to: str, schedule_name: str, status: str, text: str) -> Outcome:
    s = ctx.settings
    title = one_line(f"Report {status}: {schedule_name}")
    if s.email_transport is EmailTransport.smtp:
        return await smtp.send(s, to=to, subject=title, text=text, attachment=None)
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
        attachment=None,
    )


class EmailChannel:
    name = "email"

    def limit(self, settings: Settings) -> int:
        return settings.email_max_attachment_bytes

    async def send_files(
        self, ctx: Context, recipient: EmailRecipient, report: Report, attachments: Sequence[Attachment]
    ) -> Outcome:
        (attachment,) = attachments
        return await send(ctx, recipient.email, report, attachment, note=None)

    async def send_text(self, ctx: Context, recipient: EmailRecipient, report: Report, text: str) -> Outcome:
        return await send(ctx, recipient.email, report, None, note=text)


CHANNEL = EmailChannel()
