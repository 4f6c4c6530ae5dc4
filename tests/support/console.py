"""The console's browser tests: Debian's Chromium driven by Playwright, against real producer and consumer processes
started on this test's database, with the Loops and Telegram fakes."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import aiohttp
import jwt
import pytest

from shared.settings import Settings
from tests.support.harness import Fakes
from tests.support.processes import env_for

SECRET = "test-secret-please-change-0123456789"
INSTALL = "Chromium is not installed: `apt-get install chromium` (Debian) runs the console's browser tests"


def chromium_path() -> str:
    """Debian's Chromium; without it the browser tests skip with one line, except under CI where they fail."""
    path = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        if os.environ.get("CI"):
            pytest.fail(INSTALL + " (CI must run them)")
        pytest.skip(INSTALL)
    return path


def token(sub: UUID | None, *, exp: float | None = None, role: str | None = None) -> str:
    claims: dict[str, Any] = {"aud": "authenticated", "exp": int(exp or time.time() + 3600)}
    if sub is not None:
        claims["sub"] = str(sub)
    if role:
        claims["role"] = role
    return jwt.encode(claims, SECRET, algorithm="HS256")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Service:
    url: str
    logs: list[Path] = field(default_factory=list)

    def log_text(self) -> str:
        return "".join(p.read_text(errors="replace") for p in self.logs if p.exists())


@asynccontextmanager
async def service(settings: Settings, fakes: Fakes, tmp_path: Path, **extra: str) -> AsyncIterator[Service]:
    """The real producer (API, console, scheduler) and consumer processes, stopped with SIGTERM afterwards."""
    port = free_port()
    env = env_for(
        settings,
        PRODUCER_HOST="127.0.0.1",
        PRODUCER_PORT=str(port),
        CONSUMER_HOST="127.0.0.1",
        CONSUMER_PORT=str(free_port()),
        LOOPS_API_URL=fakes.loops.url,
        TELEGRAM_API_URL=fakes.telegram.url,
        TELEGRAM_CHAT_INTERVAL_SECONDS="0",
        TELEGRAM_GROUP_INTERVAL_SECONDS="0",
        SPOOL_DIR=str(tmp_path / "spool"),
        TICK_SECONDS="1",
        LOG_LEVEL="DEBUG",
        **extra,
    )
    logs = [tmp_path / "producer.log", tmp_path / "consumer.log"]
    procs = []
    for module, log in zip(("producer", "consumer"), logs, strict=True):
        with log.open("wb") as handle:
            procs.append(
                await asyncio.create_subprocess_exec(
                    sys.executable, "-m", module, env=env, stdout=handle, stderr=asyncio.subprocess.STDOUT
                )
            )
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            deadline = time.monotonic() + 30
            while True:
                try:
                    async with http.get(f"{url}/healthz") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    pass
                if time.monotonic() > deadline or procs[0].returncode is not None:
                    raise AssertionError("the producer did not start:\n" + logs[0].read_text(errors="replace"))
                await asyncio.sleep(0.1)
        yield Service(url, logs)
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.terminate()
        for proc in procs:
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                proc.kill()
                await proc.wait()
