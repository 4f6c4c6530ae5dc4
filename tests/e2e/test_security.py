"""Holes found by probing a running service, closed and checked through the real consumer process: a receiver that
answers with a hostile Retry-After, and SFTP destinations at addresses the service may not reach."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
from arq.connections import ArqRedis

from devkit.fakes.sftp import SftpServer
from devkit.fakes.webhook import WebhookReceiver
from producer.tick import tick
from shared.db import Pool
from shared.settings import Settings
from tests.support import seed
from tests.support.api import token
from tests.support.destinations import SFTP_PASSWORD, WEBHOOK_SECRET
from tests.support.outcomes import due, finished, outcomes
from tests.support.processes import consumer, env_for, start
from tests.support.reports import video
from tests.support.servers import free_port
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e

HOSTILE = {
    "/zero": "0",
    "/negative": "-5",
    "/nan": "nan",
    "/inf": "inf",
    "/exp": "1e9",
    "/far": "999999999",
    "/past": "Sun, 06 Nov 1994 08:49:37 GMT",
}


async def test_a_hostile_retry_after_neither_spins_nor_stalls_the_worker(
    pool: Pool, redis: ArqRedis, settings: Settings, tmp_path: Path
) -> None:
    receiver = WebhookReceiver(WEBHOOK_SECRET)
    receiver.throttled.update(HOSTILE)
    hostile_org, other_org = await seed.organization(pool), await seed.organization(pool)
    for org in (hostile_org, other_org):
        await video(pool, org)
    vault = settings.vault()
    await receiver.start()
    hostile = await due(pool, hostile_org, "hostile")
    for path in HOSTILE:
        url = receiver.url + path
        await seed.destination(pool, vault, hostile_org, hostile, "webhook", url, {"url": url}, WEBHOOK_SECRET)
    try:
        async with consumer(
            settings,
            OUTBOUND_ALLOW_PRIVATE="true",
            RETRY_AFTER_MAX_SECONDS="2",
            SPOOL_DIR=str(tmp_path / "spool"),
        ):
            started = time.monotonic()
            await tick(pool, redis, settings)
            # Once the hostile endpoints are being called, another tenant's report is due.
            while any(receiver.calls[p] == 0 for p in HOSTILE):
                assert time.monotonic() - started < 20, dict(receiver.calls)
                await asyncio.sleep(0.05)
            url = receiver.url + "/ok"
            other = await due(pool, other_org, "other")
            await seed.destination(pool, vault, other_org, other, "webhook", url, {"url": url}, WEBHOOK_SECRET)
            other_due = time.monotonic()
            await tick(pool, redis, settings)
            [other_run] = await finished(pool, other, timeout=30)
            other_took = time.monotonic() - other_due
            [run] = await finished(pool, hostile, timeout=60)
            hostile_took = time.monotonic() - started
    finally:
        await receiver.stop()
    assert other_run["status"] == "sent" and len(receiver.deliveries("/ok")) == 1
    assert other_took < 5, other_took
    # Every hostile endpoint was waited on with a bounded wait: 1 + 3 inline retries on each of the 2 tries.
    assert run["status"] == "dead" and run["attempts"] == 2, run
    assert all(2 <= receiver.calls[p] <= 8 for p in HOSTILE), dict(receiver.calls)
    assert hostile_took < 40, hostile_took
    got = await outcomes(pool, run["id"])
    assert all(v["reason"] == "webhook: 429 Too Many Requests" for v in got.values()), got


async def test_sftp_to_non_public_addresses_is_refused_at_delivery(
    pool: Pool, redis: ArqRedis, settings: Settings, tmp_path: Path
) -> None:
    server = SftpServer(tmp_path / "sftp", password=SFTP_PASSWORD)
    port = await server.start()
    closed = free_port()
    hosts = {
        f"127.0.0.1:{port}": "open port",
        f"127.0.0.1:{closed}": "closed port",
        f"localhost:{port}": "loopback name",
        f"::1:{port}": "IPv6 loopback",
        f"2130706433:{port}": "integer loopback",
        f"0x7f.1:{port}": "hex loopback",
        "169.254.169.254:22": "metadata service",
        "10.0.0.1:22": "private",
    }
    org = await seed.organization(pool)
    await video(pool, org)
    schedule = await due(pool, org, "sftp-guard")
    vault = settings.vault()
    for target in hosts:
        host, _, target_port = target.rpartition(":")
        config = {
            "host": host,
            "port": int(target_port),
            "username": "reports",
            "directory": ".",
            "host_key": server.public_host_key,
        }
        await seed.destination(
            pool, vault, org, schedule, "sftp", target, config, json.dumps({"password": SFTP_PASSWORD})
        )
    try:
        async with consumer(settings, SPOOL_DIR=str(tmp_path / "spool")) as logs:
            await tick(pool, redis, settings)
            [run] = await finished(pool, schedule)
    finally:
        await server.stop()
    got = await outcomes(pool, run["id"])
    assert run["status"] == "failed" and server.connections == 0, (run, got)
    assert set(got) == set(hosts)
    for target, outcome in got.items():
        assert outcome["permanent"] and "non-public address" in outcome["reason"], (hosts[target], outcome)
    # The open and the closed port read the same: the run history is no port scanner.
    assert got[f"127.0.0.1:{port}"]["reason"] == got[f"127.0.0.1:{closed}"]["reason"]
    assert not any(str(p) in got[t]["reason"] for t in got for p in (port, closed))
    assert "ConnectionRefused" not in logs[0] and "ConnectionLost" not in logs[0]


@asynccontextmanager
async def producer(settings: Settings, **extra: str) -> AsyncIterator[str]:
    """A real producer process listening on loopback; yields its base URL."""
    port = free_port()
    env = env_for(settings, PRODUCER_PORT=str(port), PRODUCER_HOST="127.0.0.1", TICK_SECONDS="300", **extra)
    process = await start("producer", env)
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:

            async def up() -> bool:
                try:
                    async with session.get(url + "/healthz") as response:
                        return response.status == 200
                except aiohttp.ClientError:
                    return False

            await wait_for(up, 20, interval=0.1)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(process.communicate(), 20)
        assert process.returncode == 0, err.decode()[-2000:]


async def test_api_answers_carry_safe_headers_and_slow_clients_are_cut_off(pool: Pool, settings: Settings) -> None:
    org = await seed.organization(pool)
    owner = await seed.user(pool, "owner@example.com", org)
    async with producer(settings, HTTP_HEADER_TIMEOUT_SECONDS="1", JWT_MAX_LIFETIME_SECONDS="3600") as url:
        bearer = {"Authorization": f"Bearer {token(owner)}"}
        async with aiohttp.ClientSession() as session:
            for path, headers in (("/v1/schedules", bearer), ("/v1/schedules", {}), ("/nowhere", bearer)):
                async with session.get(url + path, headers=headers) as response:
                    assert response.headers["X-Content-Type-Options"] == "nosniff", path
                    assert response.headers["Cache-Control"] == "no-store", path
                    assert response.headers["Server"] == "scheduled-reports", response.headers["Server"]
            # A request id in a safe shape is kept; any other (here a forged log line) is replaced.
            for offered, kept in (("req-42.a:b_C", True), ("x\u2028injected", False), ("a" * 65, False)):
                async with session.get(url + "/v1/schedules", headers={**bearer, "X-Request-Id": offered}) as r:
                    echoed = r.headers["X-Request-Id"]
                    assert (echoed == offered) is kept and re.fullmatch(r"[A-Za-z0-9._:-]{1,64}", echoed)
            # A token valid for longer than JWT_MAX_LIFETIME_SECONDS is refused, one within it accepted.
            for lifetime, status in ((3500, 200), (7200, 401), (10 * 365 * 86_400, 401)):
                forever = {"Authorization": f"Bearer {token(owner, exp=int(time.time()) + lifetime)}"}
                async with session.get(url + "/v1/schedules", headers=forever) as response:
                    assert response.status == status, (lifetime, await response.text())
        # A client that never finishes its request head is disconnected after HTTP_HEADER_TIMEOUT_SECONDS.
        host, port = url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        started = time.monotonic()
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        await writer.drain()
        try:
            # One header line every 0.2 s, for up to 4 s, unless the server hangs up first.
            for _ in range(20):
                await asyncio.sleep(0.2)
                if reader.at_eof():
                    break
                writer.write(b"X-Slow: 1\r\n")
                await writer.drain()
            answer = await asyncio.wait_for(reader.read(), 5)
        except ConnectionError:
            answer = b""
        assert answer == b"" and time.monotonic() - started < 2.5
        writer.close()
