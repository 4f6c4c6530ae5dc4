"""A schedule with several formats: each channel carries every file of the run in one message or request (one
email per recipient, one signed webhook request, one SFTP session), and one format alone goes out as before.
Real consumer jobs against PostgreSQL and Redis, the Loops fake, aiosmtpd, the webhook receiver and asyncssh."""

from __future__ import annotations

import base64
import email
import email.policy
import hashlib
import io
import json
import zipfile
from collections.abc import AsyncIterator, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from aiosmtpd.controller import Controller
from arq.connections import ArqRedis

from devkit.fakes.sftp import SftpServer
from devkit.fakes.webhook import WebhookReceiver
from shared.db import Pool
from shared.settings import EmailTransport, Settings, SmtpTls
from tests.support import seed
from tests.support.harness import Fakes, drain, point_at
from tests.support.runs import fire, make, notes, run_row
from tests.support.servers import free_port

DAY = "weekly-views-2026-11-16"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SECRET = "whsec_" + base64.b64encode(b"several-files-signing-key-32-by").decode()
SFTP_PASSWORD = "several-files-sftp-password"


async def two_formats(pool: Pool, **columns: Any) -> tuple[UUID, UUID]:
    """A schedule that delivers XLSX and CSV in one run."""
    org, schedule = await make(pool, **columns)
    await pool.execute(
        "UPDATE shared_report_schedules SET format = 'xlsx', extra_formats = '{csv}' WHERE id = $1", schedule
    )
    return org, schedule


async def deliver(pool: Pool, redis: ArqRedis, settings: Settings, spool: Path) -> dict[str, Any]:
    """The schedule fired and its job run to the end by a real consumer; the run as recorded."""
    run_id = await fire(pool, redis, settings)
    await drain(settings, pool, redis, spool)
    return await run_row(pool, run_id)


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def delivered(run: dict[str, Any]) -> list[tuple[str, str, int, str]]:
    """The run's own record of its files: (format, filename, bytes, sha256), in order."""
    return [(f["format"], f["filename"], f["bytes"], f["sha256"]) for f in run["files"]]


async def test_loops_gets_one_email_per_recipient_with_every_file(
    pool: Pool, redis: ArqRedis, settings: Settings, fx: Fakes, tmp_path: Path
) -> None:
    s = point_at(settings, fx)
    await two_formats(pool, emails=("a@example.com", "b@example.com"))
    run = await deliver(pool, redis, s, tmp_path)
    assert (run["status"], run["attempts"], run["filename"]) == ("sent", 1, f"{DAY}.xlsx")
    files = delivered(run)
    assert [(f[0], f[1]) for f in files] == [("xlsx", f"{DAY}.xlsx"), ("csv", f"{DAY}.csv")]
    assert sorted(n["status"] for n in await notes(pool, run["id"])) == ["sent", "sent"]
    # One request per recipient, each under its own idempotency key, each carrying both files.
    assert fx.loops.requests == 2
    assert sorted(m["email"] for m in fx.loops.sent) == ["a@example.com", "b@example.com"]
    for mail in fx.loops.sent:
        assert mail["idempotency_key"] == f"{run['id']}:{mail['email']}"
        got = [(a["filename"], a["contentType"], a["size"], a["sha256"]) for a in mail["attachments"]]
        assert got == [
            (f"{DAY}.xlsx", XLSX, files[0][2], files[0][3]),
            (f"{DAY}.csv", "text/csv", files[1][2], files[1][3]),
        ]
        assert mail["attachments"][0]["data"][:2] == b"PK"
        assert mail["attachments"][1]["data"].startswith(b"title,video_url,")
        variables = mail["dataVariables"]
        assert variables["fileName"] == f"{DAY}.xlsx"
        assert variables["fileNames"] == f"{DAY}.xlsx, {DAY}.csv"
        assert variables["rowCount"] == 3


