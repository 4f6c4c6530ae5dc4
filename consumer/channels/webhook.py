"""Webhooks: the report POSTed as multipart (a JSON metadata part and one part per file), signed the Standard
Webhooks way so a receiver can verify it and drop repeats by id.

    webhook-id: <run id>.<destination id>      the same for every retry of one delivery
    webhook-timestamp: <unix seconds>
    webhook-signature: v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>

The key is the base64 after "whsec_" in the destination's secret. 2xx is sent, 410 removes nothing but
fails for good (the receiver says the endpoint is gone), 413 is too large, 408/429/5xx and timeouts are
retried (429 after its Retry-After). Redirects are not followed. Addresses are checked before connecting
(shared.outbound): only public ones are called unless OUTBOUND_ALLOW_PRIVATE.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
import socket
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from consumer.channels.base import Context, notice_id
from consumer.channels.outcome import Attachment, Outcome, Report
from consumer.retry import MIN_WAIT_SECONDS, parse_retry_after, retry_inline
from shared.message import DestinationRecipient
from shared.outbound import HINT, Blocked, check_answers, check_url
from shared.redact import redact
from shared.settings import Settings

_CHUNK = 256 * 1024


class GuardedResolver(AbstractResolver):
    """Resolves like the default resolver, then refuses any answer that is not a public address, so the
    connection goes to exactly the address that was checked (no second lookup to rebind)."""

    def __init__(self, allow_private: bool) -> None:
        self.allow_private = allow_private
        self._inner = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        answers = await self._inner.resolve(host, port, family)
        check_answers(host, [a["host"] for a in answers], self.allow_private)
        return answers

    async def close(self) -> None:
        await self._inner.close()


def signing_key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix("whsec_"))


def _part(boundary: str, name: str, content_type: str, filename: str | None = None) -> bytes:
    """The opening of one part: its boundary line and headers."""
    disposition = f'form-data; name="{name}"'
    if filename is not None:
        disposition += '; filename="' + filename.replace('"', "") + '"'
    return f"--{boundary}\r\nContent-Disposition: {disposition}\r\nContent-Type: {content_type}\r\n\r\n".encode()


class _Body:
    """A multipart body streamed from disk, signed over exactly the bytes that are sent: the `metadata` part,
    then one `file` part per attachment (in order), or a `text` part when there is none."""

    def __init__(self, metadata: dict[str, Any], attachments: Sequence[Attachment], text: str | None) -> None:
        self.boundary = b = "report-" + secrets.token_hex(12)
        self.head = _part(b, "metadata", "application/json") + orjson.dumps(metadata) + b"\r\n"
        # Each file, and what follows its bytes: the next file's opening, or nothing after the last.
        self.files: list[tuple[Attachment, bytes]] = []
        if attachments:
            openings = [_part(b, "file", a.content_type, a.filename) for a in attachments]
            self.head += openings[0]
            follows = [b"\r\n" + o for o in openings[1:]] + [b""]
            self.files = list(zip(attachments, follows, strict=True))
            self.tail = f"\r\n--{b}--\r\n".encode()
        else:
            self.head += _part(b, "text", "text/plain; charset=utf-8") + (text or "").encode()
            self.head += f"\r\n--{b}--\r\n".encode()
            self.tail = b""
        self.length = len(self.head) + sum(a.size + len(after) for a, after in self.files) + len(self.tail)

    async def chunks(self) -> AsyncIterator[bytes]:
        yield self.head
        loop = asyncio.get_running_loop()
        for attachment, after in self.files:
            with attachment.path.open("rb") as handle:
                while chunk := await loop.run_in_executor(None, handle.read, _CHUNK):
                    yield chunk
            if after:
                yield after
        if self.tail:
            yield self.tail

    async def signature(self, key: bytes, message_id: str, timestamp: int) -> str:
        mac = hmac.new(key, f"{message_id}.{timestamp}.".encode(), hashlib.sha256)
        async for chunk in self.chunks():
            mac.update(chunk)
        return "v1," + base64.b64encode(mac.digest()).decode()


def classify(status: int, retry_after: str | None, body: bytes) -> Outcome:
    text = body[:200].decode(errors="replace")
    if 200 <= status < 300:
        return Outcome.sent(provider="webhook", http_status=status)
    if status == 410:
        return Outcome.permanent("webhook: the receiver answered 410 Gone; remove this destination", http_status=status)
    if status == 413:
        return Outcome.too_large(provider="webhook", http_status=status)
    if status == 429:
        wait = parse_retry_after(retry_after) or MIN_WAIT_SECONDS
        return Outcome.transient("webhook: 429 Too Many Requests", retry_after=wait, http_status=status)
    if status == 408 or status >= 500:
        # The receiver may have acted before failing: the webhook-id lets it drop the retry.
        return Outcome.transient(f"webhook: HTTP {status}: {text}", http_status=status, unconfirmed=status >= 500)
    if 300 <= status < 400:
        return Outcome.permanent(f"webhook: HTTP {status} redirect; redirects are not followed, use the final URL")
    return Outcome.permanent(f"webhook: HTTP {status}: {text}", http_status=status)


async def post(settings: Settings, url: str, secret: str, message_id: str, body: _Body) -> Outcome:
    allow = settings.outbound_allow_private
    try:
        check_url(url, allow)
    except Blocked as exc:
        return Outcome.permanent(f"webhook: {exc}; {HINT}")
    key = signing_key(secret)
    timestamp = int(time.time())
    headers = {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": await body.signature(key, message_id, timestamp),
        "Content-Type": f"multipart/form-data; boundary={body.boundary}",
        "Content-Length": str(body.length),
        "User-Agent": "scheduled-reports-webhook/1",
    }
    timeout = aiohttp.ClientTimeout(total=settings.webhook_timeout_seconds, connect=10)
    connector = aiohttp.TCPConnector(resolver=GuardedResolver(allow), use_dns_cache=False)
    try:
        async with (
            aiohttp.ClientSession(connector=connector, timeout=timeout) as session,
            session.post(url, data=body.chunks(), headers=headers, allow_redirects=False) as response,
        ):
            return classify(response.status, response.headers.get("Retry-After"), await response.content.read(200))
    except aiohttp.ClientConnectorError as exc:
        if isinstance(exc.os_error, Blocked) or isinstance(exc.__cause__, Blocked):
            return Outcome.permanent(f"webhook: {exc.os_error}; {HINT}")
        return Outcome.transient(f"webhook: cannot connect: {type(exc).__name__}: {redact(str(exc))[:200]}")
    except Blocked as exc:
        return Outcome.permanent(f"webhook: {exc}; {HINT}")
    except (aiohttp.ClientError, TimeoutError) as exc:
        return Outcome.transient(f"webhook: no answer: {type(exc).__name__}", unconfirmed=True)


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


async def describe(attachments: Sequence[Attachment]) -> list[dict[str, Any]]:
    """What the metadata says of each file part, in the order of the parts; the digest is of the part's bytes
    as sent (a zip's own), read from disk in a thread."""
    loop = asyncio.get_running_loop()
    return [
        {
            "filename": a.filename,
            "content_type": a.content_type,
            "bytes": a.size,
            "sha256": await loop.run_in_executor(None, _sha256, a.path),
        }
        for a in attachments
    ]


def metadata(
    report: Report, recipient: DestinationRecipient, files: list[dict[str, Any]], event: str, sha256: str
) -> dict[str, Any]:
    first = files[0] if files else None
    return {
        "type": event,
        "schedule_id": str(report.origin.schedule_id),
        "schedule_name": report.name,
        "run_id": str(report.origin.run_id),
        "fire_at": report.origin.fire_at,
        "rows": report.rows,
        # Of the first file part.
        "bytes": first["bytes"] if first else None,
        "filename": first["filename"] if first else None,
        # Of the first file part's exported file; for a zip it is the digest of the file inside it.
        "sha256": sha256,
        "destination_id": str(recipient.destination_id),
        # Every file part, in order (none in a notice).
        "files": files,
    }


class WebhookChannel:
    name = "webhook"

    async def _send(self, ctx: Context, recipient: DestinationRecipient, body: _Body, tail: str = "") -> Outcome:
        destination = await ctx.destinations.get(recipient.destination_id)
        if destination.secret is None:
            return Outcome.permanent("webhook: the destination has no signing secret; add it again with one")
        message_id = f"{ctx.run_id}.{recipient.destination_id}{tail}"
        secret = destination.secret
        return await retry_inline(
            ctx.settings, lambda: post(ctx.settings, destination.config["url"], secret, message_id, body)
        )

    async def send_files(
        self, ctx: Context, recipient: DestinationRecipient, report: Report, attachments: Sequence[Attachment]
    ) -> Outcome:
        files = await describe(attachments)
        sha256 = attachments[0].content_sha256 if attachments else report.origin.sha256
        body = _Body(metadata(report, recipient, files, "report.delivered", sha256), attachments, None)
        return await self._send(ctx, recipient, body)

    async def send_text(self, ctx: Context, recipient: DestinationRecipient, report: Report, text: str) -> Outcome:
        body = _Body(metadata(report, recipient, [], "report.notice", report.origin.sha256), (), text)
        # Its own id: a receiver that drops a repeated webhook-id would drop a notice sent after the report.
        return await self._send(ctx, recipient, body, f".{notice_id(text)}")


CHANNEL = WebhookChannel()
