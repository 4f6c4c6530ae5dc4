"""A schedule with two formats through Telegram and Slack: real consumer jobs (PostgreSQL, Redis, arq) against
the fakes. Both files go in one message: one sendMediaGroup album, one files.completeUploadExternal."""

from __future__ import annotations

import io
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from arq.connections import ArqRedis

from devkit.fakes.slack import FakeSlack
from shared.db import Pool
from shared.settings import Settings
from tests.support import seed
from tests.support.harness import Fakes, drain, point_at
from tests.support.runs import fire, make, notes, run_row

SLACK_TOKEN = "xoxb-1-formats-token"
# The Slack channel the fake bot is a member of.
CHANNEL = "C0REPORTS"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack({SLACK_TOKEN}, channels={CHANNEL})
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


async def two_formats(pool: Pool, *, chats: tuple[int, ...] = (), videos: int = 3) -> tuple[UUID, UUID]:
    """A schedule that delivers an XLSX and a CSV in each run."""
    org, sched = await make(pool, emails=(), chats=chats, videos=videos, format="xlsx")
    await pool.execute("UPDATE shared_report_schedules SET extra_formats = '{csv}' WHERE id = $1", sched)
    return org, sched


async def deliver(
    pool: Pool, redis: ArqRedis, s: Settings, tmp_path: Path
) -> tuple[UUID, dict[str, Any], dict[str, dict[str, Any]]]:
    """Fire the schedule and run its job: the run's id, its row and its files by format."""
    run_id = await fire(pool, redis, s)
    await drain(s, pool, redis, tmp_path)
    run = await run_row(pool, run_id)
    return run_id, run, {f["format"]: f for f in run["files"]}


# Less than the CSV of 200 rows as it is (about 19 KB), more than their XLSX (about 13 KB) and either zip.
BETWEEN = 14_000


