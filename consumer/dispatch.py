"""Send one report to one recipient through its channel, choosing the attachment that fits the channel."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from consumer.channels import REGISTRY, email
from consumer.channels.base import Channel, Context
from consumer.channels.outcome import Attachment, Outcome, Report
from consumer.destinations import Destinations, Unavailable
from consumer.export import zip_file
from consumer.ratelimit import RateLimiter
from shared.message import AnyRecipient
from shared.settings import Settings

CONTENT_TYPES = {
    ".csv": "text/csv",
    ".ndjson": "application/x-ndjson",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


class ReportFiles:
    """The report file of one run as exported (any format), and its zip made at most once, when needed."""

    def __init__(self, path: Path, filename: str, size: int, want_zip: bool) -> None:
        # The file a channel gets unless it is zipped.
        self.original = Attachment(path, filename, CONTENT_TYPES.get(path.suffix, "application/octet-stream"), size)
        self.want_zip = want_zip
        self._zip: Attachment | None = None
        self._lock = asyncio.Lock()

    async def zipped(self) -> Attachment:
        async with self._lock:
            if self._zip is None:
                name = str(Path(self.original.filename).with_suffix(".zip"))
                target = self.original.path.with_suffix(".zip")
                size = await zip_file(self.original.path, self.original.filename, target)
                self._zip = Attachment(target, name, "application/zip", size)
            return self._zip

    async def first(self) -> Attachment:
        return await self.zipped() if self.want_zip else self.original


class Dispatcher:
    """Sends one report to one recipient through its channel, zipping or falling back to a notice when the
    file is over the channel's limit. Knows no channel's details: those live in `consumer.channels`."""

    def __init__(
        self, settings: Settings, session: aiohttp.ClientSession, limiter: RateLimiter, destinations: Destinations
    ) -> None:
        self.settings = settings
        self.session = session
        self.limiter = limiter
        self.destinations = destinations

    def context(self, run_id: str) -> Context:
        return Context(self.settings, self.session, self.limiter, self.destinations, run_id, self.destinations.pool)

    async def deliver(self, run_id: str, recipient: AnyRecipient, report: Report, files: ReportFiles) -> Outcome:
        channel = REGISTRY.get(recipient.channel)
        if channel is None:
            return Outcome.permanent(f"this consumer has no {recipient.channel!r} channel; upgrade it")
        try:
            return await self._deliver(channel, self.context(run_id), recipient, report, files)
        except Unavailable as exc:
            return Outcome.permanent(f"{recipient.channel}: {exc}")

    async def _deliver(
        self, channel: Channel, ctx: Context, recipient: AnyRecipient, report: Report, files: ReportFiles
    ) -> Outcome:
        limit = channel.limit(self.settings)
        attachment = await files.first()
        if attachment.size > limit and attachment is files.original:
            attachment = await files.zipped()
        if attachment.size <= limit:
            outcome = await channel.send_file(ctx, recipient, report, attachment)
            if outcome.kind != "too_large" or attachment is not files.original:
                return outcome
            attachment = await files.zipped()
            if attachment.size <= limit:
                outcome = await channel.send_file(ctx, recipient, report, attachment)
                if outcome.kind != "too_large":
                    return outcome
        # Still too large: tell the recipient how to get a smaller report instead of failing silently.
        notice = await channel.send_text(ctx, recipient, report, report.too_large_text(attachment.size, limit))
        return Outcome.too_large(
            size=attachment.size,
            limit=limit,
            rows=report.rows,
            notice=notice.kind,
            notice_detail=notice.detail,
        )

    async def failure_email(self, run_id: str, to: str, schedule_name: str, status: str, text: str) -> Outcome:
        return await email.failure_notice(self.context(run_id), to, schedule_name, status, text)
