"""Send one report to one recipient through its channel, choosing for each file the attachment that fits."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
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
    """One report file of a run as exported (any format), and its zip made at most once, when needed."""

    def __init__(
        self, path: Path, filename: str, size: int, want_zip: bool, *, zip_name: str | None = None, sha256: str = ""
    ) -> None:
        # The file a channel gets unless it is zipped.
        content_type = CONTENT_TYPES.get(path.suffix, "application/octet-stream")
        self.original = Attachment(path, filename, content_type, size, sha256)
        self.want_zip = want_zip
        # Beside other formats the zip keeps its format's extension (r.csv.zip), so no two zips share a name.
        self.zip_name = zip_name or str(Path(filename).with_suffix(".zip"))
        self._zip: Attachment | None = None
        self._lock = asyncio.Lock()

    @property
    def delivered_name(self) -> str:
        """The file's name as its format delivers it (the zip's, for the .zip formats)."""
        return self.zip_name if self.want_zip else self.original.filename

    async def zipped(self) -> Attachment:
        async with self._lock:
            if self._zip is None:
                target = self.original.path.parent / self.zip_name
                size = await zip_file(self.original.path, self.original.filename, target)
                self._zip = Attachment(target, self.zip_name, "application/zip", size, self.original.content_sha256)
            return self._zip

    async def first(self) -> Attachment:
        return await self.zipped() if self.want_zip else self.original

    async def fitting(self, limit: int) -> Attachment:
        """The attachment to try first: as the format delivers it, zipped when that is over `limit`."""
        attachment = await self.first()
        if attachment.size > limit and attachment is self.original:
            attachment = await self.zipped()
        return attachment


class Dispatcher:
    """Sends one report to one recipient through its channel, all of its files in one message, zipping a file
    or falling back to a notice when it is over the channel's limit. Knows no channel's details: those live in
    `consumer.channels`."""

    def __init__(
        self, settings: Settings, session: aiohttp.ClientSession, limiter: RateLimiter, destinations: Destinations
    ) -> None:
        self.settings = settings
        self.session = session
        self.limiter = limiter
        self.destinations = destinations

    def context(self, run_id: str) -> Context:
        return Context(self.settings, self.session, self.limiter, self.destinations, run_id, self.destinations.pool)

    async def deliver(
        self, run_id: str, recipient: AnyRecipient, report: Report, files: Sequence[ReportFiles]
    ) -> Outcome:
        channel = REGISTRY.get(recipient.channel)
        if channel is None:
            return Outcome.permanent(f"this consumer has no {recipient.channel!r} channel; upgrade it")
        try:
            return await _Fit(channel, self.context(run_id), self.settings, recipient, report).send(files)
        except Unavailable as exc:
            return Outcome.permanent(f"{recipient.channel}: {exc}")

    async def failure_email(self, run_id: str, to: str, schedule_name: str, status: str, text: str) -> Outcome:
        return await email.failure_notice(self.context(run_id), to, schedule_name, status, text)


class _Fit:
    """One recipient's delivery: every file that fits goes in one message; when the provider finds the message
    too large, the files are zipped and it is tried once more, then the largest file is left out until the
    rest goes; a file left out gets a notice that says how to receive a smaller report."""

    def __init__(
        self, channel: Channel, ctx: Context, settings: Settings, recipient: AnyRecipient, report: Report
    ) -> None:
        self.channel, self.ctx, self.recipient, self.report = channel, ctx, recipient, report
        self.limit = settings.max_file_bytes(channel.name)
        self.moved: AnyRecipient | None = None

    async def send(self, files: Sequence[ReportFiles]) -> Outcome:
        chosen = [(f, await f.fitting(self.limit)) for f in files]
        fits = [(f, a) for f, a in chosen if a.size <= self.limit]
        over = [a for _, a in chosen if a.size > self.limit]
        if not fits:
            return await self._notices(over, [])
        outcome = await self._send([a for _, a in fits])
        if outcome.kind == "too_large" and any(a is f.original for f, a in fits):
            # The provider counts differently (an encoding, or all files together): zip and try once more.
            zipped = [(f, await f.zipped()) for f, _ in fits]
            fits = [(f, a) for f, a in zipped if a.size <= self.limit]
            over += [a for _, a in zipped if a.size > self.limit]
            outcome = await self._send([a for _, a in fits]) if fits else outcome
        while outcome.kind == "too_large" and len(fits) > 1:
            # Too large together: the largest file waits for a notice, the others go.
            largest = max(fits, key=lambda pair: pair[1].size)
            fits.remove(largest)
            over.append(largest[1])
            outcome = await self._send([a for _, a in fits])
        if outcome.kind == "too_large":
            return await self._notices(over + [a for _, a in fits], [])
        if outcome.kind != "sent" or not over:
            return self._where(outcome)
        # The recipient has part of the report: the notice says how to get the rest.
        return await self._notices(over, [a.filename for _, a in fits])

    def _where(self, outcome: Outcome) -> Outcome:
        """The outcome with the recipient as the provider now knows it, when any send moved it."""
        if outcome.recipient is not None:
            # The provider moved the recipient (a group became a supergroup): what follows goes where it is now.
            self.recipient = self.moved = outcome.recipient
        return dataclasses.replace(outcome, recipient=self.moved) if self.moved is not None else outcome

    async def _send(self, attachments: list[Attachment]) -> Outcome:
        return self._where(await self.channel.send_files(self.ctx, self.recipient, self.report, attachments))

    async def _notices(self, over: list[Attachment], delivered: list[str]) -> Outcome:
        # Still too large: tell the recipient how to get a smaller report instead of failing silently.
        notices = []
        for attachment in over:
            text = self.report.too_large_text(attachment.filename, attachment.size, self.limit)
            notices.append(self._where(await self.channel.send_text(self.ctx, self.recipient, self.report, text)))
        # The notice that did not go, if one did not; else the last.
        notice = next((n for n in notices if n.kind != "sent"), notices[-1])
        outcome = Outcome.too_large(
            size=over[-1].size,
            limit=self.limit,
            rows=self.report.rows,
            notice=notice.kind,
            notice_detail=notice.detail,
            **({"files": [a.filename for a in over]} if len(over) > 1 else {}),
            **({"delivered": delivered} if delivered else {}),
        )
        return self._where(outcome)
