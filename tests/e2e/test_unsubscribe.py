"""One-click unsubscribe end to end: a real SMTP server (aiosmtpd) receives the headers, a one-click POST through
the producer suppresses the address, a real consumer process skips it next time, and an owner lifts it."""

from __future__ import annotations

import asyncio
import base64
import email
import re
import signal
from collections.abc import AsyncIterator, Iterator
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from aiosmtpd.controller import Controller
from pydantic import SecretStr

from producer.app import create_app
from shared import unsubscribe
from shared.db import Pool
from shared.settings import Settings
from tests.support import seed
from tests.support.api import Api, World, body, token
from tests.support.outcomes import final_run as _final
from tests.support.processes import env_for, start
from tests.support.reports import video
from tests.support.servers import free_port

pytestmark = pytest.mark.e2e

BASE = "https://reports.example.com"
SECRET = "unsubscribe-secret-for-tests-0123456789"


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.original_content))
        return "250 OK"


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    handler, port = Inbox(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[TestClient]:
    linked = settings.model_copy(update={"public_base_url": BASE, "unsubscribe_secret": SecretStr(SECRET)})
    async with TestClient(TestServer(create_app(linked, run_scheduler=False))) as c:
        yield c


def smtp_env(settings: Settings, port: int, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = env_for(
        settings,
        EMAIL_TRANSPORT="smtp",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(port),
        SMTP_TLS="none",
        EMAIL_FROM="reports@acme.example",
        CONSUMER_PORT="0",
        SPOOL_DIR=str(tmp_path / "spool"),
        **extra,
    )
    for name in ("PUBLIC_BASE_URL", "UNSUBSCRIBE_SECRET"):
        if name not in extra:
            env.pop(name, None)
    return env


def text_of(message: Message) -> str:
    parts = [p.get_payload(decode=True) for p in message.walk() if p.get_content_type() == "text/plain"]
    return b"".join(p for p in parts if isinstance(p, bytes)).decode()


async def post(api: Api, path: str, data: Any) -> tuple[int, str]:
    async with api.client.post(path, data=data) as response:
        return response.status, await response.text()


async def test_one_click_unsubscribe_end_to_end(
    api: Api, world: World, pool: Pool, settings: Settings, tmp_path: Path, inbox: tuple[Inbox, int]
) -> None:
    mailbox, port = inbox
    await video(pool, world.org, title="only video")
    team = [{"channel": "email", "email": "Leaver@Acme.example"}, {"channel": "email", "email": "stays@acme.example"}]
    status, created = await api.call("POST", "/v1/schedules", body(world, recipients=team))
    assert status == 201, created
    sid = created["id"]
    env = smtp_env(settings, port, tmp_path, PUBLIC_BASE_URL=BASE, UNSUBSCRIBE_SECRET=SECRET)
    consumer = await start("consumer", env)
    try:
        status, accepted = await api.call("POST", f"/v1/schedules/{sid}/run")
        assert (await _final(pool, accepted["run_id"]))["status"] == "sent"
        by_to = {m["To"].lower(): m for m in mailbox.messages}
        assert set(by_to) == {"leaver@acme.example", "stays@acme.example"}
        leaver = by_to["leaver@acme.example"]
        header = leaver["List-Unsubscribe"]
        assert leaver["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        match = re.fullmatch(rf"<{re.escape(BASE)}(/u/[A-Za-z0-9_-]+)>", header)
        assert match, header
        path = match.group(1)
        assert f"Unsubscribe: {BASE}{path}" in text_of(leaver)
        # The token shows no address, in clear or base64.
        raw = base64.urlsafe_b64decode(path[3:] + "==")
        assert b"leaver" not in raw.lower() and "leaver" not in path.lower()
        assert by_to["stays@acme.example"]["List-Unsubscribe"] != header

        # The confirmation page, and forged or altered tokens: the same answers, and nothing recorded.
        forged = [
            path[:-2] + ("AA" if not path.endswith("AA") else "BB"),
            "/u/" + "A" * 86,
            "/u/not-a-token",
            "/u/" + unsubscribe.token("another-secret-0123456789-0123456789", world.org, world.org, "x@y.z"),
        ]
        async with api.client.get(path) as page:
            real_page = await page.text()
            assert page.status == 200 and "all reports from this organization" in real_page
            assert page.headers["Referrer-Policy"] == "no-referrer"
        for fake in forged:
            async with api.client.get(fake) as page:
                assert page.status == 200 and await page.text() == real_page
            assert await post(api, fake, {"List-Unsubscribe": "One-Click"}) == (
                200,
                (await post(api, path[:-1] + "!", {}))[1],
            )
        assert await pool.fetchval("SELECT count(*) FROM shared_report_unsubscribes") == 0

        # The one-click POST (RFC 8058), without authentication.
        status, text = await post(api, path, {"List-Unsubscribe": "One-Click"})
        assert status == 200 and "unsubscribed" in text
        assert (
            await pool.fetchval("SELECT count(*) FROM shared_report_unsubscribes WHERE schedule_id = $1", created["id"])
            == 1
        )
        # ... answered exactly like a forged one.
        assert (await post(api, forged[0], {"List-Unsubscribe": "One-Click"}))[1] == text
        _, schedule = await api.call("GET", f"/v1/schedules/{sid}")
        flags = {r["email"]: r["unsubscribed_at"] for r in schedule["recipients"]}
        assert flags["stays@acme.example"] is None and flags["Leaver@Acme.example"] is not None

        # The next run skips the address.
        mailbox.messages.clear()
        status, accepted = await api.call("POST", f"/v1/schedules/{sid}/run")
        assert (await _final(pool, accepted["run_id"]))["status"] == "sent"
        assert [m["To"] for m in mailbox.messages] == ["stays@acme.example"]
        _, history = await api.call("GET", f"/v1/schedules/{sid}/runs?limit=1")
        log = {n["recipient"]: n["status"] for n in history["items"][0]["notifications"]}
        assert log == {"leaver@acme.example": "unsubscribed", "stays@acme.example": "sent"}

        # Only an owner lifts it, audited; then the address gets the report again.
        admin = await seed.user(pool, "admin@acme.example", world.org, "admin")
        lift = f"/v1/schedules/{sid}/unsubscribes/lift"
        status, refused = await api.call("POST", lift, {"email": "leaver@acme.example"}, bearer=token(admin))
        assert status == 403, refused
        assert (await api.call("POST", lift, {"email": "stays@acme.example"}))[0] == 422
        assert (await api.call("POST", lift, {"email": "LEAVER@acme.example"}))[0] == 204
        row = await pool.fetchrow("SELECT * FROM shared_report_audit_log WHERE action = 'unsubscribe.lift'")
        assert row["actor"] == str(world.owner) and row["changes"]["unsubscribed"]["before"] == ["schedule"]
        mailbox.messages.clear()
        status, accepted = await api.call("POST", f"/v1/schedules/{sid}/run")
        assert (await _final(pool, accepted["run_id"]))["status"] == "sent"
        assert sorted(m["To"].lower() for m in mailbox.messages) == ["leaver@acme.example", "stays@acme.example"]

        # "All reports from this organization" covers the organization's other schedules too.
        status, other = await api.call("POST", "/v1/schedules", body(world, recipients=team[:1]))
        assert (await post(api, path, {"scope": "organization"}))[0] == 200
        mailbox.messages.clear()
        status, accepted = await api.call("POST", f"/v1/schedules/{other['id']}/run")
        assert (await _final(pool, accepted["run_id"]))["status"] == "skipped"
        assert mailbox.messages == []
    finally:
        consumer.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(consumer.communicate(), 30)
    assert consumer.returncode == 0, err.decode()[-2000:]
    assert SECRET not in err.decode()


async def test_without_public_base_url_no_header_and_one_warning(
    api: Api, world: World, pool: Pool, settings: Settings, tmp_path: Path, inbox: tuple[Inbox, int]
) -> None:
    mailbox, port = inbox
    await video(pool, world.org, title="only video")
    status, created = await api.call("POST", "/v1/schedules", body(world))
    env = smtp_env(settings, port, tmp_path, LOG_LEVEL="INFO")
    consumer = await start("consumer", env)
    try:
        status, accepted = await api.call("POST", f"/v1/schedules/{created['id']}/run")
        assert (await _final(pool, accepted["run_id"]))["status"] == "sent"
    finally:
        consumer.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(consumer.communicate(), 30)
    [message] = mailbox.messages
    assert message["List-Unsubscribe"] is None and "Unsubscribe" not in text_of(message)
    assert err.decode().count("PUBLIC_BASE_URL is not set") == 1
    # A base URL without the secret to sign its links stops the process, naming the setting.
    stopped = await start("consumer", {**env, "PUBLIC_BASE_URL": BASE})
    _, err = await asyncio.wait_for(stopped.communicate(), 30)
    assert stopped.returncode == 2 and "UNSUBSCRIBE_SECRET" in err.decode()


async def test_the_endpoint_is_rate_limited_the_same_for_any_token(settings: Settings) -> None:
    limited = settings.model_copy(
        update={"public_base_url": BASE, "unsubscribe_secret": SecretStr(SECRET), "unsubscribe_rate_per_minute": 3}
    )
    async with TestClient(TestServer(create_app(limited, run_scheduler=False))) as c:
        answers = []
        for path in ("/u/a", "/u/b", "/u/c", "/u/d", "/u/e"):
            async with c.post(path, data={"List-Unsubscribe": "One-Click"}) as response:
                answers.append(response.status)
        async with c.get("/u/f") as response:
            answers.append(response.status)
            assert response.headers["Retry-After"] == "60"
    assert answers == [200, 200, 200, 429, 429, 429]