@pytest.mark.parametrize(("fmt", "attached"), [("csv", f"{DAY}.csv"), ("csv.zip", f"{DAY}.zip")])
async def test_one_format_alone_is_one_attachment_as_before(
    pool: Pool, redis: ArqRedis, settings: Settings, fx: Fakes, tmp_path: Path, fmt: str, attached: str
) -> None:
    s = point_at(settings, fx)
    await make(pool, format=fmt)
    run = await deliver(pool, redis, s, tmp_path)
    assert run["status"] == "sent" and [f[:2] for f in delivered(run)] == [(fmt, attached)]
    [mail] = fx.loops.sent
    [attachment] = mail["attachments"]
    assert attachment["filename"] == attached
    # The run records the exported file: the CSV itself, or the one inside the zip.
    data = attachment["data"]
    if fmt.endswith(".zip"):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            data = archive.read(f"{DAY}.csv")
    assert (len(data), digest(data)) == (run["files"][0]["bytes"], run["files"][0]["sha256"])
    assert mail["dataVariables"]["fileName"] == mail["dataVariables"]["fileNames"] == attached


class Mailbox:
    """What an aiosmtpd server accepted, one parsed message per DATA."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[list[str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        self.envelopes.append(list(envelope.rcpt_tos))
        return "250 OK"


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port, data_size_limit=50 * 1024 * 1024)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


def over_smtp(settings: Settings, fx: Fakes, port: int) -> Settings:
    return point_at(settings, fx).model_copy(
        update={
            "email_transport": EmailTransport.smtp,
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "smtp_tls": SmtpTls.none,
            "email_from": "reports@example.com",
        }
    )


def attachments(message: EmailMessage) -> list[tuple[str | None, str, bytes]]:
    found = []
    for part in message.iter_attachments():
        assert isinstance(part, EmailMessage)
        data = part.get_payload(decode=True)
        assert isinstance(data, bytes)
        found.append((part.get_filename(), part.get_content_type(), data))
    return found


def bodies(message: EmailMessage) -> tuple[str, str]:
    plain, rich = message.get_body(("plain",)), message.get_body(("html",))
    assert plain is not None and rich is not None
    return str(plain.get_content()), str(rich.get_content())


async def test_smtp_delivers_one_message_with_every_file(
    pool: Pool, redis: ArqRedis, settings: Settings, fx: Fakes, tmp_path: Path, mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    s = over_smtp(settings, fx, port)
    await two_formats(pool)
    run = await deliver(pool, redis, s, tmp_path)
    assert run["status"] == "sent"
    files = delivered(run)
    [message] = box.messages
    assert box.envelopes == [["a@example.com"]]
    got = attachments(message)
    assert [(name, kind) for name, kind, _ in got] == [(f"{DAY}.xlsx", XLSX), (f"{DAY}.csv", "text/csv")]
    assert [(len(data), digest(data)) for _, _, data in got] == [(f[2], f[3]) for f in files]
    plain, rich = bodies(message)
    assert f"Attached: {DAY}.xlsx, {DAY}.csv with 3 rows (2026-11-16)." in plain
    assert f"Attached: <b>{DAY}.xlsx</b>, <b>{DAY}.csv</b> with 3 rows (2026-11-16)." in rich


@pytest.mark.parametrize(("fmt", "attached"), [("csv", f"{DAY}.csv"), ("csv.zip", f"{DAY}.zip")])
async def test_smtp_with_one_format_reads_as_before(
    pool: Pool,
    redis: ArqRedis,
    settings: Settings,
    fx: Fakes,
    tmp_path: Path,
    mailbox: tuple[Mailbox, int],
    fmt: str,
    attached: str,
) -> None:
    box, port = mailbox
    s = over_smtp(settings, fx, port)
    await make(pool, format=fmt)
    await deliver(pool, redis, s, tmp_path)
    [message] = box.messages
    [(name, _, _)] = attachments(message)
    assert name == attached
    plain, rich = bodies(message)
    # The text names the report's file, as it always did (the CSV, also when it goes zipped).
    assert f"Attached: {DAY}.csv with 3 rows (2026-11-16)." in plain
    assert f"Attached: <b>{DAY}.csv</b> with 3 rows (2026-11-16)." in rich


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    hooks = WebhookReceiver(SECRET)
    await hooks.start()
    try:
        yield hooks
    finally:
        await hooks.stop()


async def hook(pool: Pool, settings: Settings, org: UUID, schedule: UUID, receiver: WebhookReceiver) -> UUID:
    url = receiver.url + "/reports"
    return await seed.destination(pool, settings.vault(), org, schedule, "webhook", url, {"url": url}, SECRET)


async def test_a_webhook_gets_one_signed_request_with_a_part_per_file(
    pool: Pool, redis: ArqRedis, settings: Settings, fx: Fakes, tmp_path: Path, receiver: WebhookReceiver
) -> None:
    s = point_at(settings, fx, outbound_allow_private=True)
    org, schedule = await two_formats(pool, emails=(), send_email=False)
    destination = await hook(pool, s, org, schedule, receiver)
    run = await deliver(pool, redis, s, tmp_path)
    assert run["status"] == "sent"
    files = delivered(run)
    # One request, its signature verified by the receiver over the whole body.
    assert receiver.requests == 1 and receiver.bad_signatures == 0
    [request] = receiver.deliveries("/reports")
    assert request["id"] == f"{run['id']}.{destination}"
    parts = [(p["filename"], p["content_type"], p["size"], p["sha256"]) for p in request["files"]]
    assert parts == [
        (f"{DAY}.xlsx", XLSX, files[0][2], files[0][3]),
        (f"{DAY}.csv", "text/csv", files[1][2], files[1][3]),
    ]
    meta = request["metadata"]
    assert meta["files"] == [
        {"filename": name, "content_type": kind, "bytes": size, "sha256": sha} for name, kind, size, sha in parts
    ]
    # The fields a one-file receiver reads describe the first file, as before.
    assert (meta["type"], meta["run_id"], meta["schedule_id"]) == ("report.delivered", str(run["id"]), str(schedule))
    assert (meta["filename"], meta["bytes"], meta["sha256"], meta["rows"]) == (
        f"{DAY}.xlsx",
        files[0][2],
        files[0][3],
        3,
    )
    assert (request["filename"], request["size"]) == (f"{DAY}.xlsx", files[0][2])


async def test_a_webhook_with_one_format_is_one_file_part_as_before(
    pool: Pool, redis: ArqRedis, settings: Settings, fx: Fakes, tmp_path: Path, receiver: WebhookReceiver
) -> None:
    s = point_at(settings, fx, outbound_allow_private=True)
    org, schedule = await make(pool, emails=(), send_email=False)
    await hook(pool, s, org, schedule, receiver)
    run = await deliver(pool, redis, s, tmp_path)
    [request] = receiver.deliveries("/reports")
    [part] = request["files"]
    meta = request["metadata"]
    assert (part["filename"], part["size"], part["sha256"]) == (
        run["filename"],
        run["byte_count"],
        run["content_sha256"],
    )
    assert (meta["filename"], meta["bytes"], meta["sha256"]) == (part["filename"], part["size"], part["sha256"])
    assert meta["files"] == [
        {"filename": run["filename"], "content_type": "text/csv", "bytes": part["size"], "sha256": part["sha256"]}
    ]


@pytest.fixture
async def sftp_server(tmp_path: Path) -> AsyncIterator[SftpServer]:
    server = SftpServer(tmp_path / "sftp", password=SFTP_PASSWORD)
    await server.start()
    (tmp_path / "sftp" / "drop").mkdir()
    try:
        yield server
    finally:
        await server.stop()


async def to_drop(
    pool: Pool, redis: ArqRedis, settings: Settings, fx: Fakes, spool: Path, server: SftpServer, *, several: bool
) -> dict[str, Any]:
    """A run of a schedule (XLSX and CSV, or CSV alone) whose one recipient is the server's drop directory."""
    s = point_at(settings, fx, outbound_allow_private=True)
    org, schedule = await (two_formats if several else make)(pool, emails=(), send_email=False)
    config = {
        "host": "127.0.0.1",
        "port": server.port,
        "username": "reports",
        "directory": "drop",
        "host_key": server.public_host_key,
    }
    secret = json.dumps({"password": SFTP_PASSWORD})
    await seed.destination(pool, s.vault(), org, schedule, "sftp", "drop", config, secret)
    return await deliver(pool, redis, s, spool)


