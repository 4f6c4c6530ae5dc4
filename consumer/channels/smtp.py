"""Email over SMTP with aiosmtplib, classified per delivery.md (4xx retry, 5xx permanent, 552 too big)."""

from __future__ import annotations

import asyncio
import email.policy
from collections.abc import Sequence
from email.errors import MessageError
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any

import aiosmtplib

from consumer.channels.outcome import Attachment, Outcome
from shared.settings import Settings, SmtpTls
from shared.templates import one_line


def _classify(exc: Exception) -> Outcome:
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return Outcome.permanent(f"smtp: authentication failed ({exc.code})", code=exc.code)
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [e.code for e in exc.recipients]
        if all(400 <= c < 500 for c in codes):
            return Outcome.transient(f"smtp: recipient deferred {codes}", code=codes[0])
        return Outcome.permanent(f"smtp: recipient refused {codes}: {exc.recipients[0].message}", code=codes[0])
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        if exc.code == 552:
            return Outcome.too_large(provider="smtp", code=exc.code, message=exc.message)
        if 400 <= exc.code < 500:
            return Outcome.transient(f"smtp: {exc.code} {exc.message}", code=exc.code)
        return Outcome.permanent(f"smtp: {exc.code} {exc.message}", code=exc.code)
    return Outcome.transient(f"smtp: {type(exc).__name__}: {exc}")


def _message(
    settings: Settings,
    to: str,
    subject: str,
    text: str,
    html: str | None,
    files: Sequence[tuple[Attachment, bytes]],
    headers: dict[str, str],
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.email_from
    message["To"] = to
    message["Subject"] = subject
    for name, value in headers.items():
        message[name] = value
    message.set_content(text)
    if html is not None:
        # The plain text stays as the alternative for clients that do not show HTML.
        message.add_alternative(f"<html><body>{html}</body></html>", subtype="html")
    # One message, one attachment per file, in the order given.
    for attachment, data in files:
        maintype, _, subtype = attachment.content_type.partition("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=attachment.filename)
    return message


_LONG_LINES = email.policy.SMTP.clone(max_line_length=998)


async def send(
    settings: Settings,
    *,
    to: str,
    subject: str,
    text: str,
    attachments: Sequence[Attachment] = (),
    html: str | None = None,
    headers: dict[str, str] | None = None,
) -> Outcome:
    """One message to `to` carrying every file of `attachments` (none for a notice)."""
    loop = asyncio.get_running_loop()
    files = [(a, await loop.run_in_executor(None, a.path.read_bytes)) for a in attachments]
    envelope: dict[str, Any] = {}
    # (An internationalized address keeps aiosmtplib's SMTPUTF8 handling, and so the encoded header.)
    flat = bool(headers) and to.isascii() and settings.email_from.isascii()
    try:
        message = _message(settings, to, one_line(subject), text, html, files, headers or {})
        if flat:
            # A List-Unsubscribe URL is one long word: folded at 78 characters (aiosmtplib's own flattening) it
            # would be RFC 2047-encoded, which mailbox providers do not read as a link. RFC 5322 allows 998.
            envelope = {"sender": parseaddr(settings.email_from)[1], "recipients": [to]}
        body: EmailMessage | bytes = message.as_bytes(policy=_LONG_LINES) if flat else message
    except (ValueError, TypeError, MessageError) as exc:
        # A header the email library refuses fails this recipient for good; the run still ends with its outcome.
        return Outcome.permanent(f"smtp: the message could not be built: {type(exc).__name__}: {exc}"[:300])
    try:
        await aiosmtplib.send(
            body,
            **envelope,
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            use_tls=settings.smtp_tls is SmtpTls.tls,
            start_tls=settings.smtp_tls is SmtpTls.starttls,
            timeout=settings.smtp_timeout_seconds,
        )
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        return _classify(exc)
    return Outcome.sent(provider="smtp")
