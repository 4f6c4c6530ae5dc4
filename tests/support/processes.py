"""Run the real entry points as child processes."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

from shared.settings import Settings
from tests.support.harness import fakes


def env_for(settings: Settings, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": settings.dsn,
            "REDIS_URL": settings.redis_dsn,
            "JWT_SECRET": "test-secret-please-change-0123456789",
            "LOOPS_API_KEY": "loops-test-key",
            "LOOPS_TRANSACTIONAL_ID": "tx-report",
            "TELEGRAM_BOT_TOKEN": "123456:TEST",
            "LOG_FORMAT": "text",
            "QUEUE_NAME": settings.queue_name,
            "CREDENTIALS_KEYS": settings.credentials_keys.get_secret_value() if settings.credentials_keys else "",
        }
    )
    env.update(extra)
    return env


async def run_module(module: str, *args: str, env: Mapping[str, str], timeout: float = 60) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        module,
        *args,
        env=dict(env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def start(module: str, env: dict[str, str], *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        module,
        *args,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )


@asynccontextmanager
async def consumer(settings: Settings, **extra: str) -> AsyncIterator[list[str]]:
    """A real consumer process; yields a list that holds its stderr once it has stopped."""
    async with fakes(Path("/nonexistent")) as fx:
        env = env_for(
            settings,
            LOOPS_API_URL=fx.loops.url,
            TELEGRAM_API_URL=fx.telegram.url,
            CONSUMER_PORT="0",
            MAX_TRIES="2",
            RETRY_BASE_SECONDS="0.2",
            RETRY_CAP_SECONDS="0.5",
            LEASE_SECONDS="5",
            **extra,
        )
        process = await start("consumer", env)
        logs: list[str] = []
        try:
            yield logs
        finally:
            process.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(process.communicate(), 30)
            logs.append(err.decode())
            assert process.returncode == 0, logs[0][-3000:]
