"""Slack, SFTP and webhook delivery through the real consumer process, against the fake Slack API, a real
SFTP server and a real webhook receiver: success, each error class, retry, too large, replay, secrets."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncssh
import pytest
from arq.connections import ArqRedis

from devkit.fakes.sftp import SftpServer
from devkit.fakes.slack import FakeSlack
from devkit.fakes.webhook import WebhookReceiver
from producer.tick import tick
from shared import deadletters
from shared.db import Pool
from shared.settings import Settings
from tests.support import seed
from tests.support.destinations import SFTP_PASSWORD, WEBHOOK_SECRET
from tests.support.outcomes import due, finished, outcomes
from tests.support.processes import consumer
from tests.support.reports import video

pytestmark = pytest.mark.e2e

SLACK_TOKEN = "xoxb-1111-2222-secret-slack-token"


async def stored_text(pool: Pool) -> str:
    """Everything the service wrote about runs and deliveries, as one text to search for secrets."""
    parts = []
    for table in ("shared_report_runs", "shared_report_notifications", "shared_report_dead_letters"):
        parts += [str(dict(r)) for r in await pool.fetch(f"SELECT * FROM {table}")]
    parts += [str(r["config"]) + str(r["secret"]) for r in await pool.fetch("SELECT * FROM shared_report_destinations")]
    parts += [str(r["secret"]) for r in await pool.fetch("SELECT * FROM shared_report_channel_credentials")]
    return "\n".join(parts)


async def test_slack_through_the_consumer_process(
    pool: Pool, redis: ArqRedis, settings: Settings, tmp_path: Path
) -> None:
    vault = settings.vault()
    slack = FakeSlack({SLACK_TOKEN}, channels={"C0REPORTS", "C0FLAKY", "C0OUTSIDE"})
    slack.outside.add("C0OUTSIDE")
    slack.failing.add("C0FLAKY")
    slack.rate_limit_next, slack.retry_after = 2, 1
    await slack.start()
    org = await seed.organization(pool)
    await seed.channel_credential(pool, vault, org, "slack", SLACK_TOKEN)
    await video(pool, org, title='Launch <script>alert("x")</script> & more')
    main = await due(pool, org, "slack-main")
    for target in ("C0REPORTS", "C0OUTSIDE", "C0MISSING", "C0FLAKY"):
        await seed.destination(pool, vault, org, main, "slack", target)
    other = await seed.organization(pool)
    await seed.channel_credential(pool, vault, other, "slack", "xoxb-9999-revoked-token")
    await video(pool, other)
    revoked = await due(pool, other, "slack-revoked")
    await seed.destination(pool, vault, other, revoked, "slack", "C0REPORTS")
    try:
        async with consumer(settings, SLACK_API_URL=slack.api_url, SPOOL_DIR=str(tmp_path / "spool")) as logs:
            await tick(pool, redis, settings)
            [run] = await finished(pool, main)
            [failed] = await finished(pool, revoked)
            # The transient channel used up its tries: the run is dead with a dead letter, the rest final.
            assert run["status"] == "dead", run
            got = await outcomes(pool, run["id"])
            assert got["C0REPORTS"]["status"] == "sent"
            assert got["C0OUTSIDE"]["reason"] == "slack files.completeUploadExternal: not_in_channel"
            assert got["C0MISSING"]["reason"] == "slack files.completeUploadExternal: channel_not_found"
            assert got["C0OUTSIDE"]["permanent"] and got["C0MISSING"]["permanent"]
            assert got["C0FLAKY"]["status"] == "failed" and not got["C0FLAKY"]["permanent"]
            assert slack.rate_limited == 2  # answered 429 twice, retried after Retry-After, then shared
            assert failed["status"] == "failed"
            assert (await outcomes(pool, failed["id"]))["C0REPORTS"]["reason"].endswith("invalid_auth")
            [share] = slack.files("C0REPORTS")
            assert "&lt;script&gt;" in share["initial_comment"] and "<script>" not in share["initial_comment"]

            # Replay once the channel recovers: only the channel that never got the report is served.
            slack.failing.clear()
            letter = await pool.fetchval("SELECT id FROM shared_report_dead_letters WHERE run_id = $1", run["id"])
            replay_id = await deadletters.replay(pool, redis, settings.queue_name, letter)
            runs = await finished(pool, main, runs=2)
            # Partial: the two channels the bot can't post in are still refused.
            assert {r["id"]: r["status"] for r in runs}[replay_id] == "partial"
            assert (await outcomes(pool, replay_id))["C0FLAKY"]["status"] == "sent"
            assert len(slack.files("C0REPORTS")) == 1 and len(slack.files("C0FLAKY")) == 1
            replayed = next(r for r in runs if r["id"] == replay_id)
            # Byte for byte the exported report, in both channels.
            assert share["sha256"] == replayed["content_sha256"] == slack.files("C0FLAKY")[0]["sha256"]
            assert share["filename"] == replayed["filename"]

            # Too large for Slack: the file (and its zip) is refused, the channel is told how to get a smaller one.
            slack.max_upload_bytes = 10
            big = await due(pool, org, "slack-big")
            await seed.destination(pool, vault, org, big, "slack", "C0REPORTS")
            await tick(pool, redis, settings)
            [too_large] = await finished(pool, big)
            assert too_large["status"] == "failed"
            note = (await outcomes(pool, too_large["id"]))["C0REPORTS"]
            assert note["outcome"] == "too_large" and note["notice"] == "sent"
            [message] = [r for r in slack.received if r["method"] == "chat.postMessage"]
            assert "over the" in message["text"] and message["channel_id"] == "C0REPORTS"
    finally:
        await slack.stop()
    assert SLACK_TOKEN not in logs[0] and "xoxb-9999-revoked-token" not in logs[0]
    text = await stored_text(pool)
    assert SLACK_TOKEN not in text and "xoxb-9999" not in text


async def test_sftp_through_the_consumer_process(
    pool: Pool, redis: ArqRedis, settings: Settings, tmp_path: Path
) -> None:
    vault = settings.vault()
    # The test server listens on loopback, which the outbound guard refuses unless told otherwise.
    local_sftp = {"OUTBOUND_ALLOW_PRIVATE": "true", "SPOOL_DIR": str(tmp_path / "spool")}
    server = SftpServer(tmp_path / "sftp", password=SFTP_PASSWORD)
    port = await server.start()
    for name in ("drop", "readonly", "full", "flaky"):
        (tmp_path / "sftp" / name).mkdir(parents=True)
    server.read_only.add("readonly")
    server.full.add("full")
    server.drop_next, server.drop_after_bytes = 1, 100  # the first upload loses its connection midway
    org = await seed.organization(pool)
    for i in range(200):
        await video(pool, org, title=f"video {i}")
    main = await due(pool, org, "sftp-main")

    def config(directory: str, host_key: str | None = None) -> dict[str, Any]:
        return {
            "host": "127.0.0.1",
            "port": port,
            "username": "reports",
            "directory": directory,
            "host_key": host_key or server.public_host_key,
        }

    password = json.dumps({"password": SFTP_PASSWORD})
    key = json.dumps({"private_key": server.private_client_key})
    await seed.destination(pool, vault, org, main, "sftp", "drop", config("drop"), password)
    await seed.destination(pool, vault, org, main, "sftp", "readonly", config("readonly"), key)
    await seed.destination(pool, vault, org, main, "sftp", "full", config("full"), password)
    await seed.destination(pool, vault, org, main, "sftp", "missing", config("missing"), password)
    stranger = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
    await seed.destination(pool, vault, org, main, "sftp", "wrongkey", config("drop", stranger), password)
    await seed.destination(pool, vault, org, main, "sftp", "badpass", config("drop"), '{"password": "nope-nope"}')
    try:
        async with consumer(settings, **local_sftp, DELIVERY_CONCURRENCY="1") as logs:
            await tick(pool, redis, settings)
            [run] = await finished(pool, main)
            got = await outcomes(pool, run["id"])
            # The dropped connection was retried on the run's next try and the file arrived whole.
            assert run["status"] == "partial" and run["attempts"] == 2, (run, got)
            assert got["drop"]["status"] == "sent"
            data = (tmp_path / "sftp" / "drop" / run["filename"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == run["content_sha256"]
            assert [n for n in server.files("drop") if not n.startswith(".")] == [run["filename"]]
            assert "permission denied" in got["readonly"]["reason"]
            assert "refused the write" in got["full"]["reason"]
            assert "no such directory" in got["missing"]["reason"]
            assert "host key does not match" in got["wrongkey"]["reason"]
            assert "authentication failed" in got["badpass"]["reason"]
            assert all(got[k]["permanent"] for k in ("readonly", "full", "missing", "wrongkey", "badpass"))
            assert not server.files("full") and not server.files("readonly")

            # A connection that keeps dropping uses up the tries; replayed later, only it is written.
            flaky = await due(pool, org, "sftp-flaky")
            await seed.destination(pool, vault, org, flaky, "sftp", "drop", config("drop"), password)
            await seed.destination(pool, vault, org, flaky, "sftp", "flaky", config("flaky"), password)
            server.dropping.add("flaky")
            writes_before = len(server.writes)
            await tick(pool, redis, settings)
            [dead] = await finished(pool, flaky)
            assert dead["status"] == "dead"
            server.dropping.clear()
            letter = await pool.fetchval("SELECT id FROM shared_report_dead_letters WHERE run_id = $1", dead["id"])
            replay_id = await deadletters.replay(pool, redis, settings.queue_name, letter)
            runs = await finished(pool, flaky, runs=2)
            assert {r["id"]: r["status"] for r in runs}[replay_id] == "sent"
            new_writes = server.writes[writes_before:]
            # drop: once; flaky: two dropped tries and the replay's write.
            assert sum(w.startswith("drop/") for w in new_writes) == 1, new_writes
            assert sum(w.startswith("flaky/") for w in new_writes) == 3, new_writes
            name = next(r for r in runs if r["id"] == replay_id)["filename"]
            assert server.files("flaky")[name] == server.files("drop")[name]
    finally:
        await server.stop()
    # Too large for the channel: a permanent failure that says how to get a smaller report.
    big = await due(pool, org, "sftp-big")
    await seed.destination(pool, vault, org, big, "sftp", "drop", config("drop"), password)
    await server.start()
    try:
        async with consumer(settings, **local_sftp, SFTP_MAX_BYTES="50") as more_logs:
            await tick(pool, redis, settings)
            [too_large] = await finished(pool, big)
    finally:
        await server.stop()
    assert too_large["status"] == "failed"
    note = (await outcomes(pool, too_large["id"]))["drop"]
    assert note["outcome"] == "too_large" and "over the" in note["notice_detail"]["reason"]
    for text in (logs[0], more_logs[0], await stored_text(pool)):
        assert SFTP_PASSWORD not in text and server.private_client_key.splitlines()[1] not in text


async def test_webhook_through_the_consumer_process(
    pool: Pool, redis: ArqRedis, settings: Settings, tmp_path: Path
) -> None:
    vault = settings.vault()
    receiver = WebhookReceiver(WEBHOOK_SECRET)
    await receiver.start()
    receiver.always.update({"/gone": 410, "/bad": 400, "/moved": 302})
    receiver.answers["/busy"].extend([429, 429])
    receiver.always["/broken"] = 500
    org = await seed.organization(pool)
    for i in range(50):
        await video(pool, org, title=f"video {i}")
    main = await due(pool, org, "hook-main")
    ids = {}
    for path in ("/ok", "/gone", "/bad", "/moved", "/busy", "/broken"):
        url = receiver.url + path
        ids[path] = await seed.destination(pool, vault, org, main, "webhook", url, {"url": url}, WEBHOOK_SECRET)
    try:
        async with consumer(settings, OUTBOUND_ALLOW_PRIVATE="true", SPOOL_DIR=str(tmp_path / "spool")) as logs:
            await tick(pool, redis, settings)
            [run] = await finished(pool, main)
            got = {url.removeprefix(receiver.url): v for url, v in (await outcomes(pool, run["id"])).items()}
            assert run["status"] == "dead", (run, got)
            assert got["/ok"]["status"] == "sent" and got["/busy"]["status"] == "sent"
            assert receiver.rate_limited == 2  # two 429s, waited out, then delivered in the same try
            assert "410 Gone" in got["/gone"]["reason"] and got["/gone"]["permanent"]
            assert "HTTP 400" in got["/bad"]["reason"] and got["/bad"]["permanent"]
            assert "redirects are not followed" in got["/moved"]["reason"]
            assert got["/broken"]["status"] == "failed" and not got["/broken"]["permanent"]
            assert receiver.bad_signatures == 0
            [ok] = receiver.deliveries("/ok")
            meta = ok["metadata"]
            assert ok["id"] == f"{run['id']}.{ids['/ok']}" and not ok["chunked"]
            assert meta["type"] == "report.delivered" and meta["run_id"] == str(run["id"])
            assert meta["schedule_id"] == str(main) and meta["rows"] == 50 and meta["bytes"] == ok["size"]
            assert meta["sha256"] == ok["sha256"] and meta["filename"] == ok["filename"]

            # Recovered receiver, replayed letter: only the endpoint that never got it is called with a file.
            del receiver.always["/broken"]
            letter = await pool.fetchval("SELECT id FROM shared_report_dead_letters WHERE run_id = $1", run["id"])
            replay_id = await deadletters.replay(pool, redis, settings.queue_name, letter)
            await finished(pool, main, runs=2)
            assert (await outcomes(pool, replay_id))[receiver.url + "/broken"]["status"] == "sent"
            assert len(receiver.deliveries("/ok")) == 1 and len(receiver.deliveries("/broken")) == 1
            assert receiver.deliveries("/broken")[0]["sha256"] == ok["sha256"]
    finally:
        pass
    big = await due(pool, org, "hook-big")
    url = receiver.url + "/ok"
    await seed.destination(pool, vault, org, big, "webhook", url, {"url": url}, WEBHOOK_SECRET)
    try:
        async with consumer(
            settings, OUTBOUND_ALLOW_PRIVATE="true", WEBHOOK_MAX_BYTES="50", SPOOL_DIR=str(tmp_path / "spool")
        ) as more_logs:
            await tick(pool, redis, settings, now=datetime.now(UTC))
            [too_large] = await finished(pool, big)
        assert too_large["status"] == "failed"
        [notice] = [d for d in receiver.deliveries("/ok") if "text" in d]
        assert notice["metadata"]["type"] == "report.notice" and "over the" in notice["text"]
        # The SSRF guard, with the setting off: neither a literal loopback nor a name resolving to it is called.
        before = receiver.requests
        blocked = await due(pool, org, "hook-blocked")
        for host in ("127.0.0.1", "localhost"):
            target = f"http://{host}:{receiver.url.rsplit(':', 1)[1]}/ok"
            await seed.destination(pool, vault, org, blocked, "webhook", target, {"url": target}, WEBHOOK_SECRET)
        async with consumer(settings, SPOOL_DIR=str(tmp_path / "spool")) as guard_logs:
            await tick(pool, redis, settings)
            [guard_run] = await finished(pool, blocked)
        guarded = await outcomes(pool, guard_run["id"])
        assert guard_run["status"] == "failed" and receiver.requests == before
        # Plain http is refused before any address is looked at.
        assert all("must use https" in v["reason"] for v in guarded.values()), guarded
    finally:
        await receiver.stop()
    for text in (logs[0], more_logs[0], guard_logs[0], await stored_text(pool)):
        assert WEBHOOK_SECRET not in text and WEBHOOK_SECRET.removeprefix("whsec_") not in text
