"""Run the real entry points as child processes."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Mapping

from shared.settings import Settings


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
