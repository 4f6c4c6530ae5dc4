"""The intent-before-send guarantee needs durable commits: a consumer started on a database with
synchronous_commit off says so at start, and one on a durable database does not."""

from __future__ import annotations

import asyncio
import signal
import sys
from urllib.parse import urlsplit

from shared.db import Pool, commit_durability_warning, create_pool
from shared.settings import Settings
from tests.support.processes import env_for
from tests.support.servers import free_port


async def _consumer_start_log(settings: Settings) -> str:
    env = env_for(settings, CONSUMER_PORT=str(free_port()))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "consumer", env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        async with asyncio.timeout(30):
            while line := (await proc.stdout.readline()).decode():
                lines.append(line)
                if "consumer listening" in line:
                    break
    finally:
        proc.send_signal(signal.SIGTERM)
        rest, _ = await asyncio.wait_for(proc.communicate(), 30)
    return "".join(lines) + rest.decode()


async def test_a_consumer_warns_at_start_when_commits_are_not_durable(pool: Pool, settings: Settings) -> None:
    assert await commit_durability_warning(pool) is None
    assert "synchronous_commit" not in await _consumer_start_log(settings)
    name = urlsplit(settings.dsn).path.lstrip("/")
    await pool.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    fresh = await create_pool(settings.dsn, max_size=1)
    try:
        warning = await commit_durability_warning(fresh)
    finally:
        await fresh.close()
    assert warning is not None and "synchronous_commit is off" in warning
    log = await _consumer_start_log(settings)
    assert "synchronous_commit is off for this database" in log and "WARNING" in log, log
