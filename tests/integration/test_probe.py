"""The container health check against real HTTP servers: the right process on its port passes; another process
on that port, or nothing, fails."""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from shared import health


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def serving() -> AsyncIterator[dict[str, int]]:
    runners, ports = [], {}
    for service in ("producer", "consumer"):
        app = web.Application()
        app.router.add_get("/healthz", health.healthz(service))
        runner = web.AppRunner(app)
        await runner.setup()
        ports[service] = free_port()
        await web.TCPSite(runner, "127.0.0.1", ports[service]).start()
        runners.append(runner)
    yield ports
    for runner in runners:
        await runner.cleanup()


async def probe(service: str, env: dict[str, str]) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "shared.probe", service, env=env, stderr=asyncio.subprocess.PIPE
    )
    _, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, err.decode()


async def test_probe_accepts_only_its_own_process(serving: dict[str, int]) -> None:
    assert await probe("producer", {"PRODUCER_PORT": str(serving["producer"])}) == (0, "")
    assert await probe("consumer", {"CONSUMER_PORT": str(serving["consumer"])}) == (0, "")
    # The producer answering on the consumer's port is not a healthy consumer.
    code, err = await probe("consumer", {"CONSUMER_PORT": str(serving["producer"])})
    assert code == 1 and "not as the consumer" in err
    code, err = await probe("producer", {"PRODUCER_PORT": str(free_port())})
    assert code == 1 and "Connection refused" in err