async def test_sftp_writes_every_file_in_one_session(
    pool: Pool, redis: ArqRedis, settings: Settings, fx: Fakes, tmp_path: Path, sftp_server: SftpServer
) -> None:
    run = await to_drop(pool, redis, settings, fx, tmp_path, sftp_server, several=True)
    assert run["status"] == "sent"
    files = delivered(run)
    stored = sftp_server.files("drop")
    # Both files, whole, and no temporary name left behind; one connection for both.
    assert sorted(stored) == sorted(f[1] for f in files)
    assert [(len(stored[f[1]]), digest(stored[f[1]])) for f in files] == [(f[2], f[3]) for f in files]
    assert sftp_server.connections == 1
    assert [w.rsplit(".", 3)[0] for w in sftp_server.writes] == [f"drop/.{DAY}", f"drop/.{DAY}"]
    [note] = await notes(pool, run["id"])
    assert note["status"] == "sent"
    assert note["payload"]["uploaded"] == [f"drop/{DAY}.xlsx", f"drop/{DAY}.csv"]


async def test_sftp_fails_when_a_later_file_fails_and_says_what_arrived(
    pool: Pool, redis: ArqRedis, settings: Settings, fx: Fakes, tmp_path: Path, sftp_server: SftpServer
) -> None:
    sftp_server.room_for = 1  # the disk fills up after the first file
    run = await to_drop(pool, redis, settings, fx, tmp_path, sftp_server, several=True)
    assert (run["status"], run["attempts"]) == ("failed", 1)
    [note] = await notes(pool, run["id"])
    assert note["status"] == "failed" and "refused the write" in note["payload"]["reason"]
    assert note["payload"]["uploaded"] == [f"drop/{DAY}.xlsx"]
    # The first file is in place, whole; of the second, not even its temporary name is left.
    assert list(sftp_server.files("drop")) == [f"{DAY}.xlsx"]
    assert digest(sftp_server.files("drop")[f"{DAY}.xlsx"]) == run["files"][0]["sha256"]


