"""Slack: the report uploaded with the external-upload flow and shared in a channel with a comment.

1. files.getUploadURLExternal (filename, length) gives an upload URL and a file id, for each file;
2. each file's bytes are POSTed to its URL, streamed from disk;
3. one files.completeUploadExternal (files=[{id, title}, ...], channel_id, initial_comment) shares them all
   in one message.
Until step 3 answers, nothing is visible in the channel, so a failure before it is safe to retry.
The bot token is the organization's (PUT /v1/integrations/slack), stored encrypted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aiohttp
import orjson

from consumer import summary
from consumer.channels.base import Context, headline, note
from consumer.channels.outcome import Attachment, Outcome, Report
from consumer.destinations import Destination
from consumer.retry import MIN_WAIT_SECONDS, parse_retry_after, retry_inline
from shared.errors import ReportsError
from shared.message import DestinationRecipient
from shared.redact import redact

# Errors that no retry fixes: the token, the channel or the workspace needs a person.
PERMANENT = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "no_permission",
        "missing_scope",
        "not_allowed_token_type",
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "restricted_action",
        "invalid_arguments",
        "invalid_channel",
        "ekm_access_denied",
    }
)
TOO_LARGE = frozenset({"file_too_large", "file_size_exceeded"})


class _Failed(ReportsError):
    """A step's answer ended the delivery: the outcome says how."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(str(outcome.detail.get("reason", outcome.kind)), retry_after=outcome.retry_after)
        self.outcome = outcome


def classify(step: str, status: int, body: bytes, retry_after: str | None, *, shared: bool) -> Outcome | None:
    """None when the step succeeded; otherwise what the delivery ended in."""
    if status == 429:
        wait = parse_retry_after(retry_after) or MIN_WAIT_SECONDS
        return Outcome.transient(f"slack {step}: rate limited", retry_after=wait, status=status)
    try:
        data: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        data = None
    if status >= 500 or not isinstance(data, dict):
        # Once the share was asked for, an unreadable answer leaves it unknown whether the file was posted.
        return Outcome.transient(f"slack {step}: HTTP {status}, unreadable answer", status=status, unconfirmed=shared)
    if data.get("ok"):
        return None
    error = str(data.get("error", "unknown_error"))[:100]
    if error in TOO_LARGE:
        return Outcome.too_large(provider="slack", error=error)
    if error in PERMANENT:
        return Outcome.permanent(f"slack {step}: {error}", error=error)
    return Outcome.transient(f"slack {step}: {error}", error=error)


class SlackChannel:
    name = "slack"

    async def _call(
        self, ctx: Context, token: str, method: str, form: dict[str, str], *, shared: bool = False
    ) -> dict[str, Any]:
        url = f"{ctx.settings.slack_api_url}/{method}"
        headers = {"Authorization": f"Bearer {token}"}
        try:
            async with ctx.session.post(url, data=form, headers=headers) as response:
                body = await response.read()
                failed = classify(method, response.status, body, response.headers.get("Retry-After"), shared=shared)
        except aiohttp.ClientConnectorError as exc:
            raise _Failed(Outcome.transient(f"slack {method}: cannot connect: {type(exc).__name__}")) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _Failed(
                Outcome.transient(
                    f"slack {method}: no answer: {type(exc).__name__}: {redact(str(exc))}", unconfirmed=shared
                )
            ) from exc
        if failed is not None:
            raise _Failed(failed)
        return orjson.loads(body)  # type: ignore[no-any-return]

    async def _upload(self, ctx: Context, url: str, attachment: Attachment) -> None:
        try:
            with attachment.path.open("rb") as handle:
                async with ctx.session.post(
                    url, data=handle, headers={"Content-Type": "application/octet-stream"}
                ) as response:
                    status = response.status
                    body = await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _Failed(Outcome.transient(f"slack upload: {type(exc).__name__}")) from exc
        if status == 413:
            raise _Failed(Outcome.too_large(provider="slack", status=status))
        if status == 429 or status >= 500:
            raise _Failed(Outcome.transient(f"slack upload: HTTP {status}", status=status))
        if status >= 400:
            raise _Failed(Outcome.permanent(f"slack upload: HTTP {status}: {body[:100].decode(errors='replace')}"))

    async def _attempt(self, ctx: Context, destination: Destination, call: Any) -> Outcome:
        token = await ctx.destinations.credential(destination.organization_id, self.name)

        async def once() -> Outcome:
            interval = 1.0 / ctx.settings.slack_rate_per_second
            await ctx.limiter.acquire_all([(f"slack:channel:{destination.target}", interval)])
            try:
                return await call(token)  # type: ignore[no-any-return]
            except _Failed as failed:
                return failed.outcome

        return await retry_inline(ctx.settings, once)

    async def send_files(
        self, ctx: Context, recipient: DestinationRecipient, report: Report, attachments: Sequence[Attachment]
    ) -> Outcome:
        destination = await ctx.destinations.get(recipient.destination_id)
        comment = summary.slack_text(headline(report), report.summary, note(report))

        async def call(token: str) -> Outcome:
            ids: list[str] = []
            for attachment in attachments:
                ticket = await self._call(
                    ctx,
                    token,
                    "files.getUploadURLExternal",
                    {"filename": attachment.filename, "length": str(attachment.size)},
                )
                await self._upload(ctx, str(ticket["upload_url"]), attachment)
                ids.append(str(ticket["file_id"]))
            files = orjson.dumps([{"id": i, "title": a.filename} for i, a in zip(ids, attachments, strict=True)])
            await self._call(
                ctx,
                token,
                "files.completeUploadExternal",
                {"files": files.decode(), "channel_id": destination.target, "initial_comment": comment},
                shared=True,
            )
            named = {"file_id": ids[0]} if len(ids) == 1 else {"file_ids": ids}
            return Outcome.sent(provider="slack", channel_id=destination.target, **named)

        return await self._attempt(ctx, destination, call)

    async def send_text(self, ctx: Context, recipient: DestinationRecipient, report: Report, text: str) -> Outcome:
        destination = await ctx.destinations.get(recipient.destination_id)

        async def call(token: str) -> Outcome:
            answer = await self._call(
                ctx, token, "chat.postMessage", {"channel": destination.target, "text": text[:3000]}, shared=True
            )
            return Outcome.sent(provider="slack", ts=answer.get("ts"), channel_id=destination.target)

        return await self._attempt(ctx, destination, call)


CHANNEL = SlackChannel()
