"""How the files of one report are fitted to a channel's size limit, with no server: a channel that records
what it was asked to send stands in for the provider."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast
from uuid import uuid4

from consumer.channels.outcome import Attachment, Origin, Outcome, Report
from consumer.dispatch import ReportFiles, _Fit
from shared.message import EmailRecipient
from shared.settings import Settings

RECIPIENT = EmailRecipient(channel="email", email="a@example.com")
REPORT = Report("Weekly", 1000, "2026-11-23", "weekly-2026-11-23.csv", Origin(uuid4(), uuid4()))


class Recording:
    name = "email"

    def __init__(self, limit: int, refuse_over: int | None = None, moves_to: Any = None) -> None:
        self.limit = limit
        # A provider that counts differently from us: it refuses messages over this many bytes in all.
        self.refuse_over = refuse_over
        # A provider that moved the recipient: its first answer says where to, as Telegram's migrate does.
        self.moves_to = moves_to
        self.sent: list[list[str]] = []
        self.texts: list[str] = []
        self.to: list[Any] = []

    def _moved(self, outcome: Outcome) -> Outcome:
        if self.moves_to is None or len(self.to) > 1:
            return outcome
        return dataclasses.replace(outcome, recipient=self.moves_to)

    async def send_files(self, ctx: Any, recipient: Any, report: Report, attachments: Sequence[Attachment]) -> Outcome:
        self.sent.append([a.filename for a in attachments])
        self.to.append(recipient)
        if self.refuse_over is not None and sum(a.size for a in attachments) > self.refuse_over:
            return self._moved(Outcome.too_large(provider="test"))
        return self._moved(Outcome.sent(provider="test"))

    async def send_text(self, ctx: Any, recipient: Any, report: Report, text: str) -> Outcome:
        self.texts.append(text)
        self.to.append(recipient)
        return self._moved(Outcome.sent(provider="test"))


def report_file(tmp_path: Path, name: str, data: bytes, want_zip: bool = False, several: bool = True) -> ReportFiles:
    path = tmp_path / name
    path.write_bytes(data)
    return ReportFiles(path, name, len(data), want_zip, zip_name=f"{name}.zip" if several else None)


def fit(channel: Recording) -> _Fit:
    settings = Settings.model_construct(email_max_attachment_bytes=channel.limit)
    return _Fit(cast(Any, channel), cast(Any, None), settings, RECIPIENT, REPORT)


SMALL = b"a,b\n" * 100  # 400 bytes, zips to far less
NOISE = os.urandom(5000)  # does not shrink when zipped


async def test_every_file_that_fits_goes_in_one_message(tmp_path: Path) -> None:
    channel = Recording(limit=10_000)
    files = [report_file(tmp_path, "r.xlsx", SMALL), report_file(tmp_path, "r.csv", SMALL)]
    outcome = await fit(channel).send(files)
    assert outcome.kind == "sent" and channel.sent == [["r.xlsx", "r.csv"]] and channel.texts == []


async def test_a_zipped_format_goes_as_its_zip(tmp_path: Path) -> None:
    channel = Recording(limit=10_000)
    outcome = await fit(channel).send([report_file(tmp_path, "r.csv", SMALL, want_zip=True, several=False)])
    assert outcome.kind == "sent" and channel.sent == [["r.zip"]]


async def test_a_file_over_the_limit_is_zipped_first(tmp_path: Path) -> None:
    channel = Recording(limit=300)
    files = [report_file(tmp_path, "r.csv", SMALL), report_file(tmp_path, "r.ndjson", b"{}\n" * 10)]
    outcome = await fit(channel).send(files)
    assert outcome.kind == "sent" and channel.sent == [["r.csv.zip", "r.ndjson"]]


async def test_a_provider_that_refuses_the_size_gets_the_zips_once_more(tmp_path: Path) -> None:
    channel = Recording(limit=10_000, refuse_over=700)
    files = [report_file(tmp_path, "r.xlsx", SMALL), report_file(tmp_path, "r.csv", SMALL)]
    outcome = await fit(channel).send(files)
    assert outcome.kind == "sent", (outcome, channel.sent)
    assert channel.sent == [["r.xlsx", "r.csv"], ["r.xlsx.zip", "r.csv.zip"]]


async def test_a_file_too_large_even_zipped_gets_a_notice_and_the_others_still_go(tmp_path: Path) -> None:
    channel = Recording(limit=1000)
    files = [report_file(tmp_path, "r.xlsx", NOISE), report_file(tmp_path, "r.csv", SMALL)]
    outcome = await fit(channel).send(files)
    assert channel.sent == [["r.csv"]]
    [notice] = channel.texts
    assert "over the" in notice and "Narrow" in notice
    assert outcome.kind == "too_large" and outcome.detail["limit"] == 1000 and outcome.detail["notice"] == "sent"
    assert outcome.detail["delivered"] == ["r.csv"]


async def test_one_file_too_large_is_one_notice_and_no_message(tmp_path: Path) -> None:
    channel = Recording(limit=1000)
    outcome = await fit(channel).send([report_file(tmp_path, "r.csv", NOISE)])
    assert channel.sent == [] and len(channel.texts) == 1
    assert outcome.kind == "too_large" and outcome.detail["size"] > 1000


async def test_files_too_large_together_leave_out_the_largest_until_the_rest_goes(tmp_path: Path) -> None:
    # Each file fits alone, zipped or not; the provider takes no two in one message.
    channel = Recording(limit=10_000, refuse_over=5200)
    files = [report_file(tmp_path, "r.xlsx", NOISE), report_file(tmp_path, "r.csv", SMALL)]
    outcome = await fit(channel).send(files)
    assert channel.sent == [["r.xlsx", "r.csv"], ["r.xlsx.zip", "r.csv.zip"], ["r.csv.zip"]]
    [notice] = channel.texts
    assert "as r.xlsx.zip" in notice and "over the size this channel's provider accepts" in notice
    assert outcome.kind == "too_large" and outcome.detail["delivered"] == ["r.csv.zip"]


async def test_every_notice_names_its_file(tmp_path: Path) -> None:
    channel = Recording(limit=1000)
    files = [report_file(tmp_path, "r.xlsx", NOISE), report_file(tmp_path, "r.csv", os.urandom(4000))]
    outcome = await fit(channel).send(files)
    assert channel.sent == [] and len(channel.texts) == 2
    assert " as r.xlsx.zip has " in channel.texts[0] and " as r.csv.zip has " in channel.texts[1]
    assert outcome.detail["files"] == ["r.xlsx.zip", "r.csv.zip"] and outcome.detail["notice"] == "sent"


async def test_a_recipient_moved_by_the_first_send_stays_moved_through_the_zip_retry(tmp_path: Path) -> None:
    moved = EmailRecipient(channel="email", email="moved@example.com")
    channel = Recording(limit=10_000, refuse_over=700, moves_to=moved)
    files = [report_file(tmp_path, "r.xlsx", SMALL), report_file(tmp_path, "r.csv", SMALL)]
    outcome = await fit(channel).send(files)
    assert outcome.kind == "sent" and channel.to == [RECIPIENT, moved]
    assert outcome.recipient == moved


async def test_notices_after_a_move_go_where_the_recipient_is_now(tmp_path: Path) -> None:
    moved = EmailRecipient(channel="email", email="moved@example.com")
    channel = Recording(limit=1000, moves_to=moved)
    files = [report_file(tmp_path, "r.xlsx", NOISE), report_file(tmp_path, "r.csv", os.urandom(4000))]
    outcome = await fit(channel).send(files)
    assert channel.to == [RECIPIENT, moved] and outcome.kind == "too_large" and outcome.recipient == moved