async def test_sftp_with_one_format_writes_one_file_as_before(
    pool: Pool, redis: ArqRedis, settings: Settings, fx: Fakes, tmp_path: Path, sftp_server: SftpServer
) -> None:
    run = await to_drop(pool, redis, settings, fx, tmp_path, sftp_server, several=False)
    assert run["status"] == "sent"
    assert list(sftp_server.files("drop")) == [run["filename"]]
    [note] = await notes(pool, run["id"])
    payload = {k: v for k, v in note["payload"].items() if k in ("provider", "path", "bytes", "uploaded")}
    assert payload == {"provider": "sftp", "path": f"drop/{run['filename']}", "bytes": run["byte_count"]}


async def test_loops_notice_after_part_of_the_report_is_its_own_email(
    pool: Pool, redis: ArqRedis, settings: Settings, fx: Fakes, tmp_path: Path
) -> None:
    # The XLSX is over the limit even zipped; the CSV fits.
    s = point_at(settings, fx, email_max_attachment_bytes=2000)
    await two_formats(pool, emails=("a@example.com",))
    run = await deliver(pool, redis, s, tmp_path)
    [note] = await notes(pool, run["id"])
    # Not the whole report: the recipient is not served, and the log says what went.
    assert (run["status"], note["status"], note["payload"]["reason"]) == ("failed", "failed", "too_large")
    assert note["payload"]["delivered"] == [f"{DAY}.csv"] and note["payload"]["notice"] == "sent"
    # (The schedule's creator is told of the failed run too.)
    report, notice = [r for r in fx.loops.received if r["email"] == "a@example.com"]
    assert [a["filename"] for a in report["attachments"]] == [f"{DAY}.csv"] and notice["attachments"] == []
    assert f"as {DAY}.xlsx.zip has 3 rows" in notice["dataVariables"]["note"]
    # Under the report's key the provider would have dropped the notice as a repeat.
    assert report["idempotency_key"] == f"{run['id']}:a@example.com"
    assert notice["idempotency_key"].startswith(f"{run['id']}:notice-") and "duplicate" not in notice