def inside(data: bytes) -> str:
    """The one file name inside a zip."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        [name] = archive.namelist()
    return name


async def test_telegram_gets_both_formats_in_one_album(
    pool: Pool, redis: ArqRedis, settings: Settings, fx: Fakes, tmp_path: Path
) -> None:
    s = point_at(settings, fx)
    await two_formats(pool, chats=(42,))
    run_id, run, files = await deliver(pool, redis, s, tmp_path)
    assert run["status"] == "sent" and len(run["files"]) == 2 and set(files) == {"xlsx", "csv"}
    # One request, one album of two documents, the schedule's format first; the caption under the last.
    assert fx.telegram.requests == 1
    [album] = fx.telegram.media_groups(42)
    assert fx.telegram.documents(42) == album
    first, last = album
    assert (first["document"]["filename"], first["document"]["content_type"]) == (files["xlsx"]["filename"], XLSX)
    assert (last["document"]["filename"], last["document"]["content_type"]) == (files["csv"]["filename"], "text/csv")
    assert last["document"]["data"].startswith(b"title,video_url,") and first["document"]["data"][:2] == b"PK"
    for doc, fmt in ((first, "xlsx"), (last, "csv")):
        assert (doc["document"]["size"], doc["document"]["sha256"]) == (files[fmt]["bytes"], files[fmt]["sha256"])
    assert first["caption"] is None
    assert last["caption"].startswith("<b>Report (2026-11-16)</b>") and last["parse_mode"] == "HTML"
    [note] = await notes(pool, run_id)
    assert note["status"] == "sent" and len(note["payload"]["message_ids"]) == 2


async def test_an_album_to_a_group_that_became_a_supergroup_lands_in_the_new_chat(
    pool: Pool, redis: ArqRedis, settings: Settings, fx: Fakes, tmp_path: Path
) -> None:
    s = point_at(settings, fx)
    await two_formats(pool, chats=(-100,))
    fx.telegram.migrations[-100] = -1009999
    run_id, run, files = await deliver(pool, redis, s, tmp_path)
    assert (run["status"], run["attempts"]) == ("sent", 1)
    # The old chat's answer named the supergroup; the album was sent there once, whole.
    assert fx.telegram.requests == 2 and fx.telegram.documents(-100) == []
    [album] = fx.telegram.media_groups(-1009999)
    assert [d["document"]["filename"] for d in album] == [f["filename"] for f in run["files"]]
    [note] = await notes(pool, run_id)
    assert (note["status"], note["telegram_chat_id"]) == ("sent", -1009999)
    assert note["payload"]["migrated_from"] == -100
    assert await pool.fetchval("SELECT telegram_chat_id FROM shared_report_schedule_recipients") == -1009999


async def test_a_413_for_the_album_sends_both_files_zipped_in_one_album(
    pool: Pool, redis: ArqRedis, settings: Settings, fx: Fakes, tmp_path: Path
) -> None:
    s = point_at(settings, fx)
    await two_formats(pool, chats=(42,), videos=200)
    # Telegram takes the XLSX and the zips but not the CSV as it is.
    fx.telegram.max_upload_bytes = BETWEEN
    run_id, run, files = await deliver(pool, redis, s, tmp_path)
    assert files["csv"]["bytes"] > BETWEEN > files["xlsx"]["bytes"], files
    assert run["status"] == "sent"
    # The first album was refused whole (413: nothing recorded), the second carried both files zipped.
    assert fx.telegram.requests == 2
    [album] = fx.telegram.media_groups(42)
    assert all(d["document"]["content_type"] == "application/zip" for d in album)
    assert album[-1]["caption"] and album[0]["caption"] is None
    assert [inside(d["document"]["data"]) for d in album] == [files["xlsx"]["filename"], files["csv"]["filename"]]


async def test_a_file_over_the_limit_even_zipped_gets_a_notice_and_the_other_file_goes(
    pool: Pool, redis: ArqRedis, settings: Settings, fx: Fakes, tmp_path: Path
) -> None:
    # The CSV fits once zipped (well under 4 KB); an XLSX, already compressed, does not.
    s = point_at(settings, fx, telegram_max_bytes=4_000)
    await two_formats(pool, chats=(42,), videos=200)
    run_id, run, files = await deliver(pool, redis, s, tmp_path)
    assert files["csv"]["bytes"] > 4_000 and files["xlsx"]["bytes"] > 4_000, files
    # One file left: a plain sendDocument (an album needs two), with the caption; then the notice for the XLSX.
    assert [r["method"] for r in fx.telegram.received] == ["sendDocument", "sendMessage"]
    [doc] = fx.telegram.documents(42)
    assert doc["document"]["filename"] == "weekly-views-2026-11-16.csv.zip" and doc["document"]["size"] <= 4_000
    assert inside(doc["document"]["data"]) == files["csv"]["filename"]
    assert doc["caption"].startswith("<b>Report (2026-11-16)</b>")
    notice = fx.telegram.received[1]
    assert notice["chat_id"] == 42 and "over the" in notice["text"] and "Narrow" in notice["text"]
    [note] = await notes(pool, run_id)
    assert note["payload"]["outcome"] == "too_large" and note["payload"]["notice"] == "sent"
    assert note["payload"]["size"] > note["payload"]["limit"] == 4_000


async def slack_schedule(pool: Pool, settings: Settings, videos: int = 3) -> UUID:
    org, sched = await two_formats(pool, videos=videos)
    vault = settings.vault()
    await seed.channel_credential(pool, vault, org, "slack", SLACK_TOKEN)
    await seed.destination(pool, vault, org, sched, "slack", CHANNEL)
    return sched


async def test_slack_shares_both_formats_in_one_message(
    pool: Pool, redis: ArqRedis, settings: Settings, fx: Fakes, slack: FakeSlack, tmp_path: Path
) -> None:
    s = point_at(settings, fx, slack_api_url=slack.api_url)
    await slack_schedule(pool, settings)
    run_id, run, files = await deliver(pool, redis, s, tmp_path)
    assert run["status"] == "sent" and len(run["files"]) == 2
    # Two upload tickets, two uploads, one completion naming both files.
    assert len(slack.uploads) == 2
    [share] = slack.files(CHANNEL)
    assert [(f["title"], f["filename"], f["size"], f["sha256"]) for f in share["files"]] == [
        (f["filename"], f["filename"], f["bytes"], f["sha256"]) for f in run["files"]
    ]
    assert share["files"][0]["filename"].endswith(".xlsx") and share["files"][1]["filename"].endswith(".csv")
    assert share["initial_comment"].startswith("*Report (2026-11-16)*")
    [note] = await notes(pool, run_id)
    assert note["status"] == "sent" and note["payload"]["file_ids"] == [f["id"] for f in share["files"]]


async def test_slack_refusing_one_file_as_too_large_shares_both_zipped_once(
    pool: Pool, redis: ArqRedis, settings: Settings, fx: Fakes, slack: FakeSlack, tmp_path: Path
) -> None:
    s = point_at(settings, fx, slack_api_url=slack.api_url)
    await slack_schedule(pool, settings, videos=200)
    slack.max_upload_bytes = BETWEEN
    run_id, run, files = await deliver(pool, redis, s, tmp_path)
    assert files["csv"]["bytes"] > BETWEEN > files["xlsx"]["bytes"], files
    assert run["status"] == "sent"
    # The XLSX uploaded first was never completed, so nothing showed; then one message with both zips.
    [share] = slack.files()
    assert [inside(f["data"]) for f in share["files"]] == [files["xlsx"]["filename"], files["csv"]["filename"]]
    assert len(slack.uploads) == 3 and share["files"][0]["id"] != next(iter(slack.uploads))
