"""A schedule with two formats through the real consumer process: each recipient gets one email carrying both
files, through Loops (the fake API) and through SMTP (a real aiosmtpd server)."""

from __future__ import annotations

import asyncio
import email
import email.policy
import hashlib
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from arq.connections import ArqRedis

from devkit.fakes.loops import FakeLoops
from producer.tick import tick
from shared.db import Pool
from shared.settings import Settings
from tests.support import seed
from tests.support.outcomes import finished, outcomes
from tests.support.processes import env_for, start
from tests.support.reports import video
from tests.support.servers import free_port

pytestmark = pytest.mark.e2e


@asynccontextmanager
async def consumer(settings: Settings, **env: str) -> AsyncIterator[None]:
    """A real consumer process, stopped with SIGTERM; it must exit cleanly."""
    process = await start("consumer", env_for(settings, CONSUMER_PORT="0", **env))
    try:
        yield
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(process.communicate(), 30)
        assert process.returncode == 0, err.decode()[-3000:]


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 OK"


def received(loops: FakeLoops, box: Mailbox) -> list[tuple[str, list[tuple[str, bytes]]]]:
    """Each email that arrived, through either: to whom, and its attachments (name, bytes) in order."""
    mails = [(m["email"], [(a["filename"], a["data"]) for a in m["attachments"]]) for m in loops.sent]
    for message in box.messages:
        files = []
        for part in message.iter_attachments():
            data = part.get_payload(decode=True)
            assert isinstance(data, bytes)
            files.append((str(part.get_filename()), data))
        mails.append((str(message["To"]), files))
    return mails


@pytest.mark.parametrize("transport", ["loops", "smtp"])
async def test_one_email_carries_both_files(
    pool: Pool, redis: ArqRedis, settings: Settings, tmp_path: Path, transport: str
) -> None:
    loops, box = FakeLoops(rate_per_second=None), Mailbox()
    await loops.start()
    port = free_port()
    smtp = Controller(box, hostname="127.0.0.1", port=port, data_size_limit=50 * 1024 * 1024)
    smtp.start()
    org = await seed.organization(pool)
    for i in range(40):
        await video(pool, org, title=f"video {i}")
    link = await seed.shared_link(pool, org, slug="two-formats")
    schedule = await seed.schedule(
        pool,
        org,
        link,
        name="two formats",
        next_run_at=datetime.now(UTC) - timedelta(seconds=1),
        format="xlsx",
        extra_formats=["csv"],
    )
    for address in ("a@example.com", "b@example.com"):
        await seed.recipient(pool, schedule, email=address)
    mail = {"LOOPS_API_URL": loops.url}
    if transport == "smtp":
        mail = {"EMAIL_TRANSPORT": "smtp", "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port), "SMTP_TLS": "none"}
    try:
        async with consumer(settings, SPOOL_DIR=str(tmp_path / "spool"), **mail):
            await tick(pool, redis, settings)
            [run] = await finished(pool, schedule)
    finally:
        smtp.stop()
        await loops.stop()
    assert (run["status"], run["attempts"]) == ("sent", 1), run
    assert {k: v["outcome"] for k, v in (await outcomes(pool, run["id"])).items()} == {
        "a@example.com": "sent",
        "b@example.com": "sent",
    }
    stem = run["filename"].removesuffix(".xlsx")
    assert [(f["format"], f["filename"]) for f in run["files"]] == [("xlsx", f"{stem}.xlsx"), ("csv", f"{stem}.csv")]
    files = [(f["filename"], f["bytes"], f["sha256"]) for f in run["files"]]
    # One email per recipient, each with both files, byte for byte the run's.
    mails = received(loops, box)
    assert loops.requests == (2 if transport == "loops" else 0)
    assert sorted(to for to, _ in mails) == ["a@example.com", "b@example.com"]
    for _, attached in mails:
        assert [(name, len(data), hashlib.sha256(data).hexdigest()) for name, data in attached] == files
