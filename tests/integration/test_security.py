"""What the service refuses or neutralises so that no tenant can reach inside its network, plant a formula
in a spreadsheet, or break a message header."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from uuid import UUID, uuid4

import asyncssh
import pytest
from aiohttp.test_utils import TestClient, TestServer
from arq.connections import ArqRedis

from consumer.app import create_app as consumer_app
from consumer.channels import sftp as sftp_channel
from consumer.channels import smtp
from consumer.channels.outcome import Attachment
from consumer.destinations import Destination
from devkit.fakes.sftp import SftpServer
from producer.app import create_app
from shared.db import Pool
from shared.settings import EmailTransport, Settings, SmtpTls
from tests.support.api import Api, World, body, token
from tests.support.destinations import PASSWORD, sftp
from tests.support.harness import Fakes, drain, point_at
from tests.support.reports import video
from tests.support.runs import fire, make
from tests.support.servers import free_port
from tests.support.smtp import Handler, smtp_settings

NON_PUBLIC_HOSTS = [
    "127.0.0.1",
    "localhost",
    "reports.localhost",
    "[::1]",
    "2130706433",
    "0x7f.1",
    "127.1",
    "169.254.169.254",
    "10.0.0.1",
    "192.168.1.20",
    "[::ffff:127.0.0.1]",
    "[64:ff9b::a9fe:a9fe]",
    "[fec0::1]",
    "[ff02::1]",
]


@pytest.mark.parametrize("host", NON_PUBLIC_HOSTS)
async def test_sftp_to_a_non_public_host_is_refused_at_create(api: Api, world: World, host: str) -> None:
    status, answer = await api.call("POST", "/v1/destinations", sftp(organization_id=str(world.org), host=host))
    assert status == 422, answer
    message = answer["error"]["message"]
    assert message.startswith("host:") and "non-public address" in message, message
    assert PASSWORD not in str(answer)


async def test_sftp_to_a_public_name_is_accepted(api: Api, world: World) -> None:
    for host in ("files.example.com", "8.8.8.8", "[2001:4860:4860::8888]"):
        status, answer = await api.call("POST", "/v1/destinations", sftp(organization_id=str(world.org), host=host))
        assert status == 201, (host, answer)


@pytest.mark.parametrize("host", ["2130706433", "0x7f.1", "[64:ff9b::a9fe:a9fe]", "[ff02::1]", "localhost"])
async def test_webhooks_to_other_forms_of_non_public_hosts_are_refused(api: Api, world: World, host: str) -> None:
    body = {
        "channel": "webhook",
        "organization_id": str(world.org),
        "url": f"https://{host}/hook",
        "secret": "whsec_" + "A" * 43 + "=",
    }
    status, answer = await api.call("POST", "/v1/destinations", body)
    assert status == 422 and "non-public address" in answer["error"]["message"], answer


async def test_the_csv_formula_guard_is_a_schedule_option_on_by_default(api: Api, world: World) -> None:
    status, created = await api.call("POST", "/v1/schedules", body(world))
    assert status == 201 and created["csv_formula_guard"] is True, created
    status, off = await api.call("POST", "/v1/schedules", body(world, csv_formula_guard=False))
    assert status == 201 and off["csv_formula_guard"] is False
    status, patched = await api.call("PATCH", f"/v1/schedules/{off['id']}", {"name": "for a program"})
    assert status == 200 and patched["csv_formula_guard"] is False
    status, patched = await api.call("PATCH", f"/v1/schedules/{off['id']}", {"csv_formula_guard": True})
    assert status == 200 and patched["csv_formula_guard"] is True
    status, answer = await api.call("PATCH", f"/v1/schedules/{off['id']}", {"csv_formula_guard": "no"})
    assert status == 422 and "csv_formula_guard" in answer["error"]["message"]


@pytest.mark.parametrize(
    ("guard", "cell"),
    [(True, b'"\'=HYPERLINK(""http://evil.example"")"'), (False, b'"=HYPERLINK(""http://evil.example"")"')],
)
async def test_the_consumer_sends_the_csv_the_schedule_option_asks_for(
    pool: Pool, redis: ArqRedis, settings: Settings, fx: Fakes, tmp_path: Path, guard: bool, cell: bytes
) -> None:
    s = point_at(settings, fx)
    org, _ = await make(pool, videos=0, csv_formula_guard=guard)
    await video(pool, org, title='=HYPERLINK("http://evil.example")')
    await fire(pool, redis, s)
    await drain(s, pool, redis, tmp_path)
    data: Any = fx.loops.sent[0]["attachments"][0]["data"]
    assert data.split(b"\n")[1].startswith(cell + b","), data


HOSTILE_TITLE = "Hi\r\nBcc: victim@evil.example\u2028X-Injected: 1"


async def test_a_line_break_in_a_subject_never_costs_the_run(
    pool: Pool, redis: ArqRedis, settings: Settings, fx: Fakes, tmp_path: Path, server: tuple[Handler, int]
) -> None:
    handler, port = server
    s = point_at(settings, fx).model_copy(
        update={
            "email_transport": EmailTransport.smtp,
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "smtp_tls": SmtpTls.none,
        }
    )
    # A template stored before separators were refused at create, and a creator's title with CR/LF in it.
    _, schedule = await make(pool, videos=0, subject_template="{{ top_title }}\u2029weekly")
    await pool.execute("UPDATE shared_report_schedules SET name = $2 WHERE id = $1", schedule, "Name\u2028two")
    org = await pool.fetchval("SELECT organization_id FROM shared_report_schedules WHERE id = $1", schedule)
    await video(pool, org, title=HOSTILE_TITLE)
    run_id = await fire(pool, redis, s)
    await drain(s, pool, redis, tmp_path)
    run = await pool.fetchrow("SELECT status FROM shared_report_runs WHERE id = $1", run_id)
    states = await pool.fetch("SELECT status FROM shared_report_notifications WHERE run_id = $1", run_id)
    assert run["status"] == "sent" and [r["status"] for r in states] == ["sent"]
    [message] = handler.messages
    assert message["Subject"] == "Hi Bcc: victim@evil.example X-Injected: 1 weekly"
    assert message["Bcc"] is None and message["X-Injected"] is None


async def test_a_header_the_mail_library_refuses_fails_the_recipient_not_the_run(
    server: tuple[Handler, int], tmp_path: Path
) -> None:
    handler, port = server
    outcome = await smtp.send(
        smtp_settings(port), to="a@example.com\r\nBcc: b@example.com", subject="Report", text="hi"
    )
    assert outcome.kind == "permanent" and "could not be built" in outcome.detail["reason"], outcome
    assert handler.messages == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("subject_template", "Weekly\u2028Bcc: x@evil.example"),
        ("subject_template", "Weekly\u2029report"),
        ("subject_template", "Weekly\r\nreport"),
        ("subject_template", "Weekly\x85report"),
        ("name", "Weekly\u2028report"),
        ("message_template", "Line one\u2028line two"),
    ],
)
async def test_line_separators_in_literal_template_text_are_refused_at_create(
    api: Api, world: World, field: str, value: str
) -> None:
    status, answer = await api.call("POST", "/v1/schedules", body(world, **{field: value}))
    assert status == 422 and answer["error"]["message"].startswith(field), answer


async def test_a_message_template_keeps_its_lines(api: Api, world: World) -> None:
    status, created = await api.call("POST", "/v1/schedules", body(world, message_template="Hello,\n\n{{ rows }} rows"))
    assert status == 201 and created["message_template"] == "Hello,\n\n{{ rows }} rows"


@pytest.mark.parametrize(
    "url", ["https://reports:hunter2-secret@hooks.example.com/in", "https://hunter2-secret@hooks.example.com/in"]
)
async def test_credentials_in_a_webhook_url_are_refused(api: Api, world: World, url: str) -> None:
    hook = {"channel": "webhook", "organization_id": str(world.org), "url": url, "secret": "whsec_" + "A" * 43 + "="}
    status, answer = await api.call("POST", "/v1/destinations", hook)
    assert status == 422 and answer["error"]["message"].startswith("url:"), answer
    assert "user name or password" in answer["error"]["message"] and "hunter2" not in str(answer)


async def test_manual_runs_and_replays_are_limited_per_schedule_and_per_organization(
    world: World, pool: Pool, settings: Settings
) -> None:
    limited = settings.model_copy(
        update={"manual_runs_per_schedule": 3, "manual_runs_per_organization": 5, "manual_run_window_seconds": 60}
    )
    async with TestClient(TestServer(create_app(limited, run_scheduler=False))) as client:
        owner = Api(client, token(world.owner))
        first = (await owner.call("POST", "/v1/schedules", body(world)))[1]["id"]
        second = (await owner.call("POST", "/v1/schedules", body(world)))[1]["id"]
        # A request refused for its content uses up nothing.
        stranger = {"recipients": [{"channel": "email", "user_id": str(world.other_owner)}]}
        assert (await owner.call("POST", f"/v1/schedules/{first}/run", stranger))[0] == 422
        assert [(await owner.call("POST", f"/v1/schedules/{first}/run"))[0] for _ in range(3)] == [202] * 3
        status, refused, headers = await _call_with_headers(client, owner, f"/v1/schedules/{first}/run")
        assert status == 429 and refused["error"]["code"] == "too_many_requests", refused
        assert 1 <= int(headers["Retry-After"]) <= 60 and "3 per schedule" in refused["error"]["message"]
        # Another schedule of the organization has its own count, until the organization's is used up.
        assert [(await owner.call("POST", f"/v1/schedules/{second}/run"))[0] for _ in range(3)] == [202, 202, 429]
        # A resend (a dead letter's replay) is a manual run too.
        run_id = await pool.fetchval("SELECT id FROM shared_report_runs WHERE schedule_id = $1 LIMIT 1", UUID(first))
        dead = await pool.fetchval(
            "INSERT INTO shared_report_dead_letters (run_id, organization_id, job_id, payload, error) "
            "VALUES ($1, $2, 'j', (SELECT message FROM shared_report_runs WHERE id = $1), 'e') RETURNING id",
            run_id,
            world.org,
        )
        assert (await owner.call("POST", f"/v1/dead-letters/{dead}/replay"))[0] == 429
        # Refused asks leave nothing behind; another organization is not held up.
        assert await pool.fetchval("SELECT count(*) FROM shared_report_runs") == 5
        other = Api(client, token(world.other_owner))
        body_other = {**body(world), "shared_link_id": str(world.other_link)}
        theirs = (await other.call("POST", "/v1/schedules", body_other))[1]["id"]
        assert (await other.call("POST", f"/v1/schedules/{theirs}/run"))[0] == 202


async def _call_with_headers(client: TestClient, api: Api, path: str) -> tuple[int, Any, Any]:
    async with client.post(path, headers={"Authorization": f"Bearer {api.bearer}"}) as response:
        return response.status, await response.json(), response.headers


async def test_recipients_outside_the_schedule_are_recorded_in_the_run(api: Api, world: World, pool: Pool) -> None:
    schedule = (await api.call("POST", "/v1/schedules", body(world, send_telegram=True)))[1]["id"]
    chosen = [
        {"channel": "email", "email": "A@acme.example"},  # the schedule's own recipient
        {"channel": "email", "email": "member@acme.example"},  # a member of the organization
        {"channel": "email", "user_id": str(world.owner)},
        {"channel": "email", "email": "someone@victim.example"},
        {"channel": "telegram", "telegram_chat_id": 777},
    ]
    status, accepted = await api.call("POST", f"/v1/schedules/{schedule}/run", {"recipients": chosen})
    assert status == 202, accepted
    status, history = await api.call("GET", f"/v1/schedules/{schedule}/runs")
    [run] = history["items"]
    assert run["outside_recipients"] == ["email:someone@victim.example", "telegram:777"]
    assert run["requested_by"] == str(world.owner)
    # A run of the schedule's own recipients has nothing outside.
    status, _ = await api.call("POST", f"/v1/schedules/{schedule}/run")
    newest = (await api.call("GET", f"/v1/schedules/{schedule}/runs"))[1]["items"][0]
    assert newest["outside_recipients"] == [] and newest["requested_by"] == str(world.owner)
    # A member may not run a schedule at all, let alone to outside addresses.
    member = Api(api.client, token(world.member))
    status, answer = await member.call("POST", f"/v1/schedules/{schedule}/run", {"recipients": chosen[3:4]})
    assert status == 403, answer


@pytest.mark.parametrize("line_end", ["\n", "\r\n"])
async def test_an_sftp_private_key_is_accepted_as_its_file_text(
    api: Api, world: World, pool: Pool, settings: Settings, line_end: str
) -> None:
    key = asyncssh.generate_private_key("ssh-ed25519")
    for text in (key.export_private_key().decode(), key.export_private_key("pkcs8-pem").decode()):
        pem = text.replace("\n", line_end)
        payload = sftp(organization_id=str(world.org), password=None, private_key=pem)
        status, created = await api.call("POST", "/v1/destinations", payload)
        assert status == 201, created
        stored = await pool.fetchval("SELECT secret FROM shared_report_destinations WHERE id = $1", UUID(created["id"]))
        secret = json.loads(settings.vault().decrypt(stored))
        assert asyncssh.import_private_key(secret["private_key"]).public_data == key.public_data
        await api.call("DELETE", f"/v1/destinations/{created['id']}")
    # Other control characters are still refused.
    bad = sftp(organization_id=str(world.org), password=None, private_key=pem.replace("-----END", "\x07-----END"))
    status, answer = await api.call("POST", "/v1/destinations", bad)
    assert status == 422 and "U+0007" in answer["error"]["message"]


async def test_sftp_connects_to_the_next_checked_address_when_one_refuses(tmp_path: Path) -> None:
    server = SftpServer(tmp_path / "sftp", password="pw-for-the-test")
    port = await server.start()
    config = {"host": "files.internal", "port": port, "username": "reports", "host_key": server.public_host_key}
    destination = Destination(uuid4(), uuid4(), "sftp", "files.internal", config, '{"password": "pw-for-the-test"}')
    try:
        # Nothing listens on 127.0.0.2 (the server is bound to 127.0.0.1): the next address takes it.
        async with await sftp_channel._connect(destination, Settings(), ["127.0.0.2", "127.0.0.1"]) as conn:
            assert conn is not None
        assert server.connections == 1
        with pytest.raises(sftp_channel.NoSession):
            await sftp_channel._connect(destination, Settings(), ["127.0.0.2"])
    finally:
        await server.stop()


async def test_the_consumer_answers_with_the_same_safe_headers(pool: Pool, redis: ArqRedis, settings: Settings) -> None:
    worker = SimpleNamespace(health_check_key="none", redis_up=True)
    async with TestClient(TestServer(consumer_app(settings, pool, redis, worker))) as client:
        for path in ("/healthz", "/readyz", "/metrics"):
            async with client.get(path) as response:
                assert response.headers["X-Content-Type-Options"] == "nosniff"
                assert response.headers["Cache-Control"] == "no-store"
                assert response.headers["Server"] == "scheduled-reports"


async def test_sftp_failures_before_a_session_read_the_same_whatever_listens(tmp_path: Path) -> None:
    async def not_ssh(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        writer.close()
        await writer.wait_closed()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the client gives up
        writer.close()
        await writer.wait_closed()

    servers = [await asyncio.start_server(handler, "127.0.0.1", 0) for handler in (not_ssh, silent)]
    ports = [s.sockets[0].getsockname()[1] for s in servers] + [free_port()]
    report = tmp_path / "r.csv"
    report.write_bytes(b"a\n")
    settings = Settings(outbound_allow_private=True, sftp_timeout_seconds=1)
    key = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
    reasons = []
    try:
        for port in ports:
            config = {"host": "127.0.0.1", "port": port, "username": "u", "host_key": key}
            destination = Destination(uuid4(), uuid4(), "sftp", "t", config, '{"password": "p"}')
            outcome = await sftp_channel.upload(
                destination, settings, [Attachment(report, "r.csv", "text/csv", 2)], "r"
            )
            assert outcome.kind == "transient", outcome
            reasons.append(outcome.detail["reason"])
    finally:
        for server in servers:
            server.close()
            await server.wait_closed()
    assert reasons == [sftp_channel.NO_SESSION] * 3, reasons