async def test_a_webhook_notice_after_part_of_the_report_has_its_own_id(
    pool: Pool, redis: ArqRedis, settings: Settings, fx: Fakes, tmp_path: Path, receiver: WebhookReceiver
) -> None:
    s = point_at(settings, fx, outbound_allow_private=True, webhook_max_bytes=2000)
    org, schedule = await two_formats(pool, emails=(), send_email=False)
    destination = await hook(pool, s, org, schedule, receiver)
    run = await deliver(pool, redis, s, tmp_path)
    files = delivered(run)
    report, notice = receiver.deliveries("/reports")
    assert report["id"] == f"{run['id']}.{destination}" and notice["id"].startswith(f"{report['id']}.notice-")
    # The first part is the CSV: the metadata's fields all describe it.
    meta = report["metadata"]
    assert (meta["filename"], meta["bytes"], meta["sha256"]) == (f"{DAY}.csv", files[1][2], files[1][3])
    assert notice["metadata"]["type"] == "report.notice" and f"as {DAY}.xlsx.zip" in notice["text"]


async def test_two_zipped_formats_are_two_zips_of_distinct_names(
    pool: Pool, redis: ArqRedis, settings: Settings, fx: Fakes, tmp_path: Path
) -> None:
    s = point_at(settings, fx)
    org, schedule = await make(pool, emails=("a@example.com",), format="csv.zip")
    await pool.execute("UPDATE shared_report_schedules SET extra_formats = '{xlsx.zip}' WHERE id = $1", schedule)
    run = await deliver(pool, redis, s, tmp_path)
    assert run["status"] == "sent"
    assert [(f[0], f[1]) for f in delivered(run)] == [("csv.zip", f"{DAY}.csv.zip"), ("xlsx.zip", f"{DAY}.xlsx.zip")]
    [mail] = fx.loops.sent
    inside = []
    for attachment in mail["attachments"]:
        with zipfile.ZipFile(io.BytesIO(attachment["data"])) as archive:
            inside += archive.namelist()
    assert [a["filename"] for a in mail["attachments"]] == [f"{DAY}.csv.zip", f"{DAY}.xlsx.zip"]
    assert inside == [f"{DAY}.csv", f"{DAY}.xlsx"]


async def test_a_receiver_that_refuses_both_files_together_gets_the_one_that_fits_and_a_notice(
    pool: Pool, redis: ArqRedis, settings: Settings, fx: Fakes, tmp_path: Path, receiver: WebhookReceiver
) -> None:
    # Each file is within WEBHOOK_MAX_BYTES, but the receiver answers 413 to any request over 3,000 bytes:
    # both files, then both zipped, are refused; the XLSX's zip is left out and the CSV's goes alone.
    receiver.max_body_bytes = 3000
    s = point_at(settings, fx, outbound_allow_private=True)
    org, schedule = await two_formats(pool, emails=(), send_email=False)
    destination = await hook(pool, s, org, schedule, receiver)
    run = await deliver(pool, redis, s, tmp_path)
    [note] = await notes(pool, run["id"])
    assert (run["status"], note["status"], note["payload"]["reason"]) == ("failed", "failed", "too_large")
    assert note["payload"]["delivered"] == [f"{DAY}.csv.zip"] and note["payload"]["notice"] == "sent"
    assert receiver.calls["/reports"] == 4  # together, zipped together, the CSV's zip alone, the notice
    report, notice = receiver.deliveries("/reports")
    assert [p["filename"] for p in report["files"]] == [f"{DAY}.csv.zip"]
    assert report["id"] == f"{run['id']}.{destination}" and notice["id"].startswith(f"{report['id']}.notice-")
    assert f"as {DAY}.xlsx.zip has 3 rows" in notice["text"] and "provider accepts" in notice["text"]
